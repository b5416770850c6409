"""OptunaSearch: conversions, determinism, stored history across processes, bad input."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState  # noqa: E402

import arrowscope  # noqa: E402
import arrowscope as asc  # noqa: E402
from arrowscope.optuna import OptunaSearch, UnsupportedDistributionError  # noqa: E402
from arrowscope.optuna._distributions import param_value, space_to_optuna  # noqa: E402

WORKER = Path(__file__).with_name("_optuna_worker.py")
SRC = Path(arrowscope.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_conversions() -> None:
    space = asc.HyperparameterSpace(
        {
            "u": asc.Uniform(-1.0, 2.0),
            "lu": asc.LogUniform(1e-4, 1e-1),
            "i": asc.RandInt(2, 9),
            "c": asc.Choice(["a", 3, None]),
            "b": asc.Boolean(),
            "q": asc.Quantized(asc.Uniform(0.0, 1.0), 0.25),
            "n": asc.Normal(0.0, 1.0, low=-2.0, high=2.0),
            "ln": asc.LogNormal(0.0, 1.0, low=0.1, high=10.0),
            "fixed": 7,
        }
    )
    assert space_to_optuna(space) == {
        "b": CategoricalDistribution([False, True]),
        "c": CategoricalDistribution(["a", 3, None]),
        "i": IntDistribution(2, 9),
        "ln": FloatDistribution(0.1, 10.0, log=True),
        "lu": FloatDistribution(1e-4, 1e-1, log=True),
        "n": FloatDistribution(-2.0, 2.0),
        "q": FloatDistribution(0.0, 1.0, step=0.25),
        "u": FloatDistribution(-1.0, 2.0),
    }


@pytest.mark.parametrize(
    ("dist", "says"),
    [
        (asc.Normal(0.0, 1.0), "give both bounds"),
        (asc.LogNormal(0.0, 1.0, low=0.1), "give both bounds"),
        (asc.Quantized(asc.LogUniform(1.0, 100.0), 1.0), "steps only linear ranges"),
        (asc.Choice([True, 1]), "cannot tell"),
    ],
)
def test_distributions_optuna_cannot_express(dist: object, says: str) -> None:
    with pytest.raises(UnsupportedDistributionError, match=says) as info:
        space_to_optuna(asc.HyperparameterSpace({"p": dist}))
    assert info.value.key == "p" and isinstance(info.value, ValueError)


def test_stored_values_back_to_params() -> None:
    assert param_value(IntDistribution(0, 5), 3.0) == 3
    assert param_value(CategoricalDistribution([1, "1"]), "1") == "1"
    assert param_value(CategoricalDistribution([None, "a"]), None) is None
    missing = param_value(FloatDistribution(0.0, 1.0), 2.0)
    assert missing is param_value(IntDistribution(0, 5), 2.5)


def run_round(
    root: asc.Root, search: OptunaSearch, space: asc.HyperparameterSpace, n: int
) -> list[dict[str, object]]:
    proposals = []
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        rnd.with_optimizer(search, space)
        for _ in range(n):
            with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                hps = trial.get_hyperparams()
                proposals.append(dict(hps))
                with split.managed_metric("loss", higher_score_is_better=False) as m:
                    m.add_valid_result((hps["x"] - 0.3) ** 2 + (0.5 if hps["c"] == "b" else 0.0))
    return proposals


SPACE = asc.HyperparameterSpace({"x": asc.Uniform(-1.0, 1.0), "c": asc.Choice(["a", "b"])})


@pytest.mark.parametrize(
    "make_sampler",
    [
        lambda: optuna.samplers.TPESampler(seed=3, n_startup_trials=4),
        lambda: optuna.samplers.TPESampler(seed=3, n_startup_trials=4, multivariate=True),
        lambda: optuna.samplers.CmaEsSampler(seed=3, n_startup_trials=4),
        lambda: optuna.samplers.RandomSampler(seed=3),
        lambda: optuna.samplers.QMCSampler(seed=3),
        lambda: optuna.samplers.NSGAIISampler(seed=3, population_size=4),
    ],
    ids=["tpe", "tpe-multivariate", "cmaes", "random", "qmc", "nsga2"],
)
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:.*CmaEsSampler.*:UserWarning")
def test_every_light_sampler_is_deterministic(make_sampler) -> None:
    first = run_round(asc.Root.in_memory(), OptunaSearch(make_sampler()), SPACE, 8)
    second = run_round(asc.Root.in_memory(), OptunaSearch(make_sampler()), SPACE, 8)
    assert first == second
    assert len({json.dumps(h, sort_keys=True) for h in first}) >= 6  # GA offspring may repeat
    assert all(-1.0 <= h["x"] <= 1.0 and h["c"] in ("a", "b") for h in first)


@pytest.mark.parametrize("multivariate", [False, True])
def test_proposals_are_optunas_own(multivariate: bool) -> None:
    """Through the stored round, TPE proposes exactly what Optuna's own ask/tell loop does."""

    def sampler() -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=0, n_startup_trials=5, multivariate=multivariate)

    search = OptunaSearch(sampler())
    proposals = run_round(asc.Root.in_memory(), search, SPACE, 20)
    study = optuna.create_study(sampler=sampler())
    expected = []
    for _ in range(20):
        trial = study.ask(space_to_optuna(SPACE))
        expected.append(dict(trial.params))
        x, c = trial.params["x"], trial.params["c"]
        study.tell(trial, (x - 0.3) ** 2 + (0.5 if c == "b" else 0.0))
    assert proposals == expected
    completed = [t for t in search.study.trials if t.state is TrialState.COMPLETE]
    assert len(completed) == 19  # the last trial is told at the next proposal


def test_failed_nan_and_running_trials(caplog: pytest.LogCaptureFixture) -> None:
    space = asc.HyperparameterSpace({"x": asc.Uniform(0.0, 1.0)})
    search = OptunaSearch(optuna.samplers.RandomSampler(seed=0))
    root = asc.Root.in_memory()
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        rnd.with_optimizer(search, space)
        with rnd.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("loss", False) as m:
                m.add_valid_result(0.5)
        with rnd.new_rvs_trial(continue_on_error=True) as t, t.new_validation_split() as s:
            raise RuntimeError("diverged")
        with rnd.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("loss", False) as m:
                m.add_valid_result(math.nan)  # the objective returned NaN
        with rnd.new_rvs_trial() as running:
            search.find_next_best_hyperparams(rnd, space)
            states = [t.state for t in search.study.trials]
            assert states[:4] == [
                TrialState.COMPLETE,
                TrialState.FAIL,
                TrialState.FAIL,
                TrialState.RUNNING,
            ]
            assert search.study.trials[3].params == {"x": running.get_hyperparams()["x"]}
        # The NaN is stored as logged; the trial is SUCCESS without a score.
        db = asc.connect(root)
        assert db.sql("select status, score from trials where trial = 2").fetchall() == [
            ("SUCCESS", None)
        ]
        value = db.sql("select value from metrics where trial = 2").fetchall()[0][0]
        assert math.isnan(value)


def test_space_change_keeps_fitting_trials(caplog: pytest.LogCaptureFixture) -> None:
    wide = asc.HyperparameterSpace({"x": asc.Uniform(0.0, 10.0), "c": asc.Choice(["a", "b"])})
    narrow = asc.HyperparameterSpace({"x": asc.Uniform(0.0, 1.0), "c": asc.Choice(["a", "b"])})
    search = OptunaSearch(optuna.samplers.TPESampler(seed=0, n_startup_trials=2))
    root = asc.Root.in_memory()
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        for space in (wide, narrow):
            rnd.with_optimizer(search, space)
            for _ in range(4):
                with rnd.new_rvs_trial() as t, t.new_validation_split() as s:
                    with s.managed_metric("loss", False) as m:
                        m.add_valid_result(t.get_hyperparams()["x"])
        with caplog.at_level(logging.WARNING, logger="arrowscope.optuna"):
            proposal = search.find_next_best_hyperparams(rnd, narrow)
    assert 0.0 <= proposal["x"] <= 1.0
    stored = [t.get_hyperparams()["x"] for t in rnd]
    study_x = [t.params.get("x") for t in search.study.trials[:8]]
    assert study_x == [x if x <= 1.0 else None for x in stored]
    assert "no value in the current space for ['x']" in caplog.text


def test_round_without_main_metric_is_refused() -> None:
    root = asc.Root.in_memory()
    with root.default_project() as p, p.default_client() as c, c.new_round() as rnd:
        rnd.with_optimizer(OptunaSearch(), SPACE)
        with pytest.raises(ValueError, match="needs the metric to optimize"):
            with rnd.new_rvs_trial():
                pass


def test_multi_objective_nsga2() -> None:
    space = asc.HyperparameterSpace({"x": asc.Uniform(0.0, 1.0)})
    search = OptunaSearch(
        optuna.samplers.NSGAIISampler(seed=0, population_size=4), metrics=["f1", "f2"]
    )
    root = asc.Root.in_memory()
    with root.default_project() as p, p.default_client() as c, c.new_round("f1") as rnd:
        rnd.with_optimizer(search, space)
        for _ in range(9):
            with rnd.new_rvs_trial() as t, t.new_validation_split() as s:
                x = t.get_hyperparams()["x"]
                with s.managed_metric("f1", False) as m:
                    m.add_valid_result(x**2)
                with s.managed_metric("f2", True) as m:
                    m.add_valid_result(x)
    assert [d.name for d in search.study.directions] == ["MINIMIZE", "MAXIMIZE"]
    complete = [t for t in search.study.trials if t.state is TrialState.COMPLETE]
    assert len(complete) == 8 and all(len(t.values) == 2 for t in complete)


def _worker(directory: Path, n_trials: int, seed: int) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(WORKER), str(directory), str(n_trials), str(seed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_second_process_proposes_from_the_first_ones_trials(tmp_path: Path) -> None:
    first = _worker(tmp_path, 6, seed=1)
    second = _worker(tmp_path, 0, seed=2)
    finished = [t for t in first["trials"] if t["state"] == "COMPLETE"]
    assert len(finished) == 6  # the 6th was told when the worker proposed once more
    # The first worker's final proposal was not used: no trial of the round has it.
    resumed = [t for t in second["trials"] if t["state"] == "COMPLETE"]
    assert [(t["params"], t["value"]) for t in resumed] == [
        (t["params"], t["value"]) for t in finished
    ]
    assert second["trials"][-1]["state"] == "RUNNING"  # its own proposal


def test_compacted_parts_are_not_read_twice(tmp_path: Path) -> None:
    space = asc.HyperparameterSpace({"x": asc.Uniform(0.0, 1.0)})
    root = asc.Root.at(tmp_path / "runs")
    for _ in range(3):  # three rounds' worth of parts in one round: resume it each time
        with root.default_project() as p, p.default_client() as c:
            with c.optim_round(False, "loss") as rnd:
                rnd.with_optimizer(asc.RandomSearch(0), space)
                for _ in range(4):
                    with rnd.new_rvs_trial() as t, t.new_validation_split() as s:
                        with s.managed_metric("loss", False) as m:
                            m.add_valid_result(t.get_hyperparams()["x"])
    search = OptunaSearch(optuna.samplers.RandomSampler(seed=0))
    with root.default_project() as p, p.default_client() as c, c.resume_last_round() as rnd:
        search.find_next_best_hyperparams(rnd, space)
        before = [(t.state, t.value) for t in search.study.trials[:-1]]
        assert len(before) == 12 and root.repository.compact() > 0
        search.find_next_best_hyperparams(rnd, space)
        after = [(t.state, t.value) for t in search.study.trials]
    # The first proposal's ask was not used (told FAIL); nothing stored was added twice.
    assert after[:12] == before and len(after) == 14
    root.close()
