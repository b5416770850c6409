"""Checking ``AutoML``'s options: which form a target has, and what each form needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arrowscope.automl.callbacks import Callback, MetricCallback
from arrowscope.hyperparams import HyperparameterSpace
from arrowscope.optimizer import GridSearch


def is_pipeline(target: object) -> bool:
    """Whether ``target`` has the pipeline methods (else it must be an objective)."""
    methods = ("set_hyperparams", "get_hyperparams_space", "fit", "predict")
    return all(callable(getattr(target, name, None)) for name in methods)


def as_space(space: HyperparameterSpace | Mapping[str, Any] | None) -> HyperparameterSpace:
    if isinstance(space, HyperparameterSpace):
        return space
    if isinstance(space, Mapping):
        return HyperparameterSpace(space)
    raise TypeError(
        f"the hyperparameter space must be a HyperparameterSpace or a mapping, not {space!r}"
    )


def pipeline_metric(
    callbacks: list[Callback], main_metric: str | None, higher: bool | None
) -> tuple[str, bool]:
    """The main metric and its direction, from the pipeline's metric callbacks."""
    if not callbacks or not isinstance(callbacks[0], MetricCallback):
        first = repr(callbacks[0]) if callbacks else "none"
        raise ValueError(
            "the pipeline form needs callbacks starting with a MetricCallback (it scores "
            f"the predictions and names the main metric); the first callback is {first}"
        )
    metrics = {c.name: c for c in callbacks if isinstance(c, MetricCallback)}
    name = callbacks[0].name if main_metric is None else main_metric
    if name not in metrics:
        raise ValueError(
            f"main_metric={main_metric!r} is not computed by any MetricCallback; "
            f"they compute {sorted(metrics)}"
        )
    chosen = metrics[name].higher_score_is_better
    if higher is not None and higher != chosen:
        raise ValueError(
            f"higher_score_is_better={higher} contradicts MetricCallback({name!r}), "
            f"which has higher_score_is_better={chosen}"
        )
    return name, chosen


def check_objective(
    target: object, space: object, main_metric: str | None, callbacks: list[Callback]
) -> str:
    """The objective form's main metric, once its options are checked."""
    if not callable(target):
        raise TypeError(
            f"AutoML needs an objective(split, hyperparams, train, valid) or a pipeline with "
            f"set_hyperparams, get_hyperparams_space, fit and predict; got {target!r}"
        )
    if space is None:
        raise ValueError("the objective form needs a space: AutoML(objective, space, ...)")
    if main_metric is None:
        raise ValueError(
            "the objective form needs main_metric: the name of the metric the objective "
            "logs with split.managed_metric(name, ...) that ranks the trials"
        )
    if callbacks:
        raise ValueError(
            f"callbacks={callbacks!r}: epoch callbacks need predictions, so they only run in "
            "the pipeline form; in an objective, stop early with "
            "EarlyStoppingCallback(n).should_stop(split)"
        )
    return main_metric


def check_n_trials(n_trials: int | None, space: HyperparameterSpace) -> int:
    if n_trials is None:
        return GridSearch.estimate_ideal_n_trials(space)
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 0:
        raise ValueError(
            f"n_trials={n_trials!r}: expected an int >= 0, or None for an estimate from "
            "the size of the space"
        )
    return n_trials
