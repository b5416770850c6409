"""``Trial``: one set of hyperparameters, trained over its validation splits."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from arrowscope.aggregates._scope import (
    Managed,
    ScopeMembers,
    Stamp,
    context_reader,
    datetime_to_us,
    error_fields,
    exit_status,
    is_suppressible,
)
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.aggregates.split import TrialSplit
from arrowscope.errors import ScopeClosedError
from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import RETRAIN_SPLIT, TrialStatus
from arrowscope.reports import TrialReport
from arrowscope.reports._base import parse_hyperparams, parse_status
from arrowscope.reports._rows import SplitScore
from arrowscope.reports.trial import TrialSnapshot
from arrowscope.store._buffer import now_us

if TYPE_CHECKING:
    from arrowscope.aggregates.round import Round


class Trial(ScopeMembers, TrialReport):
    """A trial being run: opens splits, and decides its status when it exits.

    Status rules (SPEC §1.3, §2.8): RUNNING while its block runs; on exit,
    SUCCESS when no split failed or some succeeded, FAILED when every split
    failed or an exception escaped, ABORTED on KeyboardInterrupt/SystemExit.
    """

    def __init__(
        self,
        context: AutoMLContext,
        parent: Round,
        hyperparams: HyperparameterSamples,
        continue_on_error: bool = False,
        splits: dict[int, TrialStatus] | None = None,
        scores: dict[int, tuple[float, bool] | None] | None = None,
        created_us: int | None = None,
        retrain_record: int | None = None,
    ) -> None:
        TrialReport.__init__(self, context_reader(context), context.location)
        self._init_scope(context, parent)
        self._hyperparams = hyperparams
        self._hyperparams_json = hyperparams.to_json()
        self._continue = continue_on_error
        self._splits: dict[int, TrialStatus] = {}
        self._scores: dict[int, tuple[float, bool] | None] = {}
        self._status = TrialStatus.PLANNED
        self._created_us = now_us()
        self._started_us: int | None = None
        self._ended_us: int | None = None
        self._retrain_error: BaseException | None = None
        # The record number of the current retrain split (None: never retrained).
        self._retrain_record = retrain_record
        # Set on trials loaded by from_context: they are read, never written.
        self._read_only = False

    @classmethod
    def _from_store(cls, parent: Round, number: int, continue_on_error: bool = False) -> Trial:
        """Trial ``number`` of ``parent`` as stored (a fresh PLANNED one if absent); no write."""
        trial = cls(
            parent.context.push(number), parent, HyperparameterSamples({}), continue_on_error
        )
        trial._load(TrialReport._snapshot(trial))
        return trial

    def _load(self, snap: TrialSnapshot) -> None:
        """Take status, hyperparameters, times and splits from a stored snapshot."""
        state = snap.state
        self._hyperparams = parse_hyperparams(state.hyperparams if state else None)
        self._hyperparams_json = self._hyperparams.to_json()
        self._status = parse_status(state.status if state else None)
        self._splits = dict(snap.split_status)
        self._scores = self._stored_scores()
        retrain = snap.splits.get(RETRAIN_SPLIT)
        self._retrain_record = None if retrain is None else retrain.record
        # Events this process writes from here on must sort after every stored one.
        self._context.repository.observe_clock(snap.last_clock)  # type: ignore[union-attr]
        if state is not None:
            self._created_us = datetime_to_us(state.created_at) or self._created_us
            self._started_us = datetime_to_us(state.started_at)
            self._ended_us = datetime_to_us(state.ended_at)

    def _stored_scores(self) -> dict[int, tuple[float, bool] | None]:
        """Each stored validation split's best main-metric value and direction."""
        metric = self.main_metric_name
        rows = self._reader_of().records(
            SplitScore, "split_scores", **self._params(trial=self.trial_number, split=None)
        )
        return {
            r.split: (r.best, bool(r.higher_is_better))
            for r in rows
            if r.metric == metric and r.split != RETRAIN_SPLIT and r.best is not None
        }

    def refresh(self, deep: bool = True) -> Trial:
        """Re-read the status, hyperparameters, times and splits; returns self.

        Useful on a trial loaded with ``from_context`` (or kept after its
        block exited) while another process runs or re-opens it.

        Raises:
            ValueError: the repository holds fewer validation splits than this
                handle knows (it was written elsewhere, or rows were lost).

        The seed's ``RuntimeError`` for unsaved changes cannot arise: every
        change of a trial is written when it is made.
        """
        snap = TrialReport._snapshot(self)
        missing = set(self._splits) - set(snap.split_status)
        if missing:
            raise ValueError(
                f"trial {self.location}: the repository has {len(snap.validation_splits())} "
                f"validation splits but this handle knows {len(self)}; splits "
                f"{sorted(missing)} are not stored"
            )
        self._load(snap)
        self.is_deep = deep
        return self

    # -- events --------------------------------------------------------------
    def _plan(self) -> None:
        self._status_event(TrialStatus.PLANNED, self._created_us)
        self._log(logging.INFO, "planned trial %s: %s", self.location, self._hyperparams)

    def _start(self) -> None:
        self._started_us = max(now_us(), self._created_us)
        self._status_event(TrialStatus.RUNNING, self._started_us)

    def _end(self, status: TrialStatus, exc: BaseException | None) -> None:
        self._ended_us = max(now_us(), (self._started_us or self._created_us) + 1)
        self._status_event(status, self._ended_us, **error_fields(exc))
        self.repo.flush(self._key())

    def _finish(self, exc: BaseException | None) -> None:
        """Decide and write the status at the trial's exit (SPEC §2.8).

        A failed retrain split does not count against the trial (SPEC D6): its
        status is decided from the validation splits as on a clean exit.
        """
        if exc is not None and exc is not self._retrain_error:
            self._end(exit_status(exc), exc)
            self._log(logging.WARNING, "trial %s ended %s: %r", self.location, self._status, exc)
            return
        statuses = [s for n, s in self._splits.items() if n != RETRAIN_SPLIT]
        if statuses and TrialStatus.SUCCESS not in statuses:
            self._log(logging.WARNING, "All trial splits failed for this trial.")
            self._end(TrialStatus.FAILED, None)
        else:
            self._end(TrialStatus.SUCCESS, None)

    # -- splits ----------------------------------------------------------------
    def continue_loop_on_error(self) -> Trial:
        """From now on, failing splits of this trial do not stop it."""
        self._continue = True
        return self

    def new_validation_split(self, continue_loop_on_error: bool = False) -> Managed[TrialSplit]:
        """``with trial.new_validation_split() as split:`` -- the next split, numbered from 0."""
        return Managed(lambda: self._open_split(continue_loop_on_error, False), self._release)

    def retrain_split(self) -> Managed[TrialSplit]:
        """``with trial.retrain_split() as split:`` -- split -1, replacing any earlier one."""
        return Managed(lambda: self._open_split(False, True), self._release)

    def _open_split(self, continue_on_error: bool, retrain: bool) -> TrialSplit:
        if self._read_only:
            raise ScopeClosedError(
                f"trial {self.location} was loaded with from_context and is read-only: "
                "splits are added inside the trial's block (`with rnd.last_trial() as trial:` "
                "re-opens the last trial of a round)"
            )
        number = RETRAIN_SPLIT if retrain else len(self)
        flag = False if retrain else (continue_on_error or self._continue)
        record = 0
        if retrain:
            # A new retrain split replaces the earlier one: it starts a new record.
            record = 0 if self._retrain_record is None else self._retrain_record + 1
            self._retrain_record = record
        split = TrialSplit(
            self._context.push(number),
            self,
            self._hyperparams,
            flag,
            self._hyperparams_json,
            record,
        )
        split._plan()
        self._splits[number] = TrialStatus.PLANNED
        return split

    def _release(self, split: TrialSplit, exc: BaseException | None) -> bool:
        status = exit_status(exc)
        split._finish(status, error_fields(exc))
        self._splits[split.split_number] = status
        self._scores[split.split_number] = _split_score(split, self.main_metric_name)
        if exc is None:
            return False
        if split.continue_on_error and is_suppressible(exc):
            self._log(logging.WARNING, "split %s failed, continuing: %r", split.location, exc)
            return True
        if split.split_number == RETRAIN_SPLIT:
            self._retrain_error = exc
        else:
            self._end(exit_status(exc), exc)
        return False

    def running_score(self) -> float | None:
        """The trial's score from what this process saw (no query)."""
        if self._status is not TrialStatus.SUCCESS:
            return None
        scores = [
            v[0]
            for n, v in self._scores.items()
            if n != RETRAIN_SPLIT and v is not None and self._splits[n] is TrialStatus.SUCCESS
        ]
        return sum(scores) / len(scores) if scores else None

    def running_direction(self) -> bool:
        """The main metric's direction in the last split that logged it (True if none)."""
        for number in reversed(self._validation_splits):
            found = self._scores.get(number)
            if found is not None:
                return found[1]
        return True

    # -- reports answered from memory --------------------------------------------
    @property
    def main_metric_name(self) -> str | None:
        round_: Round = self._parent_scope
        return round_.main_metric_name

    @property
    def _validation_splits(self) -> list[int]:
        return sorted(n for n in self._splits if n != RETRAIN_SPLIT)

    def __len__(self) -> int:
        # Counted, not sorted: new_validation_split asks for it at every split.
        return len(self._splits) - (RETRAIN_SPLIT in self._splits)

    def _child_ids(self) -> list[int]:
        return self._validation_splits

    def get_hyperparams(self) -> HyperparameterSamples:
        return self._hyperparams

    @property
    def hyperparams(self) -> HyperparameterSamples:
        return self._hyperparams

    def get_status(self) -> TrialStatus:
        return self._status

    def _load_child(self, key: int) -> TrialSplit:
        """Split ``key`` as stored (read-only; a fresh PLANNED one if absent)."""
        return TrialSplit._from_store(self, key)

    created_time = Stamp("_created_us")
    start_time = Stamp("_started_us")
    end_time = Stamp("_ended_us")


def _split_score(split: TrialSplit, metric: str | None) -> tuple[float, bool] | None:
    """The split's best valid value of ``metric`` and the metric's direction."""
    if metric is None or metric not in split._metrics:
        return None
    found = split._metrics[metric]
    best = found._best()
    return None if best is None else (best[0], found.is_higher_score_better())
