"""This process's log segments and checkpoints.

``LogWriter`` keeps one open segment per (table, partition), appends flushed
batches to it, and at a checkpoint turns each segment into the Parquet part
``part-<writer>-<seg>-<seg>.parquet`` before deleting the segment; the next
append opens segment ``seg + 1``. It holds the writer lock while it has
segments, so that recovery in another process leaves them alone.

The tables of one partition are appended all or none: when one append
fails, those already made are rolled back, so the caller can keep every row
staged and retry, and each row reaches the log exactly once. A checkpoint
that fails is housekeeping (``_housekeeping``): it is reported, and the
segment stays open -- appends go on into the same file, which needs no new
file in the directory -- until a later checkpoint succeeds. Every
``fan_in`` parts published into a partition, the compactor is asked to look
at it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.schema import table_schema
from arrowscope.store._files import PartName, log_name, write_part
from arrowscope.store._housekeeping import Compactor, Reporter
from arrowscope.store._listing import PartitionValue, partition_path
from arrowscope.store._locks import WriterLock
from arrowscope.store._log import LogSegment

PartitionKey = tuple[PartitionValue, ...]
Slot = tuple[str, PartitionKey]

MAX_SEGMENT_ROWS: Final = 1_000_000
MAX_SEGMENT_BYTES: Final = 64 * 1024 * 1024


class LogWriter:
    """Appends batches to log segments and checkpoints them into parts.

    Args:
        root: The repository directory.
        lock: This writer's lock (its ``writer`` names segments and parts).
        fsync: fsync every append and every part written.
        reporter: Where checkpoint failures go.
        compactor: Asked to compact a partition every ``fan_in`` parts (None: never).
        fan_in: See ``compactor``.
    """

    def __init__(
        self,
        root: Path,
        lock: WriterLock,
        fsync: bool,
        reporter: Reporter,
        compactor: Compactor | None = None,
        fan_in: int = 0,
    ) -> None:
        self.root = root
        self.lock = lock
        self.last_checkpoint = time.monotonic()
        self._writer = lock.writer
        self._fsync = fsync
        self._reporter = reporter
        self._compactor = compactor
        self._fan_in = fan_in
        self._segments: dict[Slot, LogSegment] = {}
        self._next: Counter[Slot] = Counter()
        self._unmerged: Counter[Slot] = Counter()

    def append(self, key: PartitionKey, tables: Mapping[str, list[pa.RecordBatch]]) -> None:
        """Append each table's batches to this writer's segment of ``(table, key)``, all or none.

        A segment grown past ``MAX_SEGMENT_ROWS`` rows or ``MAX_SEGMENT_BYTES``
        is checkpointed at once, which bounds the memory it holds.

        Raises:
            StorageWriteError: an append failed; none of ``tables`` was appended.
        """
        done: list[tuple[Slot, LogSegment, tuple[int, int]]] = []
        try:
            for table, batches in tables.items():
                if batches:
                    slot = (table, key)
                    segment = self._segment(slot)
                    done.append((slot, segment, segment.mark()))
                    segment.append(batches)
        except BaseException:
            for _slot, segment, mark in done:
                segment.rollback(mark)
            raise
        for slot, segment, _mark in done:
            if segment.num_rows >= MAX_SEGMENT_ROWS or segment.nbytes >= MAX_SEGMENT_BYTES:
                self._checkpoint(slot)

    def write_part(self, table: str, key: PartitionKey, data: pa.Table) -> None:
        """Write ``data`` straight into a new part of ``(table, key)`` (no log)."""
        slot = (table, key)
        self.lock.ensure()
        directory = partition_path(self.root, table, key)
        directory.mkdir(parents=True, exist_ok=True)
        self._publish(slot, directory, data)

    def checkpoint(self) -> None:
        """Turn every open segment into a part; failures are reported, not raised."""
        for slot in list(self._segments):
            self._checkpoint(slot)
        self.last_checkpoint = time.monotonic()

    def rows(self, table: str) -> list[tuple[PartitionKey, pa.RecordBatch]]:
        """The batches in this writer's open segments of ``table``."""
        return [
            (key, batch)
            for (name, key), segment in self._segments.items()
            if name == table
            for batch in segment.batches
        ]

    def release(self) -> None:
        """Drop the writer lock; only once every segment has been checkpointed."""
        if not self._segments:
            self.lock.release()

    def abandon(self) -> None:
        """In a forked child: close the inherited files and lock without touching them.

        The segments, their rows and the lock stay the parent's.
        """
        for segment in self._segments.values():
            segment.close()
        self._segments.clear()
        self.lock.forget()

    def _segment(self, slot: Slot) -> LogSegment:
        segment = self._segments.get(slot)
        if segment is None:
            self.lock.ensure()
            table, key = slot
            path = partition_path(self.root, table, key) / log_name(self._writer, self._next[slot])
            segment = self._segments[slot] = LogSegment(path, table_schema(table), self._fsync)
        return segment

    def _checkpoint(self, slot: Slot) -> None:
        segment = self._segments[slot]
        if segment.batches:
            try:
                data = pa.Table.from_batches(segment.batches, schema=table_schema(slot[0]))
                self._publish(slot, segment.path.parent, data)
            except Exception as exc:  # housekeeping: the rows stay in the open segment
                self._reporter.failed("checkpoint", segment.path, exc)
                return
        # The part is published (or there was nothing): the segment is redundant.
        del self._segments[slot]
        try:
            segment.delete()
        except OSError as exc:  # readers skip a segment whose part exists
            self._reporter.failed("checkpoint", segment.path, exc)

    def _publish(self, slot: Slot, directory: Path, data: pa.Table) -> None:
        number = self._next[slot]
        name = PartName(self._writer, number, number)
        if not write_part(directory, name, slot[0], data, self._writer, self._fsync):
            # Only this writer makes parts of its name while it holds its lock.
            raise FileExistsError(
                f"{directory / name.filename} exists already; arrowscope never overwrites a "
                "part, and the rows stay in the log segment (two writers share an id?)"
            )
        self._next[slot] = number + 1
        self._unmerged[slot] += 1
        if self._compactor is not None and 0 < self._fan_in <= self._unmerged[slot]:
            self._unmerged[slot] = 0
            self._compactor.request(slot[0], directory)
