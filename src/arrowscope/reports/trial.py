"""``TrialReport``: one trial, its validation splits and its retrain split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import RETRAIN_SPLIT, TrialStatus
from arrowscope.reports._base import BaseReport, best_of, parse_hyperparams, parse_status
from arrowscope.reports.split import TrialSplitReport, scores_frame


@dataclass(frozen=True)
class SplitMetric:
    """One metric of one split as stored."""

    split: int
    metric: str
    higher_is_better: bool
    train: list[float]
    valid: list[float]


@dataclass(frozen=True)
class TrialSnapshot:
    """Everything stored about one trial, read in two queries."""

    state: tuple[Any, ...] | None
    split_status: dict[int, TrialStatus] = field(default_factory=dict)
    metrics: list[SplitMetric] = field(default_factory=list)

    def validation_splits(self) -> list[int]:
        return sorted(s for s in self.split_status if s != RETRAIN_SPLIT)

    def metric(self, split: int, name: str) -> SplitMetric | None:
        for m in self.metrics:
            if m.split == split and m.metric == name:
                return m
        return None


class TrialReport(BaseReport):
    """A trial's status, hyperparameters, times and validation-split scores."""

    TRIAL_ID_COLUMN_NAME = "trial_number"

    @property
    def trial_number(self) -> int:
        assert self.location.trial is not None
        return self.location.trial

    def _snapshot(self) -> TrialSnapshot:
        states = self._reader.rows("scope_states", **self._params(trial=self.trial_number))
        trial_state = next((r for r in states if r[0] == "trial"), None)
        split_status = {r[2]: parse_status(r[3]) for r in states if r[0] == "split"}
        values = self._reader.rows(
            "split_values", **self._params(trial=self.trial_number, split=None)
        )
        metrics = [SplitMetric(r[0], r[1], bool(r[2]), list(r[3]), list(r[4])) for r in values]
        return TrialSnapshot(trial_state, split_status, metrics)

    def _split_ids(self) -> list[int]:
        return self._snapshot().validation_splits()

    def _child_ids(self) -> Sequence[int]:
        return self._split_ids()

    def _child(self, key: Any) -> TrialSplitReport:
        return TrialSplitReport(self._reader, self.location.child(key))

    @property
    def retrained_split(self) -> TrialSplitReport | None:
        """The retrain split (id -1), or None; never counted among the validation splits."""
        if RETRAIN_SPLIT in self._snapshot().split_status:
            return self._child(RETRAIN_SPLIT)
        return None

    def get_status(self) -> TrialStatus:
        state = self._snapshot().state
        return parse_status(state[3] if state else None)

    def is_success(self) -> bool:
        return self.get_status() is TrialStatus.SUCCESS

    def get_hyperparams(self) -> HyperparameterSamples:
        state = self._snapshot().state
        return parse_hyperparams(state[4] if state else None)

    @property
    def error(self) -> str | None:
        """``"ExceptionType: message"`` of the failure, or None."""
        state = self._snapshot().state
        return state[5] if state else None

    @property
    def created_time(self) -> datetime | None:
        state = self._snapshot().state
        return state[6] if state else None

    @property
    def start_time(self) -> datetime | None:
        state = self._snapshot().state
        return (state[7] or state[6]) if state else None

    @property
    def end_time(self) -> datetime | None:
        state = self._snapshot().state
        return state[8] if state else None

    def get_metric_names(self) -> list[str]:
        """Metric names of the validation splits, first-seen order, alphabetical per split."""
        rows = self._reader.rows(
            "metric_names", **self._params(trial=self.trial_number, split=None)
        )
        return [r[0] for r in rows]

    def are_all_splits_successful(self) -> bool:
        snap = self._snapshot()
        return all(snap.split_status[s] is TrialStatus.SUCCESS for s in snap.validation_splits())

    def are_all_splits_failures(self) -> bool:
        snap = self._snapshot()
        return all(
            snap.split_status[s] is not TrialStatus.SUCCESS for s in snap.validation_splits()
        )

    def _scored_splits(self, snap: TrialSnapshot, metric: str) -> list[SplitMetric]:
        found = (snap.metric(s, metric) for s in snap.validation_splits())
        return [
            m
            for m in found
            if m is not None and snap.split_status[m.split] is TrialStatus.SUCCESS and m.valid
        ]

    def get_avg_validation_score(
        self, metric_name: str, over_time: bool = False
    ) -> float | list[float] | None:
        """Mean over SUCCESS splits of each split's best valid value; None unless SUCCESS.

        With ``over_time`` the mean curve per epoch, over the splits that reached it.
        """
        snap = self._snapshot()
        if snap.state is None or parse_status(snap.state[3]) is not TrialStatus.SUCCESS:
            return None
        splits = self._scored_splits(snap, metric_name)
        if over_time:
            return mean_curve([m.valid for m in splits]) or None
        bests = [best_of(m.valid, m.higher_is_better) for m in splits]
        scores = [b[0] for b in bests if b is not None]
        return sum(scores) / len(scores) if scores else None

    def get_avg_n_epoch_to_best_validation_score(self, metric_name: str) -> float | None:
        """Mean 1-based epoch of each SUCCESS split's best valid value, or None."""
        splits = self._scored_splits(self._snapshot(), metric_name)
        bests = [best_of(m.valid, m.higher_is_better) for m in splits]
        epochs = [b[1] for b in bests if b is not None]
        return sum(epochs) / len(epochs) if epochs else None

    def is_higher_score_better(self, metric_name: str) -> bool:
        """The direction declared in the last validation split that has the metric."""
        snap = self._snapshot()
        for split in reversed(snap.validation_splits()):
            found = snap.metric(split, metric_name)
            if found is not None:
                return found.higher_is_better
        raise KeyError(f"metric {metric_name!r} was not recorded in trial {self.location}")

    def to_scores_over_time_df(self, metric_name: str) -> pl.DataFrame:
        """Every validation split's curves (any status), in split order."""
        snap = self._snapshot()
        frames = [
            scores_frame(m.split, metric_name, m.train, m.valid)
            for s in snap.validation_splits()
            if (m := snap.metric(s, metric_name)) is not None
        ]
        if not frames:
            return scores_frame(0, metric_name, [], [])
        return pl.concat(frames)


def mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """Element-wise mean per epoch over the curves that reached that epoch."""
    longest = max((len(c) for c in curves), default=0)
    out = []
    for i in range(longest):
        values = [c[i] for c in curves if len(c) > i]
        out.append(sum(values) / len(values))
    return out
