"""Pruning: stop a split whose validation curve is worse than the round's other trials."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Protocol

from arrowscope.optuna._history import StoredTrials, TrialRecord, mean_curve

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import optuna
    from optuna.pruners import BasePruner

    from arrowscope.location import ScopedLocation
    from arrowscope.store import Repository


class _WatchedMetric(Protocol):
    def get_valid_scores(self) -> Sequence[float]: ...

    def is_higher_score_better(self) -> bool: ...


class _Split(Protocol):
    """What pruning reads of a ``TrialSplit`` (a protocol: this layer sits above the scopes)."""

    @property
    def main_metric_name(self) -> str | None: ...

    @property
    def metric_results(self) -> Mapping[str, Any]: ...

    @property
    def location(self) -> ScopedLocation: ...

    @property
    def split_number(self) -> int: ...

    @property
    def repo(self) -> Repository: ...

    def metric_result(self, metric_name: str | None = None) -> _WatchedMetric: ...


logger = logging.getLogger(__name__)


class Pruned(BaseException):
    """Raised in a split that a pruner stopped; it ends the split and its trial.

    Like ``KeyboardInterrupt``, it is not an ``Exception``, so ``continue_on_error``
    does not swallow it at the split: the split and the trial end FAILED with the error
    ``"Pruned: <why>"`` (see the ``splits`` and ``trials`` views), their values stay
    stored, and the exception leaves the trial's ``with`` block. ``AutoML`` catches it
    and goes on with the next trial; a hand-written loop catches it around the trial.
    """


class PruningCallback:
    """Stops a split early when an Optuna pruner finds it worse than the round's trials.

    After each epoch it hands the pruner the trial's validation curve of the watched
    metric so far (one step per epoch) and, as the other trials, every finished trial
    of the round as stored: SUCCESS ones as complete trials (their score as value),
    pruned ones as pruned trials. Curves are compared fold for fold: in validation
    split ``k`` a trial's curve is, at each epoch, the mean over its splits ``0..k``
    (the current one included), for this trial and the others alike, so a hard fold
    is never compared with easier ones; with one split, or at the last split, that is
    the ``curves`` view. The round's trials are re-read, incrementally, at the first
    epoch of each split. Successive halving and Hyperband rank trials by the rungs
    they reached: trials this callback did not watch are replayed epoch by epoch when
    first read.

    When the pruner says stop, :meth:`check` (and :meth:`call`, for ``AutoML``'s
    pipeline form) raises :class:`Pruned`: the split and its trial end FAILED with
    ``error = 'Pruned: …'``, so a pruned trial has no score and never ranks; its values
    up to the pruned epoch stay in ``metrics`` and ``curves``.

    Args:
        pruner: An Optuna pruner; ``MedianPruner()`` when None.
        metric_name: The metric to watch; None watches the round's main metric.

    Example:
        >>> import optuna, arrowscope as asc
        >>> from arrowscope.optuna import Pruned, PruningCallback
        >>> pruning = PruningCallback(optuna.pruners.MedianPruner(n_startup_trials=2))
        >>> root = asc.Root.in_memory()
        >>> space = asc.HyperparameterSpace({"q": asc.Uniform(0.0, 1.0)})
        >>> with root.default_project() as p, p.default_client() as c, c.new_round("loss") as r:
        ...     r = r.with_optimizer(asc.RandomSearch(0), space)
        ...     for q in (0.1, 0.2, 0.9):
        ...         try:
        ...             with r.new_rvs_trial() as trial, trial.new_validation_split() as split:
        ...                 split = split.with_n_epochs(5)
        ...                 for _ in range(5):
        ...                     epoch = split.next_epoch()
        ...                     with split.managed_metric("loss", False) as m:
        ...                         m.add_valid_result(q + 1 / epoch)
        ...                     pruning.check(split)
        ...         except Pruned:
        ...             pass
        ...     [t.get_status().name for t in r]
        ['SUCCESS', 'SUCCESS', 'FAILED']
    """

    def __init__(self, pruner: BasePruner | None = None, metric_name: str | None = None) -> None:
        if pruner is None:
            import optuna

            pruner = optuna.pruners.MedianPruner()
        self.pruner = pruner
        self.metric_name = metric_name
        self._history: StoredTrials | None = None
        self._history_key: tuple[Any, ...] | None = None
        # One study per validation split number k: trials' curves over their splits 0..k.
        self._studies: dict[int, optuna.Study] = {}
        self._study_for: tuple[str, bool] | None = None
        self._added: dict[int, set[int]] = {}  # k -> trials of the round in study k
        self._watched: set[int] = set()  # trials whose splits this callback watched
        self._split: tuple[Any, ...] | None = None
        self._k = 0
        self._trial: optuna.Trial | None = None
        self._earlier: list[dict[int, float]] = []  # the trial's earlier splits' curves
        self._reported = 0

    def __repr__(self) -> str:
        return f"PruningCallback({type(self.pruner).__name__}, metric_name={self.metric_name!r})"

    @property
    def study(self) -> optuna.Study:
        """The study the pruner decided on last (the one of that split's number)."""
        if not self._studies:
            raise ValueError("PruningCallback.study: no split was checked yet")
        return self._studies[self._k]

    def should_prune(self, split: _Split) -> bool:
        """Whether the pruner stops ``split`` after the epochs it logged so far.

        Raises:
            KeyError: The split has not logged the watched metric.
        """
        name = self.metric_name if self.metric_name is not None else split.main_metric_name
        if name is None or name not in split.metric_results:
            raise KeyError(
                f"PruningCallback watches metric {name!r}, which split {split.location} has "
                f"not logged (it logged {sorted(split.metric_results)}): log it first"
            )
        metric = split.metric_result(name)
        values = metric.get_valid_scores()
        if not values or split.split_number < 0:  # the retrain split has no peers
            return False
        key = split.location.as_tuple()
        if key != self._split:
            self._start_split(split, name, metric.is_higher_score_better())
        trial = self._trial
        assert trial is not None
        for epoch in range(self._reported + 1, len(values) + 1):
            same_epoch = [c[epoch] for c in self._earlier if epoch in c]
            same_epoch.append(float(values[epoch - 1]))
            trial.report(sum(same_epoch) / len(same_epoch), epoch)
        self._reported = len(values)
        if not trial.should_prune():
            return False
        self._end_split(pruned=True)
        return True

    def check(self, split: _Split) -> None:
        """Raise :class:`Pruned` when the pruner stops ``split``; for hand-written loops."""
        if self.should_prune(split):
            name = self.metric_name or split.main_metric_name
            values = split.metric_result(name).get_valid_scores()
            raise Pruned(
                f"{type(self.pruner).__name__} stopped split {split.split_number} at epoch "
                f"{len(values)} (valid {name} {values[-1]:.6g}) against "
                f"{len(self._added.get(self._k, ()))} finished trials of the round"
            )

    def call(
        self,
        split: _Split,
        train_eval: object,
        valid_eval: object | None,
        is_finished_and_fitted: bool = False,
    ) -> bool:
        """The trainer's callback hook: :meth:`check` after each epoch; never asks to stop."""
        self.check(split)
        if is_finished_and_fitted:
            self._end_split(pruned=False)
        return False

    # -- internals ------------------------------------------------------------
    def _start_split(self, split: _Split, metric: str, higher: bool) -> None:
        self._end_split(pruned=False)
        loc = split.location
        assert loc.project is not None and loc.client is not None and loc.round is not None
        assert loc.trial is not None
        round_key = (id(split.repo), loc.project, loc.client, loc.round)
        if self._history is None or round_key != self._history_key:
            self._history = StoredTrials(split.repo, loc.project, loc.client, loc.round)
            self._history_key, self._studies = round_key, {}
        history = self._history
        changed = history.update()
        if self._study_for != (metric, higher):
            self._studies, self._added, self._study_for = {}, {}, (metric, higher)
        k = self._k = split.split_number
        if k not in self._studies:
            self._studies[k] = self._new_study(higher)
            self._added[k] = set()
            changed = set(history.trials)
        for number in sorted(changed - self._added[k] - {loc.trial}):
            self._add(k, history.trials[number], metric)
        self._watched.add(loc.trial)
        self._earlier = [history.running_split_values(loc.trial, j, metric) for j in range(k)]
        self._split = loc.as_tuple()
        self._trial = self._studies[k].ask()
        self._reported = 0

    def _end_split(self, pruned: bool) -> None:
        """Close the watched split's study trial (its rungs stay for successive halving)."""
        from optuna.trial import TrialState

        if self._trial is not None:
            state = TrialState.PRUNED if pruned else TrialState.FAIL
            self._studies[self._k].tell(self._trial, state=state)
        self._trial, self._split = None, None

    def _new_study(self, higher: bool) -> optuna.Study:
        import optuna

        return optuna.create_study(
            pruner=self.pruner,
            sampler=optuna.samplers.RandomSampler(seed=0),
            direction="maximize" if higher else "minimize",
        )

    def _add(self, k: int, record: TrialRecord, metric: str) -> None:
        """Put a finished trial of the round into study ``k`` (running ones wait)."""
        from optuna.pruners import HyperbandPruner, SuccessiveHalvingPruner
        from optuna.trial import TrialState, create_trial

        if not record.finished:
            return
        self._added[k].add(record.number)
        curve = mean_curve(record.split_curves.get(metric, [])[: k + 1])
        steps = {e: v for e, v in enumerate(curve, start=1) if not math.isnan(v)}
        score = record.scores.get(metric)
        if score is not None and math.isfinite(score):
            state, value = TrialState.COMPLETE, score
        elif record.pruned:
            state, value = TrialState.PRUNED, None
        else:
            return
        study = self._studies[k]
        rungs = isinstance(self.pruner, (SuccessiveHalvingPruner, HyperbandPruner))
        if rungs and record.number not in self._watched:
            # Replay the curve so that the rungs it reached are recorded.
            trial = study.ask()
            for epoch, step_value in steps.items():
                trial.report(step_value, epoch)
                trial.should_prune()
            study.tell(trial, value, state=state)
            return
        study.add_trial(create_trial(state=state, value=value, intermediate_values=steps))
