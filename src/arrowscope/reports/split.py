"""``TrialSplitReport``: one validation (or retrain) split of a trial."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import TrialStatus
from arrowscope.reports._base import BaseReport, parse_hyperparams, parse_status
from arrowscope.reports._rows import RoundState, ScopeState, SplitValues
from arrowscope.reports.metric import MetricResultsReport

if TYPE_CHECKING:
    import polars as pl


class TrialSplitReport(BaseReport):
    """A split's status, times, hyperparameters and metrics (children, by name)."""

    TRIAL_SPLIT_ID_COLUMN_NAME = "split_number"

    @property
    def split_number(self) -> int:
        assert self.location.split is not None
        return self.location.split

    def _state(self) -> ScopeState | None:
        rows = self._reader.records(
            ScopeState, "scope_states", **self._params(trial=self.location.trial)
        )
        for row in rows:
            if row.level == "split" and row.split == self.location.split:
                return row
        return None

    def _metric_rows(self) -> list[SplitValues]:
        return self._reader.records(
            SplitValues,
            "split_values",
            **self._params(trial=self.location.trial, split=self.location.split),
        )

    def get_status(self) -> TrialStatus:
        """PLANNED, RUNNING, SUCCESS, FAILED or ABORTED."""
        state = self._state()
        return parse_status(state.status if state else None)

    def is_success(self) -> bool:
        return self.get_status() is TrialStatus.SUCCESS

    def get_hyperparams(self) -> HyperparameterSamples:
        """The split's hyperparameters: its trial's."""
        state = self._state()
        return parse_hyperparams(state.hyperparams if state else None)

    @property
    def error(self) -> str | None:
        """``"ExceptionType: message"`` of the failure, or None."""
        state = self._state()
        return state.error if state else None

    @property
    def created_time(self) -> datetime | None:
        state = self._state()
        return state.created_at if state else None

    @property
    def start_time(self) -> datetime | None:
        state = self._state()
        return (state.started_at or state.created_at) if state else None

    @property
    def end_time(self) -> datetime | None:
        state = self._state()
        return state.ended_at if state else None

    def get_metric_names(self) -> list[str]:
        """The metric names, alphabetically."""
        return [row.metric for row in self._metric_rows()]

    def _child_ids(self) -> Sequence[str]:
        return self.get_metric_names()

    def _child(self, key: Any) -> MetricResultsReport:
        return MetricResultsReport(self._reader, self.location.child(key))

    @property
    def metric_results(self) -> dict[str, MetricResultsReport]:
        """Every metric of the split by name (read-only)."""
        return {name: self._child(name) for name in self.get_metric_names()}

    def metric_result(self, metric_name: str | None = None) -> MetricResultsReport:
        """One metric, read-only; None means the round's main metric. KeyError if absent."""
        name = metric_name if metric_name is not None else self._round_main_metric()
        if name is None or name not in self.get_metric_names():
            raise KeyError(f"metric {name!r} was not recorded in split {self.location}")
        return self._child(name)

    def _round_main_metric(self) -> str | None:
        rows = self._reader.records(RoundState, "round_state", **self._params())
        return rows[0].main_metric_name if rows else None

    def is_higher_score_better(self, metric_name: str) -> bool:
        """The metric's direction in this split. KeyError if absent."""
        for row in self._metric_rows():
            if row.metric == metric_name:
                return bool(row.higher_is_better)
        raise KeyError(f"metric {metric_name!r} was not recorded in split {self.location}")

    def to_scores_over_time_df(self, metric_name: str) -> pl.DataFrame:
        """Columns split_number, epoch, phase, <metric>: train rows, then valid rows."""
        for row in self._metric_rows():
            if row.metric == metric_name:
                return scores_frame(self.split_number, metric_name, row.train, row.valid)
        raise KeyError(f"metric {metric_name!r} was not recorded in split {self.location}")


def scores_frame(
    split: int, metric: str, train: Sequence[float], valid: Sequence[float]
) -> pl.DataFrame:
    """One split's curves as rows of (split_number, epoch, phase, <metric>)."""
    import polars as pl

    n_train, n_valid = len(train), len(valid)
    return pl.DataFrame(
        {
            TrialSplitReport.TRIAL_SPLIT_ID_COLUMN_NAME: [split] * (n_train + n_valid),
            "epoch": list(range(1, n_train + 1)) + list(range(1, n_valid + 1)),
            "phase": ["train"] * n_train + ["valid"] * n_valid,
            metric: list(train) + list(valid),
        },
        schema={
            TrialSplitReport.TRIAL_SPLIT_ID_COLUMN_NAME: pl.Int64,
            "epoch": pl.Int64,
            "phase": pl.String,
            metric: pl.Float64,
        },
    )
