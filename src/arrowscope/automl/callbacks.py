"""Epoch callbacks of the trainer: metrics, early stopping and conditions (SPEC §4.5).

After every epoch the :class:`~arrowscope.automl.trainer.Trainer` calls
``callbacks.call(split, train_eval, valid_eval, is_finished_and_fitted)``; a callback
returning True asks it to stop training this split. ``train_eval`` and ``valid_eval``
hold the expected outputs and the predictions (``valid_eval`` is None on the retrain
split, which has no validation data).

Example:
    >>> mse = lambda y, p: float(((y - p) ** 2).mean())
    >>> callbacks = CallbackList([MetricCallback("mse", mse, higher_score_is_better=False),
    ...                           EarlyStoppingCallback(3)])
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from arrowscope.aggregates import TrialSplit

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStoppingCallback",
    "Evaluation",
    "IfBestScore",
    "IfLastStep",
    "MetricCallback",
    "ScoringCallback",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """What a model predicted for one part of a split's data, and what was expected."""

    y_true: Any
    y_pred: Any


class Callback(Protocol):
    """Runs after each epoch; returns True to stop training the split."""

    def call(
        self,
        split: TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        """React to the epoch that just ended; True asks the trainer to stop."""
        ...


class MetricCallback:
    """Scores predictions with ``fn(y_true, y_pred)`` and logs them to the split.

    Each epoch appends one train value and, when there is validation data, one
    validation value to the split's metric ``name`` (created with
    ``higher_score_is_better`` on first use). It never asks to stop.

    Args:
        name: The metric's name; the first metric callback names the main metric.
        fn: ``fn(y_true, y_pred)`` returning a real number; with
            ``pass_context_to_metric_function`` it also receives the split's train or
            validation context as a third argument.
        higher_score_is_better: The metric's direction.
        log_metrics: Also log each value (DEBUG) on this module's logger.
        pass_context_to_metric_function: See ``fn``.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., float],
        higher_score_is_better: bool,
        log_metrics: bool = True,
        pass_context_to_metric_function: bool = False,
    ) -> None:
        if not isinstance(higher_score_is_better, bool):
            raise TypeError(
                f"MetricCallback({name!r}): higher_score_is_better must be a bool, "
                f"not {higher_score_is_better!r}"
            )
        if not callable(fn):
            raise TypeError(f"MetricCallback({name!r}): fn must be callable, not {fn!r}")
        self.name = name
        self.fn = fn
        self.higher_score_is_better = higher_score_is_better
        self.log_metrics = log_metrics
        self.pass_context_to_metric_function = pass_context_to_metric_function

    def __repr__(self) -> str:
        return (
            f"MetricCallback({self.name!r}, higher_score_is_better={self.higher_score_is_better})"
        )

    def call(
        self,
        split: TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        train = self._score(split, train_eval, "train")
        valid = None if valid_eval is None else self._score(split, valid_eval, "valid")
        with split.managed_metric(self.name, self.higher_score_is_better) as metric:
            metric.add_train_result(train)
            if valid is not None:
                metric.add_valid_result(valid)
        if self.log_metrics:
            logger.debug(
                "%s epoch %s: %s train=%s valid=%s",
                split.location,
                split.epoch,
                self.name,
                train,
                valid,
            )
        return is_finished_and_fitted

    def _score(self, split: TrialSplit, evaluation: Evaluation, phase: str) -> float:
        if self.pass_context_to_metric_function:
            context = split.train_context() if phase == "train" else split.validation_context()
            return self.fn(evaluation.y_true, evaluation.y_pred, context)
        return self.fn(evaluation.y_true, evaluation.y_pred)


def ScoringCallback(
    fn: Callable[..., float],
    name: str = "main",
    higher_score_is_better: bool = True,
    log_metrics: bool = True,
    pass_context_to_metric_function: bool = False,
) -> MetricCallback:
    """Deprecated: ``MetricCallback(name, fn, higher_score_is_better, ...)``.

    Kept for code written against the seed API, whose argument order it keeps.
    Emits a ``DeprecationWarning``.
    """
    warnings.warn(
        "ScoringCallback is deprecated: use MetricCallback(name, fn, higher_score_is_better)",
        DeprecationWarning,
        stacklevel=2,
    )
    return MetricCallback(
        name, fn, higher_score_is_better, log_metrics, pass_context_to_metric_function
    )


class CallbackList:
    """Calls callbacks in order; once one asks to stop, the later ones are told so.

    ``call`` returns True when any callback asked to stop, or when the trainer said
    the split is finished. An exception from a callback is logged and re-raised.

    Args:
        callbacks: The callbacks, in calling order.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks: list[Callback] = list(callbacks)

    def __repr__(self) -> str:
        return f"CallbackList({self.callbacks!r})"

    def __len__(self) -> int:
        return len(self.callbacks)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __getitem__(self, index: int) -> Callback:
        return self.callbacks[index]

    def call(
        self,
        split: TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        stop = is_finished_and_fitted
        for callback in self.callbacks:
            try:
                stop = bool(callback.call(split, train_eval, valid_eval, stop)) or stop
            except Exception:
                logger.exception("callback %r failed in split %s", callback, split.location)
                raise
        return stop


class EarlyStoppingCallback:
    """Stops a split whose validation score has not strictly improved for a while.

    With ``s`` the watched metric's validation values and ``N`` the patience, it stops
    when ``len(s) > N`` and ``s[-N]`` is at least as good as each of the last ``N``
    values (``>=`` when higher is better, ``<=`` when lower is better): no strict
    improvement on ``s[-N]`` within the last ``N - 1`` epochs. So constant scores stop
    at epoch ``N + 1``, and ``N = 1`` always stops at epoch 2 (its window is only the
    last value). The direction is the one the metric was logged with.

    It reads the split's live metric, so put the metric callback that logs the watched
    metric before it. Inside an objective, call :meth:`should_stop` after logging.

    Args:
        patience: ``N``, an int >= 1.
        metric_name: The metric to watch; ``None`` watches the round's main metric.

    Raises:
        ValueError: ``patience`` is not an int >= 1.
    """

    def __init__(self, patience: int, metric_name: str | None = None) -> None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"EarlyStoppingCallback(patience={patience!r}): expected an int >= 1")
        self.patience: int = patience
        self.metric_name: str | None = metric_name

    def __repr__(self) -> str:
        return f"EarlyStoppingCallback({self.patience}, metric_name={self.metric_name!r})"

    def should_stop(self, split: TrialSplit) -> bool:
        """Whether the watched metric of ``split`` has stopped improving.

        Raises:
            KeyError: The split has not logged the watched metric.
        """
        name = self.metric_name if self.metric_name is not None else split.main_metric_name
        if name not in split.metric_results:
            raise KeyError(
                f"EarlyStoppingCallback watches metric {name!r}, which split {split.location} "
                f"has not logged (it logged {sorted(split.metric_results)}): log it before "
                "this callback runs"
            )
        metric = split.metric_result(name)
        values, n = metric.get_valid_scores(), self.patience
        if len(values) <= n:
            return False
        anchor, recent = values[-n], values[-n:]
        if metric.is_higher_score_better():
            return all(anchor >= v for v in recent)
        return all(anchor <= v for v in recent)

    def call(
        self,
        split: TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        return self.should_stop(split)


class IfBestScore:
    """Calls ``callback`` only after an epoch that set a new best main-metric score.

    "New best" is ``split.metric_result().is_new_best_score()``: the last validation
    value strictly beats every earlier one. Otherwise it returns False.

    Args:
        callback: The wrapped callback; its answer is returned when it runs.
    """

    def __init__(self, callback: Callback) -> None:
        self.callback = callback

    def __repr__(self) -> str:
        return f"IfBestScore({self.callback!r})"

    def call(
        self,
        split: TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        if not split.metric_result().is_new_best_score():
            return False
        return bool(self.callback.call(split, train_eval, valid_eval, is_finished_and_fitted))


class IfLastStep:
    """Calls ``callback`` at the split's last epoch (or once it is finished), then stops.

    When ``split.epoch == split.n_epochs`` or ``is_finished_and_fitted``, it calls
    ``callback`` and returns True whatever ``callback`` answered; otherwise it returns
    False without calling it.

    Args:
        callback: The wrapped callback.
    """

    def __init__(self, callback: Callback) -> None:
        self.callback = callback

    def __repr__(self) -> str:
        return f"IfLastStep({self.callback!r})"

    def call(
        self,
        split: TrialSplit,
        train_eval: Evaluation,
        valid_eval: Evaluation | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        if split.epoch == split.n_epochs or is_finished_and_fitted:
            self.callback.call(split, train_eval, valid_eval, is_finished_and_fitted)
            return True
        return False
