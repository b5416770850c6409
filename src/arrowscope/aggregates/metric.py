"""``MetricResults``: the logging hot path, one metric of one open split."""

from __future__ import annotations

import numbers
import time
from array import array
from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from arrowscope.aggregates._scope import ScopeMembers, context_reader
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.errors import ScopeClosedError
from arrowscope.reports import MetricResultsReport
from arrowscope.store import MetricBuffer

if TYPE_CHECKING:
    from arrowscope.aggregates.split import TrialSplit


def as_value(score: object) -> float:
    """``score`` as a float; TypeError for anything that is not a real number."""
    if isinstance(score, numbers.Real) and not isinstance(score, bool):
        return float(score)
    raise TypeError(
        f"a metric value must be a real number (int, float or numpy scalar), "
        f"not {type(score).__name__}: {score!r}"
    )


class MetricResults(ScopeMembers, MetricResultsReport):
    """Train and valid values of one metric in one split, appended to typed arrays.

    ``add_train_result``/``add_valid_result`` append a float and a timestamp:
    no I/O, no SQL, no lock. The values reach the repository's log when the
    split exits (and, for a Parquet repository, every ``flush_interval``
    seconds while it runs) and stay readable here.

    Example:
        >>> import arrowscope as asc
        >>> root = asc.Root.in_memory()
        >>> with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        ...     r = r.with_optimizer(asc.HyperparameterSamplerStub({}), asc.HyperparameterSpace({}))
        ...     with r.new_rvs_trial() as t, t.new_validation_split() as s:
        ...         with s.managed_metric("mse", higher_score_is_better=False) as m:
        ...             m.add_valid_result(0.5)
        ...         m.get_valid_scores()
        [0.5]
    """

    def __init__(
        self,
        context: AutoMLContext,
        parent: TrialSplit,
        higher_score_is_better: bool,
        buffer: MetricBuffer,
    ) -> None:
        MetricResultsReport.__init__(self, context_reader(context), context.location)
        self._init_scope(context, parent)
        self._higher = higher_score_is_better
        self._buffer = buffer
        self._scope = _ReenteredMetric(self, parent)
        self._open = True
        self._bind(buffer.train.append, buffer.train_at.append, buffer.valid.append)
        self._valid_at_append = buffer.valid_at.append

    def _bind(self, train: Any, train_at: Any, valid: Any) -> None:
        self._train_append, self._train_at_append, self._valid_append = train, train_at, valid

    def add_train_result(self, score: float) -> None:
        """Append a train value (the next epoch of the train curve)."""
        if type(score) is not float:
            score = as_value(score)
        self._train_append(score)
        self._train_at_append(time.time_ns())

    def add_valid_result(self, score: float) -> None:
        """Append a validation value (the next epoch of the valid curve)."""
        if type(score) is not float:
            score = as_value(score)
        self._valid_append(score)
        self._valid_at_append(time.time_ns())

    def add_train_results(self, scores: Iterable[float]) -> None:
        """Append many train values at once (a list or a numpy array)."""
        self._extend(self._buffer.train, self._buffer.train_at, scores)

    def add_valid_results(self, scores: Iterable[float]) -> None:
        """Append many validation values at once (a list or a numpy array)."""
        self._extend(self._buffer.valid, self._buffer.valid_at, scores)

    def _extend(self, values: array[float], stamps: array[int], scores: Iterable[float]) -> None:
        if not self._open:
            self._closed()
        tobytes = getattr(scores, "tobytes", None)
        dtype = str(getattr(scores, "dtype", ""))
        if tobytes is not None and dtype == "float64":
            block = array("d", tobytes())
        else:
            block = array("d", [as_value(s) for s in scores])
        values.extend(block)
        stamps.extend(array("q", [time.time_ns()]) * len(block))

    def _close(self) -> None:
        """Called when the split exits: later appends raise ScopeClosedError."""
        self._open = False
        self._bind(self._closed, self._closed, self._closed)
        self._valid_at_append = self._closed

    def _closed(self, *_args: object) -> NoReturn:
        raise ScopeClosedError(
            f"metric {self.metric_name!r} belongs to split {self.location.parent()}, "
            "which has exited: log values inside the split's with block"
        )

    def get_train_scores(self) -> list[float]:
        return list(self._buffer.train)

    def get_valid_scores(self) -> list[float]:
        return list(self._buffer.valid)

    def is_higher_score_better(self) -> bool:
        return self._higher

    def __len__(self) -> int:
        return len(self._buffer.valid)


class _ReenteredMetric(AbstractContextManager["MetricResults"]):
    """``managed_metric`` for a metric that exists already: nothing to acquire.

    It holds no state of its own, so one object serves every re-entry.
    """

    def __init__(self, metric: MetricResults, split: TrialSplit) -> None:
        self._metric = metric
        self._split = split

    def __enter__(self) -> MetricResults:
        return self._metric

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self._split._release(self._metric, exc)
