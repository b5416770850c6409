"""Training one trial: its validation splits, their epochs, and the refit (SPEC §4.3).

Two trainers share one shape, ``train(target, data, trial)`` / ``train_folds`` /
``train_split`` / ``refit``:

* :class:`Trainer` trains a :class:`Pipeline` (``fit`` once per epoch, then
  ``predict``) and lets its callbacks score and stop it;
* :class:`ObjectiveTrainer` hands each split to a user :class:`Objective`, which
  trains and logs by itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from arrowscope.aggregates import Trial, TrialSplit
from arrowscope.automl.callbacks import Callback, CallbackList, Evaluation
from arrowscope.automl.splitters import Splitter, ValidationSplitter
from arrowscope.hyperparams import HyperparameterSamples, HyperparameterSpace

__all__ = ["Objective", "ObjectiveTrainer", "Pipeline", "Trainer", "TrialTrainer"]


class Pipeline(Protocol):
    """A model the trainer can copy, configure, fit and query; no ML framework needed.

    ``fit`` is called once per epoch on the same copy, so a model that trains
    incrementally (one more pass of gradient descent) continues where it stopped.
    ``fit`` must not modify its inputs. ``set_hyperparams`` and ``fit`` return the
    pipeline (returning None is accepted and means "self").
    """

    def set_hyperparams(self, hyperparams: HyperparameterSamples) -> Pipeline:
        """Take the trial's hyperparameters (flat ``__`` keys)."""
        ...

    def get_hyperparams_space(self) -> HyperparameterSpace:
        """The space the search draws hyperparameters from."""
        ...

    def fit(self, x: Any, y: Any) -> Pipeline:
        """Train one epoch on ``(x, y)``."""
        ...

    def predict(self, x: Any) -> Any:
        """Predictions for ``x``, handed to the metric functions as ``y_pred``."""
        ...


class Objective(Protocol):
    """Trains one split: ``objective(split, hyperparams, train, valid)``.

    ``split`` is the :class:`~arrowscope.TrialSplit`, already given its number of epochs
    (``split.n_epochs``); log through ``split.managed_metric(...)``. ``train`` and
    ``valid`` are the fold's data as cut by the splitter; ``valid`` is None on the
    retrain split. The return value of the refit call is kept as the refitted model.
    """

    def __call__(
        self, split: TrialSplit, hyperparams: HyperparameterSamples, train: Any, valid: Any
    ) -> Any: ...


class TrialTrainer(Protocol):
    """What a search loop needs from :class:`Trainer` and :class:`ObjectiveTrainer`."""

    splitter: Splitter

    def train(self, target: Any, data: Any, trial: Trial, /) -> None: ...

    def train_folds(
        self, target: Any, folds: Sequence[tuple[Any, Any]], trial: Trial, /
    ) -> None: ...

    def refit(self, target: Any, data: Any, trial: Trial, /) -> Any: ...


def check_epochs(n_epochs: object) -> int:
    """``n_epochs`` if it is an int >= 1; ValueError naming it otherwise."""
    if not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or n_epochs < 1:
        raise ValueError(f"the number of epochs must be an int >= 1, got {n_epochs!r}")
    return n_epochs


class Trainer:
    """Trains a pipeline on each fold of a trial, one ``fit`` per epoch.

    For each fold, in a new validation split: a deep copy of the pipeline gets the
    split's hyperparameters; then for each epoch it is fitted on the train part, it
    predicts the train and the validation inputs, and the callbacks run (they log the
    metrics and may stop the split early).

    Args:
        callbacks: Epoch callbacks (or a :class:`CallbackList`); none by default.
        n_epochs: Epochs per split, an int >= 1.
        splitter: Cuts ``(x, y)`` data into folds; ``ValidationSplitter(0.2)`` by default.

    Raises:
        ValueError: ``n_epochs`` is not an int >= 1.

    Example:
        >>> import numpy as np
        >>> import arrowscope as asc
        >>> from arrowscope.automl import MetricCallback
        >>> class Mean:
        ...     value = 0.0
        ...     def set_hyperparams(self, hps): return self
        ...     def get_hyperparams_space(self): return asc.HyperparameterSpace({})
        ...     def fit(self, x, y):
        ...         self.value = float(np.mean(y))
        ...         return self
        ...     def predict(self, x): return np.full(len(x), self.value)
        >>> mae = MetricCallback("mae", lambda y, p: float(np.mean(abs(y - p))), False)
        >>> trainer = Trainer([mae], n_epochs=2, splitter=ValidationSplitter(0.5))
        >>> root = asc.Root.in_memory()
        >>> with root.default_project() as p, p.default_client() as c, c.new_round("mae") as r:
        ...     r = r.with_optimizer(asc.RandomSearch(0), asc.HyperparameterSpace({}))
        ...     with r.new_rvs_trial() as trial:
        ...         trainer.train(Mean(), (np.zeros(4), np.array([1.0, 1.0, 3.0, 3.0])), trial)
        ...     trial.get_avg_validation_score("mae")
        2.0
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | CallbackList | None = None,
        n_epochs: int = 1,
        splitter: Splitter | None = None,
    ) -> None:
        if isinstance(callbacks, CallbackList):
            self.callbacks = callbacks
        else:
            self.callbacks = CallbackList(callbacks or ())
        self.n_epochs = check_epochs(n_epochs)
        self.splitter: Splitter = splitter if splitter is not None else ValidationSplitter(0.2)

    def train(self, pipeline: Pipeline, data: Any, trial: Trial) -> None:
        """Train ``pipeline`` on every fold of ``data`` (an ``(x, y)`` tuple)."""
        self.train_folds(pipeline, self.splitter.split(data), trial)

    def train_folds(
        self, pipeline: Pipeline, folds: Sequence[tuple[Any, Any]], trial: Trial
    ) -> None:
        """Train ``pipeline`` on already-cut ``(train, valid)`` folds, one split each."""
        for train, valid in folds:
            with trial.new_validation_split() as split:
                self.train_split(pipeline, train, valid, split)

    def train_split(self, pipeline: Pipeline, train: Any, valid: Any, split: TrialSplit) -> Any:
        """Fit a copy of ``pipeline`` on ``train`` epoch by epoch; returns the fitted copy.

        ``valid`` (an ``(x, y)`` tuple) may be None or empty: then only train values
        are logged, as on the retrain split.
        """
        split.with_n_epochs(self.n_epochs)
        model = _configured_copy(pipeline, split.get_hyperparams())
        x, y = unpack_xy(train, "train")
        valid_xy = None if _is_empty(valid) else unpack_xy(valid, "valid")
        for _ in range(self.n_epochs):
            epoch = split.next_epoch()
            model = _returned_or_self(model.fit(x, y), model)
            train_eval = Evaluation(y, model.predict(x))
            valid_eval = None
            if valid_xy is not None:
                valid_eval = Evaluation(valid_xy[1], model.predict(valid_xy[0]))
            if self.callbacks.call(split, train_eval, valid_eval, epoch == self.n_epochs):
                break
        return model

    def refit(self, pipeline: Pipeline, data: Any, trial: Trial) -> Any:
        """Retrain on all of ``data`` in the trial's retrain split (-1); returns the model."""
        with trial.retrain_split() as split:
            return self.train_split(pipeline, data, None, split)


class ObjectiveTrainer:
    """Runs a user objective on each fold of a trial, in its own validation split.

    Args:
        n_epochs: Set on each split (``split.n_epochs``) before the objective runs.
        splitter: Cuts the data into folds; ``ValidationSplitter(0.2)`` by default.
    """

    def __init__(self, n_epochs: int = 1, splitter: Splitter | None = None) -> None:
        self.n_epochs = check_epochs(n_epochs)
        self.splitter: Splitter = splitter if splitter is not None else ValidationSplitter(0.2)

    def train(self, objective: Objective, data: Any, trial: Trial) -> None:
        """Run ``objective`` on every fold of ``data``."""
        self.train_folds(objective, self.splitter.split(data), trial)

    def train_folds(
        self, objective: Objective, folds: Sequence[tuple[Any, Any]], trial: Trial
    ) -> None:
        """Run ``objective`` on already-cut ``(train, valid)`` folds, one split each."""
        for train, valid in folds:
            with trial.new_validation_split() as split:
                self.train_split(objective, train, valid, split)

    def train_split(self, objective: Objective, train: Any, valid: Any, split: TrialSplit) -> Any:
        """Set the split's epochs and run ``objective``; returns what it returned."""
        split.with_n_epochs(self.n_epochs)
        return objective(split, split.get_hyperparams(), train, valid)

    def refit(self, objective: Objective, data: Any, trial: Trial) -> Any:
        """Run ``objective`` on all of ``data`` (``valid=None``) in the retrain split."""
        with trial.retrain_split() as split:
            return self.train_split(objective, data, None, split)


def unpack_xy(data: Any, what: str) -> tuple[Any, Any]:
    """``data`` as ``(x, y)``; ValueError naming the part when it is not a pair."""
    if isinstance(data, tuple) and len(data) == 2:
        return data[0], data[1]
    raise ValueError(
        f"a pipeline is trained on (x, y) pairs, but the {what} data is a "
        f"{type(data).__name__}: pass data=(x, y) (y may be None)"
    )


def _configured_copy(pipeline: Pipeline, hyperparams: HyperparameterSamples) -> Pipeline:
    model = copy.deepcopy(pipeline)
    return _returned_or_self(model.set_hyperparams(hyperparams), model)


def _returned_or_self(returned: Pipeline | None, model: Pipeline) -> Pipeline:
    return model if returned is None else returned


def _is_empty(valid: Any) -> bool:
    """No validation data: None, or an ``(x, y)`` pair whose x has no item."""
    if valid is None:
        return True
    if isinstance(valid, tuple) and len(valid) == 2 and hasattr(valid[0], "__len__"):
        return len(valid[0]) == 0
    return False
