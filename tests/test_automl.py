"""The AutoML loop end to end (SPEC §4.1–4.3, S30), in its objective and pipeline forms."""

from __future__ import annotations

import doctest
import io
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import arrowscope as asc
from arrowscope import TrialStatus
from arrowscope.automl import (
    AutoML,
    EarlyStoppingCallback,
    KFoldCrossValidationSplitter,
    MetricCallback,
    ProgressLine,
    ValidationSplitter,
    callbacks,
    progress,
    runner,
    splitters,
    trainer,
    worker,
)

SUCCESS, FAILED = TrialStatus.SUCCESS, TrialStatus.FAILED
S30_SAMPLES = [
    {"m": 1, "fail": False},
    {"m": 2, "fail": True},
    {"m": 2, "fail": False},
    {"m": 3, "fail": False},
]
S30_DATA = (np.zeros(8), np.full(8, 2.0))


class RecordingOptimizer:
    """Proposes ``samples`` in order and records the length of each report it gets."""

    def __init__(self, samples: Sequence[Mapping[str, Any]]) -> None:
        self.samples = list(samples)
        self.report_lengths: list[int] = []

    def find_next_best_hyperparams(
        self, round_report: Any, hp_space: asc.HyperparameterSpace
    ) -> asc.HyperparameterSamples:
        self.report_lengths.append(len(round_report))
        return asc.HyperparameterSamples(self.samples[len(self.report_lengths) - 1])


class ConstantModel:
    """S30's pipeline: predicts ``m``; ``fit`` raises when ``fail`` is set."""

    def __init__(self) -> None:
        self.m, self.fail = 0, False

    def get_hyperparams_space(self) -> asc.HyperparameterSpace:
        return asc.HyperparameterSpace({"m": asc.RandInt(1, 3), "fail": asc.Boolean()})

    def set_hyperparams(self, hyperparams: asc.HyperparameterSamples) -> ConstantModel:
        self.m, self.fail = hyperparams["m"], hyperparams["fail"]
        return self

    def fit(self, x: Any, y: Any) -> ConstantModel:
        if self.fail:
            raise RuntimeError(f"fit failed for m={self.m}")
        return self

    def predict(self, x: Any) -> Any:
        return np.full(len(x), float(self.m))


def mse(y: Any, p: Any) -> float:
    return float(np.mean((y - p) ** 2))


@pytest.fixture(params=["memory", "parquet"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> asc.Root:
    return asc.Root.in_memory() if request.param == "memory" else asc.Root.at(tmp_path / "runs")


def s30_automl(root: asc.Root | Path, optimizer: RecordingOptimizer, **options: Any) -> AutoML:
    settings: dict[str, Any] = {
        "root": root,
        "optimizer": optimizer,
        "n_trials": 4,
        "epochs": 2,
        "splitter": ValidationSplitter(0.25),
        "callbacks": [MetricCallback("mse", mse, higher_score_is_better=False)],
        **options,
    }
    return AutoML(ConstantModel(), **settings)


def test_s30_end_to_end(root: asc.Root) -> None:
    optimizer = RecordingOptimizer(S30_SAMPLES)
    automl = s30_automl(root, optimizer)
    result = automl.fit(S30_DATA)
    report = automl.report
    assert report.get_id() == 0 and result.round_number == automl.round_number == 0
    assert [t.get_status() for t in report] == [SUCCESS, FAILED, SUCCESS, SUCCESS]
    assert [t.get_avg_validation_score("mse") for t in report] == [1.0, None, 0.0, 1.0]
    assert [len(t) for t in report] == [1, 1, 1, 1]
    assert report[1][0].get_status() is FAILED and report[1][0].get_metric_names() == []
    for number in (0, 2, 3):
        metric = report[number][0].metric_result("mse")
        assert len(metric.get_valid_scores()) == len(metric.get_train_scores()) == 2
    assert optimizer.report_lengths == [0, 1, 2, 3]
    assert report.get_best_trial_id() == result.best_trial_number == 2
    assert result.best_score == 0.0 and result.best_hyperparams == {"m": 2, "fail": False}
    retrain = report[2].retrained_split
    assert retrain is not None and retrain.get_status() is SUCCESS
    assert len(retrain.metric_result("mse").get_train_scores()) == 2
    assert retrain.metric_result("mse").get_valid_scores() == []
    assert automl.predict(np.zeros(3)).tolist() == [2.0, 2.0, 2.0]

    again = s30_automl(root, RecordingOptimizer(S30_SAMPLES))
    assert again.fit(S30_DATA).round_number == 1 and again.report.get_id() == 1


def test_s30_without_continue_the_failing_trial_stops_the_search(root: asc.Root) -> None:
    optimizer = RecordingOptimizer(S30_SAMPLES)
    automl = s30_automl(root, optimizer, continue_loop_on_error=False)
    with pytest.raises(RuntimeError, match="fit failed for m=2"):
        automl.fit(S30_DATA)
    assert optimizer.report_lengths == [0, 1]
    assert [t.get_status() for t in automl.report] == [SUCCESS, FAILED]
    assert automl.report[1].error == "RuntimeError: fit failed for m=2"


def failing_objective(
    split: asc.TrialSplit, hps: asc.HyperparameterSamples, train: Any, valid: Any
) -> str:
    """Scores ``(x - mean)²``; ``x < 0`` fails every fold, ``x == 0`` only fold 1."""
    x = hps["x"]
    if x < 0 or (x == 0 and split.split_number == 1):
        raise ValueError(f"objective failed for x={x}")
    for _ in range(split.n_epochs or 0):
        split.next_epoch()
        with split.managed_metric("loss", higher_score_is_better=False) as m:
            m.add_train_result((x - float(np.mean(train))) ** 2)
            if valid is not None:
                m.add_valid_result((x - float(np.mean(valid))) ** 2)
    return f"model x={x}"


def test_objective_form_records_failing_trials_and_refits_the_best(root: asc.Root) -> None:
    xs = [{"x": 2.0}, {"x": -1.0}, {"x": 0.0}, {"x": 1.5}, {"x": -3.0}]
    automl = AutoML(
        failing_objective,
        {"x": asc.Uniform(-3.0, 3.0)},
        root=root,
        optimizer=RecordingOptimizer(xs),
        n_trials=5,
        epochs=3,
        splitter=KFoldCrossValidationSplitter(2),
        main_metric="loss",
    )
    result = automl.fit(np.ones(10))
    report = result.report
    assert [t.get_status() for t in report] == [SUCCESS, FAILED, SUCCESS, SUCCESS, FAILED]
    assert [[s.get_status() for s in t] for t in report][2] == [SUCCESS, FAILED]
    assert [t.get_avg_validation_score("loss") for t in report] == [1.0, None, 1.0, 0.25, None]
    assert (result.best_trial_number, result.best_score) == (3, 0.25)
    assert result.refitted == automl.refitted == "model x=1.5"
    retrain = report[3].retrained_split
    assert retrain is not None and retrain.get_status() is SUCCESS
    assert retrain.metric_result("loss").get_train_scores() == [0.25] * 3
    assert retrain.metric_result("loss").get_valid_scores() == []
    errors = asc.connect(root).sql("select error from splits where trial = 1").fetchall()
    assert errors == [("ValueError: objective failed for x=-1.0",)] * 2


def test_an_objective_can_stop_early() -> None:
    stopper = EarlyStoppingCallback(2)

    def objective(split: asc.TrialSplit, hps: Any, train: Any, valid: Any) -> None:
        for _ in range(split.n_epochs or 0):
            split.next_epoch()
            with split.managed_metric("loss", higher_score_is_better=False) as m:
                m.add_valid_result(1.0)
            if stopper.should_stop(split):
                break

    automl = AutoML(
        objective, {}, root=asc.Root.in_memory(), main_metric="loss", n_trials=1, epochs=10
    )
    report = automl.fit(np.ones(10)).report
    assert report[0][0].metric_result("loss").get_valid_scores() == [1.0, 1.0, 1.0]


def test_refit_is_skipped_when_no_trial_succeeded(caplog: pytest.LogCaptureFixture) -> None:
    automl = AutoML(
        failing_objective,
        {"x": asc.Uniform(-3.0, -1.0)},
        root=asc.Root.in_memory(),
        optimizer=asc.RandomSearch(0),
        n_trials=2,
        main_metric="loss",
    )
    with caplog.at_level(logging.WARNING, logger="arrowscope.automl.runner"):
        result = automl.fit(np.ones(10))
    assert [t.get_status() for t in result.report] == [FAILED, FAILED]
    assert (result.best_trial_number, result.best_score, result.refitted) == (None, None, None)
    assert result.best_hyperparams == {}
    assert "nothing to refit" in caplog.text
    with pytest.raises(ValueError, match="needs a refitted pipeline"):
        automl.predict(np.zeros(2))


def test_force_refit_resumes_the_last_round_without_new_trials() -> None:
    root = asc.Root.in_memory()
    automl = s30_automl(root, RecordingOptimizer(S30_SAMPLES), refit_best_trial=False)
    with pytest.raises(ValueError, match="fit\\(\\) has not run"):
        _ = automl.round_number
    assert automl.fit(S30_DATA).refitted is None and automl.report[2].retrained_split is None
    refit = automl.to_force_refit_best_trial()
    assert refit.round_number == 0
    result = refit.fit(S30_DATA)
    assert result.round_number == 0 and len(result.report) == 4
    assert result.report[2].retrained_split is not None
    assert refit.predict(np.zeros(1)).tolist() == [2.0]


def test_resuming_on_an_empty_store_uses_round_0(tmp_path: Path) -> None:
    automl = s30_automl(tmp_path / "runs", RecordingOptimizer(S30_SAMPLES), start_new_round=False)
    assert automl.round_number == 0
    assert automl.fit(S30_DATA).round_number == 0 and len(automl.report) == 4


def test_default_root_and_optimizer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARROWSCOPE_DIR", str(tmp_path / "default"))
    space = {"a": asc.RandInt(1, 3), "b": asc.RandInt(1, 3), "c": asc.RandInt(1, 3)}

    def objective(split: asc.TrialSplit, hps: Any, train: Any, valid: Any) -> None:
        with split.managed_metric("score", higher_score_is_better=True) as m:
            m.add_valid_result(float(hps["a"] + hps["b"] + hps["c"]))

    automl = AutoML(objective, space, main_metric="score")
    assert automl.n_trials == 3  # GridSearch.estimate_ideal_n_trials: ceil(0.29 * 9)
    result = automl.fit(list(range(10)))
    combos = [tuple(h.values()) for h in result.report.get_all_hyperparams()]
    assert len(set(combos)) == 3
    assert (tmp_path / "default").is_dir()


class TerminalBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_draws_only_on_a_terminal() -> None:
    terminal, pipe = TerminalBuffer(), io.StringIO()
    for stream in (terminal, pipe):
        line = ProgressLine(3, stream=stream)
        line.trial_done(0, SUCCESS, 0.5, higher_is_better=False)
        line.trial_done(1, FAILED, None, higher_is_better=False)
        line.trial_done(2, SUCCESS, 0.25, higher_is_better=False)
        line.close()
    assert pipe.getvalue() == ""
    text = terminal.getvalue()
    assert "\r" in text and text.endswith("\n")
    assert "trial 3/3 | best 0.25 (trial 2) | 1 failed" in text


def test_fit_draws_progress_on_a_terminal_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = TerminalBuffer()
    monkeypatch.setattr(sys, "stderr", terminal)
    s30_automl(asc.Root.in_memory(), RecordingOptimizer(S30_SAMPLES)).fit(S30_DATA)
    assert "trial 4/4 | best 0 (trial 2) | 1 failed" in terminal.getvalue()
    quiet = TerminalBuffer()
    monkeypatch.setattr(sys, "stderr", quiet)
    s30_automl(asc.Root.in_memory(), RecordingOptimizer(S30_SAMPLES), show_progress=False).fit(
        S30_DATA
    )
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"callbacks": []}, ValueError, "callbacks starting with a MetricCallback"),
        ({"callbacks": [EarlyStoppingCallback(2)]}, ValueError, "first callback is Early"),
        ({"main_metric": "acc"}, ValueError, r"main_metric='acc' is not computed.*\['mse'\]"),
        ({"higher_score_is_better": True}, ValueError, "contradicts MetricCallback"),
        ({"n_trials": -1}, ValueError, "n_trials=-1: expected an int >= 0"),
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1, got 0"),
    ],
)
def test_pipeline_form_options_are_checked(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    settings: dict[str, Any] = {"callbacks": [MetricCallback("mse", mse, False)], **options}
    with pytest.raises(error, match=match):
        AutoML(ConstantModel(), root=asc.Root.in_memory(), **settings)


@pytest.mark.parametrize(
    ("target", "space", "options", "error", "match"),
    [
        (failing_objective, None, {"main_metric": "loss"}, ValueError, "needs a space"),
        (failing_objective, {}, {}, ValueError, "needs main_metric"),
        (
            failing_objective,
            {},
            {"main_metric": "loss", "callbacks": [EarlyStoppingCallback(2)]},
            ValueError,
            "only run in the pipeline form",
        ),
        (42, {}, {"main_metric": "loss"}, TypeError, "needs an objective"),
        (failing_objective, [1], {"main_metric": "loss"}, TypeError, "space must be"),
    ],
)
def test_objective_form_options_are_checked(
    target: Any, space: Any, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        AutoML(target, space, root=asc.Root.in_memory(), **options)


def test_pipeline_data_must_be_an_x_y_pair_before_anything_is_written() -> None:
    root = asc.Root.in_memory()
    automl = s30_automl(root, RecordingOptimizer(S30_SAMPLES))
    with pytest.raises(ValueError, match=r"pass data=\(x, y\)"):
        automl.fit(np.zeros(8))
    assert len(root["default_project"]["default_client"]) == 0


@pytest.mark.parametrize("module", [runner, splitters, callbacks, trainer, progress, worker])
def test_docstring_examples_run(module: Any) -> None:
    assert doctest.testmod(module, verbose=False).failed == 0


WITHOUT_NUMPY = """
import sys
sys.modules["numpy"] = None  # numpy is an optional extra: make importing it fail
import arrowscope as asc
from arrowscope.automl import AutoML, KFoldCrossValidationSplitter

def objective(split, hps, train, valid):
    with split.managed_metric("err", higher_score_is_better=False) as m:
        m.add_train_result(abs(hps["c"] - sum(train) / len(train)))
        if valid is not None:
            m.add_valid_result(abs(hps["c"] - sum(valid) / len(valid)))

automl = AutoML(objective, {"c": asc.Choice([1.0, 2.0, 3.0])}, root=asc.Root.in_memory(),
                main_metric="err", n_trials=3, splitter=KFoldCrossValidationSplitter(3))
result = automl.fit([2.0] * 9)
print(result.best_hyperparams["c"], len(result.report))
"""


def test_the_loop_runs_without_numpy() -> None:
    src = str(Path(asc.__file__).resolve().parents[1])
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    )
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_NUMPY],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2.0", "3"]
