"""``TrialReport``: one trial, its validation splits and its retrain split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import RETRAIN_SPLIT, TrialStatus
from arrowscope.reports._base import BaseReport, parse_hyperparams, parse_status
from arrowscope.reports._rows import ScopeState, SplitValues, TrialMetric
from arrowscope.reports.split import TrialSplitReport, scores_frame

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class TrialSnapshot:
    """A trial's state and its splits' states, read in one query."""

    state: ScopeState | None
    splits: dict[int, ScopeState] = field(default_factory=dict)

    @property
    def split_status(self) -> dict[int, TrialStatus]:
        return {n: parse_status(s.status) for n, s in self.splits.items()}

    @property
    def last_clock(self) -> int | None:
        """The greatest clock of the trial's and its splits' events."""
        clocks = [s.last_clock for s in self.splits.values()]
        if self.state is not None:
            clocks.append(self.state.last_clock)
        return max(clocks, default=None)

    def validation_splits(self) -> list[int]:
        return sorted(s for s in self.splits if s != RETRAIN_SPLIT)


class TrialReport(BaseReport):
    """A trial's status, hyperparameters, times and validation-split scores."""

    TRIAL_ID_COLUMN_NAME = "trial_number"

    @property
    def trial_number(self) -> int:
        assert self.location.trial is not None
        return self.location.trial

    def _snapshot(self) -> TrialSnapshot:
        states = self._reader.records(
            ScopeState, "scope_states", **self._params(trial=self.trial_number)
        )
        trial_state = next((r for r in states if r.level == "trial"), None)
        splits = {r.split: r for r in states if r.level == "split" and r.split is not None}
        return TrialSnapshot(trial_state, splits)

    def _metric_rows(self) -> list[SplitValues]:
        return self._reader.records(
            SplitValues, "split_values", **self._params(trial=self.trial_number, split=None)
        )

    def _trial_metric(self, metric_name: str) -> TrialMetric | None:
        rows = self._reader.records(
            TrialMetric, "trial_metrics", **self._params(trial=self.trial_number)
        )
        return next((r for r in rows if r.metric == metric_name), None)

    def _child_ids(self) -> Sequence[int]:
        return self._snapshot().validation_splits()

    def _child(self, key: Any) -> TrialSplitReport:
        return TrialSplitReport(self._reader, self.location.child(key))

    @property
    def retrained_split(self) -> TrialSplitReport | None:
        """The retrain split (id -1), or None; never counted among the validation splits."""
        if RETRAIN_SPLIT in self._snapshot().splits:
            return self._child(RETRAIN_SPLIT)
        return None

    def get_status(self) -> TrialStatus:
        state = self._snapshot().state
        return parse_status(state.status if state else None)

    def is_success(self) -> bool:
        return self.get_status() is TrialStatus.SUCCESS

    def get_hyperparams(self) -> HyperparameterSamples:
        state = self._snapshot().state
        return parse_hyperparams(state.hyperparams if state else None)

    @property
    def error(self) -> str | None:
        """``"ExceptionType: message"`` of the failure, or None."""
        state = self._snapshot().state
        return state.error if state else None

    @property
    def created_time(self) -> datetime | None:
        state = self._snapshot().state
        return state.created_at if state else None

    @property
    def start_time(self) -> datetime | None:
        state = self._snapshot().state
        return (state.started_at or state.created_at) if state else None

    @property
    def end_time(self) -> datetime | None:
        state = self._snapshot().state
        return state.ended_at if state else None

    def get_metric_names(self) -> list[str]:
        """Metric names of the validation splits, first-seen order, alphabetical per split."""
        rows = self._reader.rows(
            "metric_names", **self._params(trial=self.trial_number, split=None)
        )
        return [r[0] for r in rows]

    def are_all_splits_successful(self) -> bool:
        snap = self._snapshot()
        status = snap.split_status
        return all(status[s] is TrialStatus.SUCCESS for s in snap.validation_splits())

    def are_all_splits_failures(self) -> bool:
        snap = self._snapshot()
        status = snap.split_status
        return all(status[s] is not TrialStatus.SUCCESS for s in snap.validation_splits())

    def get_avg_validation_score(
        self, metric_name: str, over_time: bool = False
    ) -> float | list[float] | None:
        """Mean over SUCCESS splits of each split's best valid value; None unless SUCCESS.

        With ``over_time`` the mean curve per epoch, over the splits that reached it.
        """
        if over_time:
            rows = self._reader.rows(
                "round_curves", **self._params(metric=metric_name, trial=self.trial_number)
            )
            return [r[2] for r in rows] or None
        found = self._trial_metric(metric_name)
        return None if found is None else found.score

    def get_avg_n_epoch_to_best_validation_score(self, metric_name: str) -> float | None:
        """Mean 1-based epoch of each SUCCESS split's best valid value, or None."""
        found = self._trial_metric(metric_name)
        return None if found is None else found.n_epochs_to_best

    def is_higher_score_better(self, metric_name: str) -> bool:
        """The direction declared in the last validation split that has the metric."""
        found = self._trial_metric(metric_name)
        if found is None:
            raise KeyError(f"metric {metric_name!r} was not recorded in trial {self.location}")
        return bool(found.higher_is_better)

    def to_scores_over_time_df(self, metric_name: str) -> pl.DataFrame:
        """Every validation split's curves (any status), in split order."""
        import polars as pl

        frames = [
            scores_frame(m.split, metric_name, m.train, m.valid)
            for m in self._metric_rows()
            if m.split != RETRAIN_SPLIT and m.metric == metric_name
        ]
        if not frames:
            return scores_frame(0, metric_name, [], [])
        return pl.concat(frames)
