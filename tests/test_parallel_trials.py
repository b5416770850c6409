"""Trials of one round in parallel: a process pool, a Dask cluster, the run_trial recipe."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

import arrowscope as asc
from _parallel import (
    DATA,
    N_EPOCHS,
    N_FOLDS,
    SPACE,
    automl,
    check_round,
    failing_objective,
    objective,
)
from arrowscope.automl import AutoML, KFoldCrossValidationSplitter, run_trial


def _new_round(directory: Path) -> int:
    with asc.Root.at(directory).default_project() as p, p.default_client() as c:
        with c.new_round("mse") as rnd:
            return rnd.round_number


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """Two fresh worker processes, shared by this module's tests."""
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        yield executor


# -- real worker processes -----------------------------------------------------------------
@pytest.mark.slow
def test_automl_trials_on_its_own_process_pool(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    result = automl(directory, 8, n_jobs=2).fit(DATA)
    assert result.best_trial_number == check_round(directory, result.round_number, 8)
    assert len(result.report) == 8
    # The workers closed their repositories at exit: plain Parquet readers see every value.
    files = [str(f) for f in directory.glob("metrics/**/*.parquet")]
    ((count,),) = duckdb.sql(
        "select count(*) from read_parquet($f)", params={"f": files}
    ).fetchall()
    assert count == 8 * N_FOLDS * 2 * N_EPOCHS
    assert not list(directory.glob("**/*.arrows"))


@pytest.mark.slow
def test_run_trial_recipe_on_a_process_pool(tmp_path: Path, pool: ProcessPoolExecutor) -> None:
    directory = tmp_path / "runs"
    number = _new_round(directory)
    search = asc.RandomSearch(seed=3)
    futures = [
        pool.submit(
            run_trial,
            directory,
            "default_project",
            "default_client",
            number,
            objective,
            DATA,
            space=SPACE,
            optimizer=search.spawn(),
            epochs=N_EPOCHS,
            splitter=KFoldCrossValidationSplitter(N_FOLDS),
        )
        for _ in range(6)
    ]
    outcomes = [f.result(timeout=120) for f in futures]
    assert sorted(o.trial_number for o in outcomes) == list(range(6))
    best = check_round(directory, number, 6)
    scores = {o.trial_number: o.score for o in outcomes}
    assert min(scores, key=lambda t: (scores[t], t)) == best


@pytest.mark.slow
def test_automl_trials_on_a_dask_cluster(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    directory = tmp_path / "runs"
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",  # not 8787, which another cluster may hold
        host="127.0.0.1",
    )
    with cluster, Client(cluster) as client:
        search = automl(directory, 8, executor=client.get_executor())
        first = search.fit(DATA)
        second = search.fit(DATA)  # a second round from the same workers
    assert (first.round_number, second.round_number) == (0, 1)
    assert first.best_trial_number == check_round(directory, 0, 8)
    assert second.best_trial_number == check_round(directory, 1, 8)


# -- in this process: threads, errors and options ---------------------------------------
def test_a_failing_trial_stops_the_search_and_raises(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    with ThreadPoolExecutor(2) as threads:  # each thread opens its own repository
        search = AutoML(
            failing_objective,
            SPACE,
            root=directory,
            main_metric="mse",
            n_trials=6,
            refit_best_trial=False,
            show_progress=False,
            executor=threads,
            n_jobs=2,
        )
        with pytest.raises(SystemError, match="worker failed"):
            search.fit(DATA)
    statuses = asc.connect(directory).sql("select status from trials").fetchall()
    # The two trials started before the first error ended FAILED; no other one began.
    assert 1 <= len(statuses) <= 3
    assert {s for (s,) in statuses} == {"FAILED"}


def test_run_trial_numbers_trials_densely_and_needs_an_existing_round(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    with pytest.raises(asc.RoundNotFoundError, match="create it"):
        run_trial(directory, "p", "c", None, objective, DATA, space=SPACE)
    number = _new_round(directory)
    outcomes = [
        run_trial(
            directory,
            "default_project",
            "default_client",
            None,
            objective,
            DATA,
            space=SPACE,
            epochs=N_EPOCHS,
            splitter=KFoldCrossValidationSplitter(N_FOLDS),
        )
        for _ in range(3)
    ]
    assert [o.trial_number for o in outcomes] == [0, 1, 2]
    assert all(o.round_number == number and o.status is asc.TrialStatus.SUCCESS for o in outcomes)
    check_round(directory, number, 3)
    with pytest.raises(asc.RoundNotFoundError, match="round 5"):
        run_trial(directory, "default_project", "default_client", 5, objective, DATA, space=SPACE)


def test_parallel_options_are_checked() -> None:
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs"):
            automl(Path("unused"), 2, n_jobs=bad)
    in_memory = AutoML(
        objective,
        SPACE,
        root=asc.Root.in_memory(),
        main_metric="mse",
        n_trials=2,
        n_jobs=2,
        show_progress=False,
    )
    with pytest.raises(ValueError, match="in-memory"):
        in_memory.fit(DATA)


def test_spawned_random_searches_are_reproducible_and_distinct() -> None:
    space = asc.HyperparameterSpace(SPACE)
    first = [asc.RandomSearch(seed=1).spawn() for _ in range(2)]
    parent = asc.RandomSearch(seed=1)
    children = [parent.spawn() for _ in range(4)]
    draws = [c.find_next_best_hyperparams([], space).to_json() for c in children]
    assert len(set(draws)) == 4
    assert first[0].seed == first[1].seed == children[0].seed
