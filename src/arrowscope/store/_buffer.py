"""In-memory column buffers: where logged values wait until they are written out.

Logging a value appends a float and an ``int`` timestamp (ns) to typed
``array``s -- no per-value Python objects, no I/O. The constant columns
(trial, split, metric, phase, epoch) are produced only when the buffer is
turned into an Arrow record batch at flush time.
"""

from __future__ import annotations

import time
from array import array
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
    so epochs continue where they left off.
    """

    __slots__ = (
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
        self, trial: int, split: int, metric: str, train_offset: int = 0, valid_offset: int = 0
    ) -> None:
        self.trial = trial
        self.split = split
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
        return self._batch(mark=False)

    def take_pending(self) -> pa.RecordBatch | None:
        """The rows logged since the last call, marked as handed to the writer."""
        return self._batch(mark=True)

    def _batch(self, mark: bool) -> pa.RecordBatch | None:
        # The timestamp is appended after the value: len(*_at) counts complete rows.
        n_train, n_valid = len(self.train_at), len(self.valid_at)
        parts = []
        if n_train > self.train_flushed:
            parts.append(self._phase_columns("train", self.train_flushed, n_train))
        if n_valid > self.valid_flushed:
            parts.append(self._phase_columns("valid", self.valid_flushed, n_valid))
        if mark:
            self.train_flushed, self.valid_flushed = n_train, n_valid
        if not parts:
            return None
        columns = [pa.concat_arrays([p[i] for p in parts]) for i in range(len(parts[0]))]
        return pa.RecordBatch.from_arrays(columns, schema=table_schema("metrics"))

    def _phase_columns(self, phase: str, start: int, stop: int) -> list[pa.Array]:
        values = self.train if phase == "train" else self.valid
        stamps = self.train_at if phase == "train" else self.valid_at
        offset = self.train_offset if phase == "train" else self.valid_offset
        n = stop - start
        first_epoch = offset + start + 1
        stamps_us = pc.divide(pa.array(stamps[start:stop], pa.int64()), _NS_PER_US)
        return [
            pa.repeat(pa.scalar(self.trial, pa.int32()), n),
            pa.repeat(pa.scalar(self.split, pa.int32()), n),
            pa.repeat(pa.scalar(self.metric, pa.string()), n),
            pa.repeat(pa.scalar(phase, pa.string()), n),
            pa.array(range(first_epoch, first_epoch + n), pa.int32()),
            pa.array(values[start:stop], pa.float64()),
            stamps_us.cast(pa.timestamp("us", tz="UTC")),
        ]


class EventBuffer:
    """Scope state changes of one round partition waiting to be written."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def take_pending(self) -> pa.RecordBatch | None:
        """Every buffered row as one batch; the buffer is emptied."""
        if not self.rows:
            return None
        rows, self.rows = self.rows, []
        return pa.RecordBatch.from_pylist(rows, schema=table_schema("events"))

    def pending_batch(self) -> pa.RecordBatch | None:
        """Every buffered row as one batch; the buffer is left as it is."""
        if not self.rows:
            return None
        return pa.RecordBatch.from_pylist(self.rows, schema=table_schema("events"))


def now_us() -> int:
    """The current UTC time in microseconds, as stored in every timestamp column."""
    return time.time_ns() // _NS_PER_US
