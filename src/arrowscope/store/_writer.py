"""This process's log segments and checkpoints.

``LogWriter`` keeps one open segment per (table, partition), appends flushed
batches to it, and at a checkpoint turns each segment into the Parquet part
``part-<writer>-<seg>-<seg>.parquet`` before deleting the segment; the next
append opens segment ``seg + 1``. It holds the writer lock while it has
segments, so that recovery in another process leaves them alone.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.schema import table_schema
from arrowscope.store._files import PartName, log_name, write_part
from arrowscope.store._listing import PartitionValue, partition_path
from arrowscope.store._locks import WriterLock
from arrowscope.store._log import LogSegment
from arrowscope.store.compact import compact_partition

PartitionKey = tuple[PartitionValue, ...]

MAX_SEGMENT_ROWS: Final = 1_000_000
MAX_SEGMENT_BYTES: Final = 64 * 1024 * 1024


class LogWriter:
    """Appends batches to log segments and checkpoints them into parts.

    Args:
        root: The repository directory.
        writer: This writer's id (part and segment names carry it).
        fsync: fsync every append and every part written.
        auto_compact_parts: Compact a partition once this writer has written
            more parts than this into it (0 never compacts).
    """

    def __init__(self, root: Path, writer: str, fsync: bool, auto_compact_parts: int) -> None:
        self.root = root
        self.lock = WriterLock(root, writer)
        self.last_checkpoint = time.monotonic()
        self._writer = writer
        self._fsync = fsync
        self._auto_compact_parts = auto_compact_parts
        self._segments: dict[tuple[str, PartitionKey], LogSegment] = {}
        self._next: Counter[tuple[str, PartitionKey]] = Counter()
        self._parts: Counter[tuple[str, PartitionKey]] = Counter()

    def append(self, table: str, key: PartitionKey, batches: list[pa.RecordBatch]) -> None:
        """Append ``batches`` to this writer's segment of ``(table, key)``.

        A segment grown past ``MAX_SEGMENT_ROWS`` rows or ``MAX_SEGMENT_BYTES``
        is checkpointed at once, which bounds the memory it holds.
        """
        slot = (table, key)
        segment = self._segments.get(slot)
        if segment is None:
            self.lock.ensure()
            path = partition_path(self.root, table, key) / log_name(self._writer, self._next[slot])
            segment = self._segments[slot] = LogSegment(path, table_schema(table), self._fsync)
        segment.append(batches)
        if segment.num_rows >= MAX_SEGMENT_ROWS or segment.nbytes >= MAX_SEGMENT_BYTES:
            self._checkpoint(slot)

    def write_part(self, table: str, key: PartitionKey, data: pa.Table) -> None:
        """Write ``data`` straight into a new part of ``(table, key)`` (no log)."""
        slot = (table, key)
        self.lock.ensure()
        directory = partition_path(self.root, table, key)
        directory.mkdir(parents=True, exist_ok=True)
        self._publish(slot, directory, data)
        self._maybe_compact(slot, directory)

    def checkpoint(self) -> None:
        """Turn every open segment into a part."""
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

    def _checkpoint(self, slot: tuple[str, PartitionKey]) -> None:
        segment = self._segments[slot]
        data = pa.Table.from_batches(segment.batches, schema=table_schema(slot[0]))
        self._publish(slot, segment.path.parent, data)
        # The part is published: from here on the segment is redundant.
        del self._segments[slot]
        segment.delete()
        self._maybe_compact(slot, segment.path.parent)

    def _publish(self, slot: tuple[str, PartitionKey], directory: Path, data: pa.Table) -> None:
        number = self._next[slot]
        name = PartName(self._writer, number, number)
        if not write_part(directory, name, slot[0], data, self._writer, self._fsync):
            # Only this writer makes parts of its name while it holds its lock.
            raise FileExistsError(
                f"{directory / name.filename} exists already; arrowscope never overwrites a "
                "part, and the rows stay in the log segment (two writers share an id?)"
            )
        self._next[slot] = number + 1
        self._parts[slot] += 1

    def _maybe_compact(self, slot: tuple[str, PartitionKey], directory: Path) -> None:
        if 0 < self._auto_compact_parts < self._parts[slot]:
            compact_partition(directory, slot[0], self.lock, writer=self._writer, fsync=self._fsync)
            self._parts[slot] = 1
