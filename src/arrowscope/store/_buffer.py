"""In-memory column buffers: where logged values wait until they are written out.

Logging a value appends a float and an ``int`` timestamp (ns) to typed
``array``s -- no per-value Python objects, no I/O. The constant columns
(trial, split, metric, phase, epoch) are produced only when the rows are
read (see ``_records``).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from arrowscope.store._records import (
    ArrowRecord,
    EventsRecord,
    MetricsRecord,
    Run,
    events_batch,
    events_record,
)
from arrowscope.store._records import metrics_batch as records_to_batch

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


def metrics_record(buffers: Iterable[MetricBuffer], mark: bool) -> MetricsRecord | None:
    """One log record of every row the buffers hold past their flushed marks.

    With ``mark`` the rows count as handed to the writer. The record holds
    copies of the typed arrays' pending slices and one run per buffer and
    phase; the constant columns are produced only when it is read.
    """
    runs: list[Run] = []
    values: list[array[float]] = []
    stamps: list[array[int]] = []
    for buf in buffers:
        # A timestamp is appended after its value: len(*_at) counts complete rows.
        n_train, n_valid = len(buf.train_at), len(buf.valid_at)
        if n_train > buf.train_flushed:
            start = buf.train_flushed
            first = buf.train_offset + start + 1
            runs.append((buf.trial, buf.split, buf.attempt, first, n_train - start, 0, buf.metric))
            values.append(buf.train[start:n_train])
            stamps.append(buf.train_at[start:n_train])
        if n_valid > buf.valid_flushed:
            start = buf.valid_flushed
            first = buf.valid_offset + start + 1
            runs.append((buf.trial, buf.split, buf.attempt, first, n_valid - start, 1, buf.metric))
            values.append(buf.valid[start:n_valid])
            stamps.append(buf.valid_at[start:n_valid])
        if mark:
            buf.train_flushed, buf.valid_flushed = n_train, n_valid
    if not runs:
        return None
    return MetricsRecord(runs, b"".join(values), b"".join(stamps))


def metrics_batch(buffers: Iterable[MetricBuffer], mark: bool) -> pa.RecordBatch | None:
    """``metrics_record`` as a record batch."""
    record = metrics_record(buffers, mark)
    return None if record is None else records_to_batch([record])


class EventBuffer:
    """Scope state changes of one round partition waiting to be written."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        """Buffer one row given as ``{column: value}`` (absent columns are null)."""
        self.rows.append(row)

    def take_record(self) -> EventsRecord | ArrowRecord | None:
        """Every buffered row as one log record; the buffer is emptied."""
        if not self.rows:
            return None
        record = events_record(self.rows)
        self.rows = []
        return record

    def pending_batch(self) -> pa.RecordBatch | None:
        """Every buffered row as one batch; the buffer is left as it is."""
        return events_batch(self.rows) if self.rows else None


def now_us() -> int:
    """The current UTC time in microseconds, as stored in every timestamp column."""
    return time.time_ns() // _NS_PER_US
