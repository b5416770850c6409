"""In-memory column buffers: where logged values wait until they are written out.

Logging a value appends a float and an ``int`` timestamp (ns) to typed
``array``s -- no per-value Python objects, no I/O. The constant columns
(trial, split, metric, phase, epoch) are produced only when the buffer is
turned into an Arrow record batch at flush time.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from arrowscope.schema import table_schema

_NS_PER_US = 1000


class MetricBuffer:
    """The train and valid values of one (trial, split, metric) logged by this process.

    ``train``/``valid`` hold every value logged through this buffer (reports in
    the process read them directly); ``*_at`` hold ``time.time_ns()`` stamps.
    Values before ``*_flushed`` have already been handed to the writer.
    ``*_offset`` is the number of values stored before this buffer was opened,
    so epochs continue where they left off; ``attempt`` is the split's record
    the values belong to (a replaced retrain split starts a new one).
    """

    __slots__ = (
        "attempt",
        "metric",
        "split",
        "train",
        "train_at",
        "train_flushed",
        "train_offset",
        "trial",
        "valid",
        "valid_at",
        "valid_flushed",
        "valid_offset",
    )

    def __init__(
        self,
        trial: int,
        split: int,
        metric: str,
        train_offset: int = 0,
        valid_offset: int = 0,
        attempt: int = 0,
    ) -> None:
        self.trial = trial
        self.split = split
        self.attempt = attempt
        self.metric = metric
        self.train: array[float] = array("d")
        self.train_at: array[int] = array("q")
        self.valid: array[float] = array("d")
        self.valid_at: array[int] = array("q")
        self.train_flushed = 0
        self.valid_flushed = 0
        self.train_offset = train_offset
        self.valid_offset = valid_offset

    def has_pending(self) -> bool:
        """True when values were logged since the last ``take_pending``."""
        return len(self.train_at) > self.train_flushed or len(self.valid_at) > self.valid_flushed

    def pending_batch(self) -> pa.RecordBatch | None:
        """The rows logged since the last ``take_pending``, without marking them taken."""
        return metrics_batch([self], mark=False)

    def take_pending(self) -> pa.RecordBatch | None:
        """The rows logged since the last call, marked as handed to the writer."""
        return metrics_batch([self], mark=True)


class _Columns:
    """The ``metrics`` columns of many buffers, gathered in typed arrays."""

    def __init__(self) -> None:
        self.values: array[float] = array("d")
        self.stamps: array[int] = array("q")
        self.trials: array[int] = array("i")
        self.splits: array[int] = array("i")
        self.attempts: array[int] = array("i")
        self.epochs: array[int] = array("i")
        self.metrics: list[str] = []
        self.phases: list[str] = []

    def add(self, buf: MetricBuffer, phase: int, start: int, stop: int) -> None:
        values, stamps = (buf.train, buf.train_at) if phase == 0 else (buf.valid, buf.valid_at)
        offset = buf.train_offset if phase == 0 else buf.valid_offset
        n = stop - start
        self.values.extend(values[start:stop])
        self.stamps.extend(stamps[start:stop])
        self.trials.extend(array("i", [buf.trial]) * n)
        self.splits.extend(array("i", [buf.split]) * n)
        self.attempts.extend(array("i", [buf.attempt]) * n)
        self.epochs.extend(_counting(offset + stop)[offset + start : offset + stop])
        self.metrics.extend([buf.metric] * n)
        self.phases.extend([_PHASES[phase]] * n)

    def batch(self) -> pa.RecordBatch:
        n = len(self.values)
        stamps = _array(pa.timestamp("ns", tz="UTC"), self.stamps)
        columns = [
            _array(pa.int32(), self.trials),
            _array(pa.int32(), self.splits),
            _array(pa.int32(), self.attempts),
            pa.array(self.metrics, pa.string()),
            pa.array(self.phases, pa.string()),
            _array(pa.int32(), self.epochs),
            _array(pa.float64(), self.values),
            pc.cast(stamps, options=_NS_TO_US),
        ]
        assert all(len(c) == n for c in columns)
        return pa.RecordBatch.from_arrays(columns, schema=table_schema("metrics"))


_PHASES = ("train", "valid")
_NS_TO_US = pc.CastOptions(pa.timestamp("us", tz="UTC"), allow_time_truncate=True)
_COUNTING: array[int] = array("i", range(1, 4097))


def _counting(n: int) -> array[int]:
    """``1, 2, …`` at least ``n`` long; sliced for epoch numbers (no per-row Python ints)."""
    global _COUNTING
    if len(_COUNTING) < n:
        _COUNTING = array("i", range(1, 2 * n + 1))
    return _COUNTING


def _array(dtype: pa.DataType, data: array[Any]) -> pa.Array:
    """A zero-copy Arrow view of a typed ``array``."""
    return pa.Array.from_buffers(dtype, len(data), [None, pa.py_buffer(data)])


def metrics_batch(buffers: Iterable[MetricBuffer], mark: bool) -> pa.RecordBatch | None:
    """One record batch of every row the buffers hold past their flushed marks.

    With ``mark`` the rows count as handed to the writer. The constant columns
    (trial, split, metric, phase, epoch) are produced here, not when logging.
    """
    columns = _Columns()
    for buf in buffers:
        # A timestamp is appended after its value: len(*_at) counts complete rows.
        n_train, n_valid = len(buf.train_at), len(buf.valid_at)
        if n_train > buf.train_flushed:
            columns.add(buf, 0, buf.train_flushed, n_train)
        if n_valid > buf.valid_flushed:
            columns.add(buf, 1, buf.valid_flushed, n_valid)
        if mark:
            buf.train_flushed, buf.valid_flushed = n_train, n_valid
    return columns.batch() if columns.values else None


class EventBuffer:
    """Scope state changes of one round partition waiting to be written."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def append(self, row: dict[str, Any]) -> None:
        """Buffer one row given as ``{column: value}`` (absent columns are null)."""
        self.rows.append(tuple(row.get(name) for name in _EVENT_COLUMNS))

    def take_pending(self) -> pa.RecordBatch | None:
        """Every buffered row as one batch; the buffer is emptied."""
        batch = self.pending_batch()
        self.rows = []
        return batch

    def pending_batch(self) -> pa.RecordBatch | None:
        """Every buffered row as one batch; the buffer is left as it is."""
        if not self.rows:
            return None
        # One conversion for the whole row set: far cheaper than one per column.
        rows = pa.array(self.rows, type=_EVENT_STRUCT)
        schema = table_schema("events")
        return pa.RecordBatch.from_arrays(rows.flatten(), schema=schema)


_EVENT_COLUMNS = tuple(table_schema("events").names)
_EVENT_STRUCT = pa.struct(list(table_schema("events")))


def now_us() -> int:
    """The current UTC time in microseconds, as stored in every timestamp column."""
    return time.time_ns() // _NS_PER_US
