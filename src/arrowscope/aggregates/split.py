"""``TrialSplit``: one validation (or retrain) split, the home of its metrics."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from arrowscope.aggregates._scope import (
    Managed,
    ScopeMembers,
    Stamp,
    context_reader,
    datetime_to_us,
)
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.aggregates.metric import MetricResults
from arrowscope.errors import ScopeClosedError
from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import TrialStatus, validate_name
from arrowscope.reports import TrialSplitReport
from arrowscope.reports._base import parse_hyperparams, parse_status
from arrowscope.reports.split import scores_frame
from arrowscope.store._buffer import MetricBuffer, now_us

if TYPE_CHECKING:
    import polars as pl

    from arrowscope.aggregates.trial import Trial

logger = logging.getLogger(__name__)


class TrialSplit(ScopeMembers, TrialSplitReport):
    """A split being trained: epochs, metrics, and its status once it exits.

    The split's metrics live in memory while it runs, so reading them (for
    early stopping, say) costs no query.
    """

    def __init__(
        self,
        context: AutoMLContext,
        parent: Trial,
        hyperparams: HyperparameterSamples,
        continue_on_error: bool,
        hyperparams_json: str | None = None,
        record: int = 0,
    ) -> None:
        TrialSplitReport.__init__(self, context_reader(context), context.location)
        self._init_scope(context, parent)
        self._hyperparams = hyperparams
        self._hyperparams_json = hyperparams_json or hyperparams.to_json()
        self.continue_on_error = continue_on_error
        self._record = record
        self.epoch = 0
        self.n_epochs: int | None = None
        self._status = TrialStatus.PLANNED
        self._metrics: dict[str, MetricResults] = {}
        self._created_us = now_us()
        self._started_us: int | None = None
        self._ended_us: int | None = None
        # Set on splits loaded by from_context: they are read, never written.
        self._read_only = False

    @classmethod
    def _from_store(cls, parent: Trial, number: int) -> TrialSplit:
        """Split ``number`` of ``parent`` as stored, read-only (fresh and PLANNED if absent)."""
        split = cls(parent.context.push(number), parent, parent.get_hyperparams(), False)
        split._read_only = True
        split._load()
        return split

    def _load(self) -> None:
        """Take status, times and, for a read-only split, metric values from the store."""
        state = TrialSplitReport._state(self)
        if state is not None:
            self._status = parse_status(state[3])
            if state[4]:
                self._hyperparams, self._hyperparams_json = parse_hyperparams(state[4]), state[4]
            self._created_us = datetime_to_us(state[6]) or self._created_us
            self._started_us = datetime_to_us(state[7])
            self._ended_us = datetime_to_us(state[8])
        if self._read_only:
            rows = TrialSplitReport._metric_rows(self)
            self._metrics = {row[1]: self._stored_metric(*row[1:]) for row in rows}

    def _stored_metric(
        self, name: str, higher: bool, train: list[float], valid: list[float]
    ) -> MetricResults:
        """A closed metric holding stored values (nothing of it is ever written)."""
        buffer = MetricBuffer(self.location.trial or 0, self.split_number, name)
        buffer.train.extend(train)
        buffer.valid.extend(valid)
        buffer.train_at.extend([0] * len(train))  # complete rows, already flushed
        buffer.valid_at.extend([0] * len(valid))
        buffer.train_flushed, buffer.valid_flushed = len(train), len(valid)
        metric = MetricResults(self._context.push(name), self, bool(higher), buffer)
        metric._close()
        return metric

    def refresh(self, deep: bool = True) -> TrialSplit:
        """Re-read the status and times (and, when read-only, the metrics); returns self.

        Raises:
            ValueError: the repository holds fewer metrics than this handle knows.

        The seed's ``RuntimeError`` for unsaved changes cannot arise: a split's
        status and metrics are written when they change, and its values reach
        the repository's buffers as they are logged.
        """
        stored = {row[1] for row in TrialSplitReport._metric_rows(self)}
        missing = sorted(set(self._metrics) - stored)
        if missing:
            raise ValueError(
                f"split {self.location}: metrics {missing} are known here but not stored"
            )
        self._load()
        self.is_deep = deep
        return self

    def _writable(self, action: str) -> None:
        if self._read_only:
            raise ScopeClosedError(
                f"split {self.location} was loaded with from_context and is read-only: "
                f"{action} happens in the split's block, in the process that runs it"
            )

    # -- state and events ----------------------------------------------------
    def _plan(self) -> None:
        self._status_event(TrialStatus.PLANNED, self._created_us)

    def start(self) -> TrialSplit:
        """Mark the split RUNNING now (the first ``next_epoch`` does it too)."""
        self._writable("starting it")
        self._started_us = max(now_us(), self._created_us)
        self._status_event(TrialStatus.RUNNING, self._started_us)
        self._log(logging.INFO, "started split %s", self.location)
        return self

    def _finish(self, status: TrialStatus, error: dict[str, str | None]) -> None:
        """Close the metrics, write the terminal event and flush the partition."""
        if self._started_us is None:
            self._started_us = self._created_us
        self._ended_us = max(now_us(), self._started_us + 1)
        for metric in self._metrics.values():
            metric._close()
            self._summary_event(metric)
        self._status_event(status, self._ended_us, **error)
        self.repo.flush(self._key())
        for metric in self._metrics.values():
            self.repo.release_buffer(self._key(), metric._buffer)
        if not self._metrics and status is TrialStatus.SUCCESS:
            self._log(logging.WARNING, "split %s logged no metric", self.location)

    def _summary_event(self, metric: MetricResults) -> None:
        """Record what this process logged of ``metric``: views read it, not the values."""
        self.repo.append_event(
            self._key(),
            level="metric",
            trial=self.location.trial,
            split=self.split_number,
            attempt=self._record,
            metric=metric.metric_name,
            higher_is_better=metric.is_higher_score_better(),
            **metric.summary_fields(),
        )

    # -- epochs ----------------------------------------------------------------
    def with_n_epochs(self, n_epochs: int) -> TrialSplit:
        """Set the planned number of epochs (needed by ``next_epoch``)."""
        if not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or n_epochs < 1:
            raise ValueError(f"n_epochs must be a positive int, not {n_epochs!r}")
        self.n_epochs = n_epochs
        return self

    def next_epoch(self) -> int:
        """Start the next epoch and return its 1-based number."""
        if self.n_epochs is None:
            raise ValueError(f"split {self.location}: call with_n_epochs(n) before next_epoch()")
        if self.epoch == 0:
            self.start()
        self.epoch += 1
        self._log(logging.DEBUG, "epoch %d/%d", self.epoch, self.n_epochs)
        return self.epoch

    # -- metrics ---------------------------------------------------------------
    def managed_metric(
        self, metric_name: str, higher_score_is_better: bool
    ) -> AbstractContextManager[MetricResults]:
        """``with split.managed_metric("acc", True) as m:`` -- the metric, created on first use.

        Re-entering it gives the same metric; asking for the other direction
        raises ValueError (a metric has one direction per split).
        """
        found = self._metrics.get(metric_name)
        if found is not None and found._higher is higher_score_is_better:
            return found._scope  # the seed idiom re-enters its metrics every epoch
        return Managed(lambda: self._metric(metric_name, higher_score_is_better), self._release)

    def _metric(self, name: str, higher_score_is_better: bool) -> MetricResults:
        self._writable("logging a metric")
        found = self._metrics.get(name)
        if found is not None:
            if found._higher is not higher_score_is_better:
                raise ValueError(
                    f"metric {name!r} of split {self.location} was created with "
                    f"higher_score_is_better={found._higher}; it cannot change to "
                    f"{higher_score_is_better!r}"
                )
            return found
        validate_name(name, "metric name")
        if not isinstance(higher_score_is_better, bool):
            raise TypeError(
                f"higher_score_is_better must be a bool, not {higher_score_is_better!r}"
            )
        buffer = self.repo.metric_buffer(
            self._key(),
            self.location.trial or 0,
            self.split_number,
            name,
            attempt=self._record or 0,
        )
        metric = MetricResults(self._context.push(name), self, higher_score_is_better, buffer)
        self.repo.append_event(
            self._key(),
            level="metric",
            trial=self.location.trial,
            split=self.split_number,
            attempt=self._record,
            metric=name,
            higher_is_better=higher_score_is_better,
        )
        self._metrics[name] = metric
        return metric

    def _release(self, metric: MetricResults, exc: BaseException | None) -> bool:
        if exc is not None:
            self._log(logging.WARNING, "metric %s: %r", metric.metric_name, exc)
            self.repo.flush(self._key())
        return False

    @property
    def metric_results(self) -> dict[str, MetricResults]:  # type: ignore[override]
        """The split's metrics by name."""
        return dict(self._metrics)

    def metric_result(self, metric_name: str | None = None) -> MetricResults:
        """One metric (None: the round's main metric). KeyError if it was not logged."""
        name = metric_name if metric_name is not None else self.main_metric_name
        if name not in self._metrics:
            raise KeyError(f"metric {name!r} was not logged in split {self.location}")
        return self._metrics[name]

    @property
    def main_metric_name(self) -> str | None:
        trial: Trial = self._parent_scope
        return trial.main_metric_name

    def train_context(self) -> AutoMLContext:
        """This split's context tagged ``train``, for pipelines and metric functions."""
        return self._context.with_phase("train")

    def validation_context(self) -> AutoMLContext:
        """This split's context tagged ``valid``."""
        return self._context.with_phase("valid")

    # -- reports answered from memory --------------------------------------------
    def get_status(self) -> TrialStatus:
        return self._status

    def get_hyperparams(self) -> HyperparameterSamples:
        return self._hyperparams

    def get_metric_names(self) -> list[str]:
        return sorted(self._metrics)

    def is_higher_score_better(self, metric_name: str) -> bool:
        return self.metric_result(metric_name).is_higher_score_better()

    def to_scores_over_time_df(self, metric_name: str) -> pl.DataFrame:
        metric = self.metric_result(metric_name)
        train, valid = metric.get_train_scores(), metric.get_valid_scores()
        return scores_frame(self.split_number, metric_name, train, valid)

    def _child(self, key: Any) -> MetricResults:
        return self._metrics[key]

    def _load_child(self, key: str) -> MetricResults:
        """Metric ``key``, or a fresh empty one (higher is better) if it was not logged."""
        found = self._metrics.get(key)
        return found if found is not None else self._stored_metric(key, True, [], [])

    def __len__(self) -> int:
        return len(self._metrics)

    created_time = Stamp("_created_us")
    start_time = Stamp("_started_us")
    end_time = Stamp("_ended_us")
