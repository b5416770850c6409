"""Epoch callbacks run by the Trainer: metrics, early stopping (SPEC §4.5, S26), conditions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import arrowscope as asc
from arrowscope import TrialStatus
from arrowscope.automl import (
    CallbackList,
    EarlyStoppingCallback,
    Evaluation,
    IfBestScore,
    IfLastStep,
    MetricCallback,
    ScoringCallback,
    Trainer,
    ValidationSplitter,
)

DATA = (np.arange(4.0), np.zeros(4))


class EpochCounter:
    """A pipeline whose predictions are the number of epochs fitted so far."""

    def __init__(self) -> None:
        self.epochs = 0

    def get_hyperparams_space(self) -> asc.HyperparameterSpace:
        return asc.HyperparameterSpace({})

    def set_hyperparams(self, hyperparams: asc.HyperparameterSamples) -> EpochCounter:
        return self

    def fit(self, x: Any, y: Any) -> EpochCounter:
        self.epochs += 1
        return self

    def predict(self, x: Any) -> int:
        return self.epochs


def scripted(name: str, values: Sequence[float], hib: bool) -> MetricCallback:
    """A metric whose value at epoch e (train and valid alike) is ``values[e - 1]``."""
    return MetricCallback(name, lambda _y, epoch: values[epoch - 1], hib)


class Recorder:
    """A callback that records the flag it receives and answers ``answer``."""

    def __init__(self, answer: bool = False) -> None:
        self.answer = answer
        self.calls: list[tuple[int, bool]] = []

    def call(
        self,
        split: asc.TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        self.calls.append((split.epoch, is_finished_and_fitted))
        return self.answer


@pytest.fixture(params=["memory", "parquet"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> asc.Root:
    return asc.Root.in_memory() if request.param == "memory" else asc.Root.at(tmp_path / "runs")


def train(root: asc.Root, callbacks: list[Any], main: str = "mse", n_epochs: int = 10) -> asc.Trial:
    """One trial with one split trained by a Trainer; returns the exited trial."""
    with root.default_project() as p, p.default_client() as c, c.new_round(main) as rnd:
        rnd.with_optimizer(asc.HyperparameterSamplerStub({}), asc.HyperparameterSpace({}))
        with rnd.new_rvs_trial() as trial:
            Trainer(callbacks, n_epochs, ValidationSplitter(0.5)).train(EpochCounter(), DATA, trial)
    return trial


def valid_values(trial: asc.Trial, metric: str = "mse") -> list[float]:
    split = trial[0]
    assert split.get_status() is TrialStatus.SUCCESS
    values = split.metric_result(metric)
    assert len(values.get_train_scores()) == len(values.get_valid_scores())
    return list(values.get_valid_scores())


@pytest.mark.parametrize(("patience", "epochs"), [(3, 4), (1, 2)])
def test_s26_constant_scores_stop_at_patience_plus_one(
    root: asc.Root, patience: int, epochs: int
) -> None:
    trial = train(root, [scripted("mse", [0.5] * 10, False), EarlyStoppingCallback(patience)])
    assert valid_values(trial) == [0.5] * epochs


def test_s26_strictly_improving_scores_run_every_epoch(root: asc.Root) -> None:
    rising = [0.5 + 0.125 * i for i in range(10)]
    trial = train(root, [scripted("acc", rising, True), EarlyStoppingCallback(3)], main="acc")
    assert valid_values(trial, "acc") == rising


def test_s26_no_strict_improvement_within_patience_stops(root: asc.Root) -> None:
    values = [5.0, 4.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625]
    trial = train(root, [scripted("mse", values, False), EarlyStoppingCallback(2)])
    assert valid_values(trial) == [5.0, 4.0, 4.0]


def test_s26_metric_name_is_honoured(root: asc.Root) -> None:
    improving = [10.0 - i for i in range(10)]
    metrics = [scripted("mse", improving, False), scripted("acc", [0.5] * 10, True)]
    trial = train(root, [*metrics, EarlyStoppingCallback(2, metric_name="acc")])
    assert valid_values(trial) == improving[:3] and valid_values(trial, "acc") == [0.5] * 3
    watching_main = train(asc.Root.in_memory(), [*metrics, EarlyStoppingCallback(2)])
    assert valid_values(watching_main) == improving


@pytest.mark.parametrize("patience", [0, -1, 1.5, True, None])
def test_early_stopping_rejects_a_bad_patience(patience: object) -> None:
    with pytest.raises(ValueError, match=r"patience=.*int >= 1"):
        EarlyStoppingCallback(patience)  # type: ignore[arg-type]


def test_early_stopping_on_a_metric_never_logged_fails_the_split() -> None:
    root = asc.Root.in_memory()
    with pytest.raises(KeyError, match="watches metric 'acc'"):
        train(root, [scripted("mse", [1.0] * 10, False), EarlyStoppingCallback(2, "acc")])
    trial = root["default_project"]["default_client"][0][0]
    assert trial.get_status() is TrialStatus.FAILED
    assert trial[0].get_status() is TrialStatus.FAILED


def test_callback_list_passes_the_stop_flag_on_and_returns_it() -> None:
    first, stopper, last = Recorder(), Recorder(answer=True), Recorder()
    trial = train(asc.Root.in_memory(), [scripted("mse", [1.0] * 5, False), first, stopper, last])
    assert first.calls == [(1, False)] and stopper.calls == [(1, False)]
    assert last.calls == [(1, True)]
    assert valid_values(trial) == [1.0]


def test_callback_list_logs_and_reraises_a_callback_error(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_y: Any, _p: Any) -> float:
        raise ZeroDivisionError("no score")

    with caplog.at_level(logging.ERROR), pytest.raises(ZeroDivisionError, match="no score"):
        train(asc.Root.in_memory(), [MetricCallback("mse", broken, False)])
    assert any("failed in split" in r.getMessage() for r in caplog.records)


def test_if_best_score_runs_only_after_a_new_best() -> None:
    inner = Recorder(answer=False)
    values = [3.0, 2.0, 2.0, 1.0, 1.5]
    train(asc.Root.in_memory(), [scripted("mse", values, False), IfBestScore(inner)], n_epochs=5)
    assert [epoch for epoch, _flag in inner.calls] == [1, 2, 4]


def test_if_last_step_runs_at_the_last_epoch_and_stops() -> None:
    inner, after = Recorder(answer=False), Recorder()
    trial = train(
        asc.Root.in_memory(),
        [scripted("mse", [1.0, 2.0, 3.0], False), IfLastStep(inner), after],
        n_epochs=3,
    )
    assert inner.calls == [(3, True)]
    assert after.calls == [(1, False), (2, False), (3, True)]
    assert valid_values(trial) == [1.0, 2.0, 3.0]


def test_metric_callback_can_receive_the_phase_context() -> None:
    phases: list[str | None] = []

    def score(_y: Any, _p: Any, context: asc.AutoMLContext) -> float:
        phases.append(context.phase)
        return 1.0

    metric = MetricCallback("mse", score, False, pass_context_to_metric_function=True)
    train(asc.Root.in_memory(), [metric], n_epochs=2)
    assert phases == ["train", "valid", "train", "valid"]


def test_metric_callback_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="higher_score_is_better must be a bool"):
        MetricCallback("mse", lambda y, p: 0.0, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fn must be callable"):
        MetricCallback("mse", 0.5, False)  # type: ignore[arg-type]


def test_scoring_callback_is_a_deprecated_metric_callback() -> None:
    with pytest.warns(DeprecationWarning, match="use MetricCallback"):
        callback = ScoringCallback(lambda y, p: 0.0)
    assert isinstance(callback, MetricCallback)
    assert (callback.name, callback.higher_score_is_better) == ("main", True)


def test_a_trainer_without_callbacks_trains_and_logs_nothing() -> None:
    trial = train(asc.Root.in_memory(), [], n_epochs=3)
    assert trial[0].get_status() is TrialStatus.SUCCESS
    assert trial[0].get_metric_names() == [] and len(CallbackList()) == 0
