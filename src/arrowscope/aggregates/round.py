"""``Round``: one hyperparameter search -- trials proposed by an optimizer."""

from __future__ import annotations

import copy
import logging
import threading
from typing import TYPE_CHECKING

from arrowscope.aggregates._scope import Managed, ScopeMembers, context_reader
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.aggregates.trial import Trial
from arrowscope.errors import ScopeClosedError
from arrowscope.hyperparams import (
    HyperparameterOptimizer,
    HyperparameterSamples,
    HyperparameterSpace,
)
from arrowscope.location import TrialStatus, validate_name
from arrowscope.reports import RoundReport, TrialReport

if TYPE_CHECKING:
    from arrowscope.aggregates.tree import Client


class Round(ScopeMembers, RoundReport):
    """A round of trials. Keeps the best trial seen by this process incrementally,
    so the cost of a trial does not grow with the number of trials before it.

    Several threads may open trials of one round at once (each trial is run
    by the thread that opened it); the optimizer is then called from each of
    them, so it must tolerate that.
    """

    def __init__(
        self, context: AutoMLContext, parent: Client | None, main_metric_name: str | None
    ) -> None:
        RoundReport.__init__(self, context_reader(context), context.location)
        self._init_scope(context, parent)
        self._main_metric = main_metric_name
        self._optimizer: HyperparameterOptimizer | None = None
        self._space: HyperparameterSpace | None = None
        self._best: tuple[float, int] | None = None
        self._best_lock = threading.Lock()

    @property
    def main_metric_name(self) -> str | None:
        """The main metric, as set by this handle or read when it was opened."""
        return self._main_metric

    def refresh(self, deep: bool = True) -> Round:
        """Re-read what another process may have changed: the main metric; returns self.

        The trials are listed from the repository on every access, so they
        need no refresh. The seed's errors cannot arise: trial numbers are
        never given back (no fewer children), and ``with_metric`` writes at
        once (no unsaved changes).
        """
        self._load()
        self.is_deep = deep
        return self

    def _load(self) -> None:
        """Read the stored main metric, and the round's clock: later events sort after it."""
        state = self._round_state()
        self._main_metric = state.main_metric_name if state else None
        self.repo.observe_clock(state.last_clock if state else None)

    def with_optimizer(
        self, hp_optimizer: HyperparameterOptimizer, hp_space: HyperparameterSpace
    ) -> Round:
        """Set the optimizer and space used by ``new_rvs_trial`` (kept in memory only)."""
        if not hasattr(hp_optimizer, "find_next_best_hyperparams"):
            raise TypeError(
                f"{hp_optimizer!r} is not an optimizer: it needs a "
                "find_next_best_hyperparams(round_report, hp_space) method"
            )
        self._optimizer, self._space = hp_optimizer, hp_space
        return self

    def with_metric(self, metric_name: str) -> Round:
        """Set (and store) the round's main metric."""
        validate_name(metric_name, "metric name")
        self._set_main_metric(metric_name)
        return self

    def _set_main_metric(self, metric_name: str | None) -> None:
        self._main_metric = metric_name
        self.repo.append_event(self._key(), level="round", main_metric_name=metric_name)
        self.repo.flush(self._key())

    # -- trials ----------------------------------------------------------------
    def new_rvs_trial(self, continue_on_error: bool = False) -> Managed[Trial]:
        """``with round.new_rvs_trial() as trial:`` -- a new trial from the optimizer."""
        return Managed(lambda: self._new_trial(continue_on_error), self._release)

    def last_trial(self, continue_on_error: bool = False) -> Managed[Trial]:
        """Re-open the last trial with its hyperparameters and splits (ValueError if none)."""
        return Managed(lambda: self._reopen(None, continue_on_error), self._release)

    def refitting_best_trial(self) -> Managed[Trial]:
        """Re-open the best trial to retrain it (ValueError if no trial is eligible)."""
        return Managed(lambda: self._reopen(self._best_id(), False), self._release)

    def _new_trial(self, continue_on_error: bool) -> Trial:
        if self._optimizer is None or self._space is None:
            raise ScopeClosedError(
                f"round {self.location}: call with_optimizer(optimizer, space) "
                "before new_rvs_trial()"
            )
        samples = self._optimizer.find_next_best_hyperparams(self, self._space)
        hyperparams = (
            samples
            if isinstance(samples, HyperparameterSamples)
            else HyperparameterSamples(samples)
        )
        loc = self.location
        assert loc.project is not None and loc.client is not None
        number = self.repo.allocate(loc.project, loc.client, loc.round)
        trial = Trial(self._context.push(number), self, hyperparams, continue_on_error)
        trial._plan()
        trial._start()
        return trial

    def _best_id(self) -> int:
        best = self.get_best_trial_id()
        if best is None:
            raise ValueError(
                f"round {self.location} has no successful trial with a score for "
                f"{self.main_metric_name!r}: nothing to refit"
            )
        return best

    def _reopen(self, number: int | None, continue_on_error: bool) -> Trial:
        if number is None:
            if len(self) == 0:
                raise ValueError(f"round {self.location} has no trial: last_trial() needs one")
            number = len(self) - 1
        trial = Trial._from_store(self, number, continue_on_error)
        trial._start()
        return trial

    def _load_child(self, key: int) -> Trial:
        """Trial ``key`` as stored (read-only; a fresh PLANNED one if absent)."""
        trial = Trial._from_store(self, key)
        trial._read_only = True
        return trial

    def _release(self, trial: Trial, exc: BaseException | None) -> bool:
        trial._finish(exc)
        self._note(trial)
        return False

    def _note(self, trial: Trial) -> None:
        """Update the running best and log it (never raises, SPEC D14)."""
        score = trial.running_score()
        if score is None or trial.get_status() is not TrialStatus.SUCCESS:
            return
        higher = trial.running_direction()
        with self._best_lock:  # trials of other threads end concurrently
            best = self._best
            if best is None or (score > best[0] if higher else score < best[0]):
                best = self._best = (score, trial.trial_number)
        self._log(logging.INFO, "best so far: trial %s, score %s", best[1], best[0])

    def append(self, trial: TrialReport) -> Round:
        """Store a copy of ``trial``'s record under its id (equal to len: appended)."""
        number, count = trial.trial_number, len(self)
        if number > count:
            raise ValueError(f"trial id {number} skips ids: this round has {count} trials")
        if number == count:
            loc = self.location
            assert loc.project is not None and loc.client is not None
            number = self.repo.allocate(loc.project, loc.client, loc.round)
        copy_ = Trial(self._context.push(number), self, trial.get_hyperparams())
        copy_._plan()
        status = trial.get_status()
        if status is not TrialStatus.PLANNED:
            copy_._end(status, None)
        self.repo.flush(self._key())
        return self

    def copy(self) -> Round:
        """A new handle on the same round; in-memory settings are copied, not shared."""
        clone = copy.copy(self)
        clone._space = copy.deepcopy(self._space)
        return clone
