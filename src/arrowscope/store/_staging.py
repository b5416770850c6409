"""What one writing process holds before it reaches the backend: open buffers and events.

Both repositories compose a ``Staging``; it knows nothing about files.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from arrowscope.schema import full_schema, partition_columns, table_schema
from arrowscope.store._buffer import (
    EventBuffer,
    MetricBuffer,
    metrics_batch,
    metrics_record,
    now_us,
)
from arrowscope.store._clock import HybridClock
from arrowscope.store._records import Record, to_batches

RoundKey = tuple[str, str, int]


def new_writer_id() -> str:
    """A short id unique to this process: pid plus random hex."""
    return f"{os.getpid()}{uuid.uuid4().hex[:8]}"


class Staging:
    """Open metric buffers and unflushed events of one writer, by round partition."""

    def __init__(self, writer_id: str) -> None:
        self.writer_id = writer_id
        self._seq = 0
        self.clock = HybridClock()
        self._buffers: dict[RoundKey, dict[int, MetricBuffer]] = {}
        self._events: dict[RoundKey, EventBuffer] = {}

    def open_buffer(self, key: RoundKey, buffer: MetricBuffer) -> MetricBuffer:
        self._buffers.setdefault(key, {})[id(buffer)] = buffer
        return buffer

    def close_buffer(self, key: RoundKey, buffer: MetricBuffer) -> None:
        self._buffers.get(key, {}).pop(id(buffer), None)

    def append_event(self, key: RoundKey, fields: dict[str, Any]) -> None:
        self._seq += 1
        row = dict(fields)
        at = row.setdefault("at", now_us())
        row["clock"] = self.clock.tick(at)
        row["writer"] = self.writer_id
        row["seq"] = self._seq
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = EventBuffer()
        events.append(row)

    def keys(self) -> list[RoundKey]:
        return sorted(set(self._buffers) | set(self._events))

    def take(self, key: RoundKey) -> dict[str, list[pa.RecordBatch]]:
        """The pending rows of one partition by table, as batches, marked as taken."""
        return {t: to_batches(r, table_schema(t)) for t, r in self.take_records(key).items()}

    def take_records(self, key: RoundKey) -> dict[str, list[Record]]:
        """The pending rows of one partition by table, as log records, marked as taken."""
        out: dict[str, list[Record]] = {"metrics": [], "events": []}
        record = metrics_record(self._buffers.get(key, {}).values(), mark=True)
        if record is not None:
            out["metrics"].append(record)
        events = self._events.get(key)
        taken = events.take_record() if events is not None else None
        if taken is not None:
            out["events"].append(taken)
        return out

    @contextlib.contextmanager
    def handoff(self, key: RoundKey) -> Iterator[dict[str, list[Record]]]:
        """``take_records(key)``, undone when the ``with`` block raises.

        The batches stay taken only if the block completes (they were
        written); on an exception they are pending again, and the next
        ``take`` or ``handoff`` returns them with whatever was added since.
        """
        buffers = list(self._buffers.get(key, {}).values())
        marks = [(b, b.train_flushed, b.valid_flushed) for b in buffers]
        events = self._events.get(key)
        rows = events.rows if events is not None else []
        try:
            yield self.take_records(key)
        except BaseException:
            for buffer, train, valid in marks:
                buffer.train_flushed, buffer.valid_flushed = train, valid
            if events is not None:
                events.rows = rows + events.rows
            raise

    def peek(self, table: str) -> Iterator[tuple[RoundKey, pa.RecordBatch]]:
        """Every pending batch of ``table`` with its partition, left pending."""
        if table == "metrics":
            for key, buffers in self._buffers.items():
                batch = metrics_batch(buffers.values(), mark=False)
                if batch is not None:
                    yield key, batch
        elif table == "events":
            for key, events in self._events.items():
                batch = events.pending_batch()
                if batch is not None:
                    yield key, batch

    def has_pending(self) -> bool:
        return any(e.rows for e in self._events.values()) or any(
            b.has_pending() for bs in self._buffers.values() for b in bs.values()
        )


def with_partition(table: str, key: tuple[Any, ...], batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix ``batch`` with the partition columns of ``table`` set to ``key``."""
    schema = full_schema(table)
    n = batch.num_rows
    keys = partition_columns(table)
    columns = [
        pa.repeat(pa.scalar(v, schema.field(k).type), n) for k, v in zip(keys, key, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns + list(batch.columns), schema=schema)


def concat(table: str, batches: list[pa.RecordBatch]) -> pa.Table:
    """Batches of ``table``'s full schema as one table (empty with the schema when none)."""
    return pa.Table.from_batches(batches, schema=full_schema(table))
