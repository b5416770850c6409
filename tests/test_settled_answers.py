"""A settled round's questions answered in Python give the rows DuckDB's views give.

``reports._settled`` answers ``round_state``, ``metric_direction`` and
``trial_best`` without DuckDB. Each test writes real rounds through the scopes
(or the repository, for a split resumed by two writers), then asks every
question both ways -- a reader that has no DuckDB session yet, and one that
has -- and compares the rows.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import arrowscope as asc
from _rounds import split_resumed_by_two_writers
from arrowscope.reports import Reader
from arrowscope.reports import _settled as settled_module
from arrowscope.reports._settled import SettledRound, settled_parts
from arrowscope.store import ParquetRepository, Repository
from test_score_rules import METRICS, RoundPlan, rounds, run

KEY = ("p", "c", 0)


def questions(metrics: tuple[str, ...] = METRICS) -> list[tuple[str, dict[str, Any]]]:
    """Every query of ``_settled.QUERIES`` with each metric and direction."""
    params: dict[str, Any] = dict(zip(("project", "client", "round"), KEY, strict=True))
    asked: list[tuple[str, dict[str, Any]]] = [("round_state", params)]
    for metric in (*metrics, "never-logged"):
        asked.append(("metric_direction", {**params, "metric": metric}))
        for higher in (False, True):
            asked.append(("trial_best", {**params, "metric": metric, "higher": higher}))
    return asked


def same_rows(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    if len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def assert_both_ways_agree(repository: Repository, metrics: tuple[str, ...] = METRICS) -> None:
    """Ask every question without DuckDB and with it; the rows must be the same."""
    assert settled_parts(repository, *KEY), "the round is not settled: nothing would be compared"
    python = Reader(repository)
    duck = Reader(repository)
    duck.session  # noqa: B018 -- opening the session makes every query go to DuckDB
    for query, params in questions(metrics):
        from_python = python.rows(query, **params)
        assert python._session is None, f"{query} opened a DuckDB session"
        from_duckdb = duck.rows(query, **params)
        assert same_rows(from_python, from_duckdb), (query, params, from_python, from_duckdb)
    duck.session.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=rounds())
def test_random_rounds_get_the_same_answers_both_ways(plan: RoundPlan) -> None:
    """Failed and re-opened trials, replaced retrain splits, NaN, ties, both directions."""
    with tempfile.TemporaryDirectory() as tmp:
        root = asc.Root.at(Path(tmp) / "runs", flush_interval=0)
        run(plan, root)
        root.close()
        repository = ParquetRepository(Path(tmp) / "runs")
        try:
            assert_both_ways_agree(repository)
        finally:
            repository.close()


def test_a_split_resumed_by_two_writers_combines_their_summaries(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    split_resumed_by_two_writers(runs, [0.5, 0.25, float("nan"), 0.25, 0.75, 0.125])
    repository = ParquetRepository(runs)
    assert Reader(repository).rows("trial_best", **_params("loss", higher=False)) == [
        (0, "SUCCESS", '{"x":1}', 0.125)
    ]
    assert_both_ways_agree(repository, ("loss",))
    repository.close()


def test_a_round_whose_writer_was_killed(killed_writer: tuple[Path, int]) -> None:
    """Its log segments become parts and its scopes end ABORTED; then the round is settled."""
    runs, _pid = killed_writer
    repository = ParquetRepository(runs)  # recovers the segments, aborts the orphans
    rows = Reader(repository).rows("trial_best", **_params("acc", higher=True))
    assert [row[:2] for row in rows] == [(0, "SUCCESS")]
    assert_both_ways_agree(repository, ("acc",))
    repository.close()


def test_after_compaction_the_answers_stay(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for _ in range(3):  # three writers, each with its parts
        root = asc.Root.at(runs, flush_interval=0)
        with root.get_project("p") as project, project.get_client("c") as client:
            rnd = client.resume_last_round() if len(client) else client.new_round("acc")
            with rnd as r:
                r.with_optimizer(asc.RandomSearch(seed=1), asc.HyperparameterSpace({}))
                with r.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("acc", higher_score_is_better=True) as m:
                        m.add_valid_result(time.perf_counter() % 1)
        root.close()
    repository = ParquetRepository(runs)
    before = Reader(repository).rows("trial_best", **_params("acc", higher=True))
    parts_before = settled_parts(repository, *KEY) or ()
    repository.compact()
    assert len(settled_parts(repository, *KEY) or ()) < len(parts_before)
    assert Reader(repository).rows("trial_best", **_params("acc", higher=True)) == before
    assert_both_ways_agree(repository, ("acc",))
    repository.close()


def test_a_round_with_rows_not_in_parts_goes_to_duckdb(tmp_path: Path) -> None:
    root = asc.Root.at(tmp_path / "runs", flush_interval=60)
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round("acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
            with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                with split.managed_metric("acc", higher_score_is_better=True) as m:
                    m.add_valid_result(0.5)
            assert settled_parts(root.repository, *KEY) is None  # still buffered here
            reader = Reader(root.repository)
            assert reader.rows("trial_best", **_params("acc", higher=True))[0][0] == 0
            assert reader._session is not None
            reader.session.close()
    root.close()


def test_format_1_and_large_rounds_go_to_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = ParquetRepository(Path(__file__).with_name("data") / "format1")
    parts = settled_parts(old, "vision", "resnet", 0)
    assert parts and SettledRound.from_parts(parts) is None
    old.close()

    root = asc.Root.at(tmp_path / "runs", flush_interval=0)
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round("acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
            for _ in range(3):
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("acc", higher_score_is_better=True) as m:
                        m.add_valid_result(0.5)
    root.close()
    repository = ParquetRepository(tmp_path / "runs")
    parts = settled_parts(repository, *KEY)
    assert parts and SettledRound.from_parts(parts) is not None
    monkeypatch.setattr(settled_module, "MAX_EVENTS", 5)
    assert SettledRound.from_parts(parts) is None
    reader = Reader(repository)
    assert reader.rows("trial_best", **_params("acc", higher=True))[0][0] == 0
    assert reader._session is not None
    reader.session.close()
    repository.close()


def test_resuming_a_round_for_its_best_trial_never_imports_duckdb(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    root = asc.Root.at(runs, flush_interval=0)
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round("loss") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
            for value in (0.5, 0.25, 0.75):
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("loss", higher_score_is_better=False) as m:
                        m.add_valid_result(value)
    root.close()
    script = textwrap.dedent(
        """
        import sys
        import arrowscope as asc
        root = asc.Root.at(sys.argv[1])
        with root.get_project("p") as p, p.get_client("c") as c, c.resume_last_round() as rnd:
            print(rnd.get_best_trial_id(), rnd.main_metric_name, "duckdb" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(runs)], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1", "loss", "False"]


def _params(metric: str, higher: bool) -> dict[str, Any]:
    return {"project": "p", "client": "c", "round": 0, "metric": metric, "higher": higher}
