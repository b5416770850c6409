"""``MetricResults``: the logging hot path, one metric of one open split."""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable, Mapping, Set
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NoReturn

from arrowscope.aggregates._scope import ScopeMembers, context_reader
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.errors import ScopeClosedError
from arrowscope.reports import MetricResultsReport
from arrowscope.store import MetricBuffer
from arrowscope.summaries import best_of, summarize
from arrowscope.values import exact_float

if TYPE_CHECKING:
    from arrowscope.aggregates.split import TrialSplit


# array typecodes whose every item has an exact float64: C floats, doubles and
# integers of 32 bits or less ("l"/"L"/"q"/"Q" may exceed 2**53).
_EXACT_TYPECODES: Final = frozenset("fdbBhHiI")


def as_value(score: object) -> float:
    """``score`` as a float64 equal to it (:func:`arrowscope.values.exact_float`).

    Raises:
        TypeError: Not a real number (bools included).
        ValueError: A number whose float64 differs from it (``10**400``, ``Decimal("0.1")``).
    """
    return exact_float(score, "a metric value")


def as_values(scores: object) -> array[float]:
    """Every value of a batch as float64, all checked before any is logged.

    A 1-D numpy array of floats (or of ints within ±2**53), an ``array.array`` of
    floats or small ints, and a list or tuple of plain floats are converted at once;
    anything else is iterated and each item checked by :func:`as_value`.

    Raises:
        TypeError: ``scores`` is a str, bytes, mapping, set, scalar or 0-d array (a
            set has no order and a mapping would log its keys), or an item is not a
            real number.
        ValueError: An array with more than one dimension (its shape is named), or an
            item with no exact float64 value.
    """
    if isinstance(scores, (str, bytes, bytearray, Mapping, Set)) or not isinstance(
        scores, Iterable
    ):
        raise TypeError(
            f"metric values come as a list, tuple, 1-D array or iterator of numbers, "
            f"not {type(scores).__name__}: {scores!r:.80}"
        )
    shape = getattr(scores, "shape", None)
    if shape == ():
        raise TypeError(
            f"metric values come as a 1-D array, not a 0-d array ({scores!r:.80}): "
            "log a single value with add_train_result/add_valid_result"
        )
    if isinstance(shape, tuple) and len(shape) != 1:
        raise ValueError(
            f"metric values must be one-dimensional; this array has shape {shape}: "
            "log one row at a time, or flatten it (ravel()) if that is the order you mean"
        )
    if type(scores) is array and scores.typecode in _EXACT_TYPECODES:
        return array("d", scores)  # C doubles (and ints of 32 bits or less) are exact
    if type(scores) in (list, tuple) and all(type(s) is float for s in scores):
        return array("d", scores)
    dtype = getattr(scores, "dtype", None)
    is_numpy = hasattr(scores, "astype") and hasattr(scores, "tobytes")
    block = _numpy_block(scores, dtype) if is_numpy else None
    if block is None:
        block = array("d", [as_value(score) for score in scores])
    return block


def _numpy_block(scores: Any, dtype: Any) -> array[float] | None:
    """A numpy array converted in one step when that is exact, else None."""
    kind = getattr(dtype, "kind", None)
    if kind == "f" and dtype.itemsize <= 8:  # float16/32/64: exact in float64
        return array("d", scores.astype("=f8", copy=False).tobytes())
    if kind in ("i", "u") and len(scores) and scores.min() >= -(2**53) and scores.max() <= 2**53:
        return array("d", scores.astype("=f8", copy=False).tobytes())
    return None


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
        """Append a train value (the next epoch of the train curve).

        Values are stored as float64, exactly as given: an int, a float, a numpy
        number (float32 included), or a Fraction or Decimal equal to a float64.
        NaN and ±inf are stored too (and never count as a best score).

        Raises:
            TypeError: ``score`` is not a real number (a bool, a str, None, ...).
            ValueError: ``score`` has no exact float64 value (``10**400``,
                ``Decimal("0.1")``): pass ``float(score)`` to accept the rounding.
        """
        if type(score) is not float:
            score = as_value(score)
        self._train_append(score)
        self._train_at_append(time.time_ns())

    def add_valid_result(self, score: float) -> None:
        """Append a validation value (the next epoch of the valid curve); as
        :meth:`add_train_result`."""
        if type(score) is not float:
            score = as_value(score)
        self._valid_append(score)
        self._valid_at_append(time.time_ns())

    def add_train_results(self, scores: Iterable[float]) -> None:
        """Append many train values at once (a list, an iterator or a 1-D numpy array).

        Every value is checked before any is appended: a bad item raises and leaves
        the curve as it was. See :func:`as_values` for what is accepted.
        """
        self._extend(self._buffer.train, self._buffer.train_at, scores)

    def add_valid_results(self, scores: Iterable[float]) -> None:
        """Append many validation values at once (as :meth:`add_train_results`)."""
        self._extend(self._buffer.valid, self._buffer.valid_at, scores)

    def _extend(self, values: array[float], stamps: array[int], scores: Iterable[float]) -> None:
        if not self._open:
            self._closed()
        block = as_values(scores)
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

    def _best(self) -> tuple[float, int] | None:
        return best_of(self._buffer.valid, self._higher)

    def summary_fields(self) -> dict[str, Any]:
        """The summary columns of the values this process logged (see ``summaries``)."""
        buffer = self._buffer
        return {
            **summarize("train", buffer.train, self._higher, buffer.train_offset),
            **summarize("valid", buffer.valid, self._higher, buffer.valid_offset),
        }

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
        if exc is None:
            return False  # every epoch of the seed idiom: nothing to release
        return self._split._release(self._metric, exc)
