"""The search loop around the scopes: AutoML, trainers, splitters and callbacks.

``AutoML`` runs a hyperparameter search either over a user objective
``objective(split, hyperparams, train, valid)`` or over a small pipeline object
(``set_hyperparams``, ``get_hyperparams_space``, ``fit``, ``predict``), writing every
trial, split and metric value through the scopes of :mod:`arrowscope`. Trials run one
at a time, or in parallel through any ``concurrent.futures.Executor``
(``AutoML(..., executor=..., n_jobs=...)``); :func:`run_trial` runs one trial of an
existing round from any worker, for loops written by hand.
"""

from __future__ import annotations

from arrowscope.automl.callbacks import (
    Callback,
    CallbackList,
    EarlyStoppingCallback,
    Evaluation,
    IfBestScore,
    IfLastStep,
    MetricCallback,
    ScoringCallback,
)
from arrowscope.automl.progress import ProgressLine
from arrowscope.automl.ray_executor import RayExecutor
from arrowscope.automl.result import AutoMLResult
from arrowscope.automl.runner import AutoML
from arrowscope.automl.splitters import (
    AnchoredWalkForwardTimeSeriesCrossValidationSplitter,
    KFoldCrossValidationSplitter,
    Splitter,
    ValidationSplitter,
    WalkForwardTimeSeriesCrossValidationSplitter,
)
from arrowscope.automl.trainer import Objective, ObjectiveTrainer, Pipeline, Trainer
from arrowscope.automl.worker import TrialOutcome, run_trial

__all__ = [
    "AnchoredWalkForwardTimeSeriesCrossValidationSplitter",
    "AutoML",
    "AutoMLResult",
    "Callback",
    "CallbackList",
    "EarlyStoppingCallback",
    "Evaluation",
    "IfBestScore",
    "IfLastStep",
    "KFoldCrossValidationSplitter",
    "MetricCallback",
    "Objective",
    "ObjectiveTrainer",
    "Pipeline",
    "ProgressLine",
    "RayExecutor",
    "ScoringCallback",
    "Splitter",
    "Trainer",
    "TrialOutcome",
    "ValidationSplitter",
    "WalkForwardTimeSeriesCrossValidationSplitter",
    "run_trial",
]
