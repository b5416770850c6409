"""This process's log segments and checkpoints.

``LogWriter`` keeps one current segment per (table, partition) and appends
flushed batches to it. A checkpoint turns each segment into the Parquet part
of the same number, ``part-<writer>-<seg>-<seg>.parquet``, then deletes the
segment. It holds the writer lock while it has segments, so that recovery in
another process leaves them alone.

The tables of one partition are appended all or none: when one append
fails, those already made are rolled back, so the caller can keep every row
staged and retry, and each row reaches the log exactly once.

A checkpoint runs in three steps, so that scope exits never wait for a
Parquet file to be written: under ``mutex`` it seals the current segments
(the next append opens segment ``seg + 1``); without it, it writes each
sealed segment's part under a temporary name; under ``mutex`` again, it
publishes the part and deletes the segment. Readers take ``mutex`` too, so
they never see a segment's rows both in it and in its part, or in neither.
A checkpoint that fails is housekeeping (``_housekeeping``): it is
reported, and the sealed segment waits for the next checkpoint. Should no
new segment file be creatable meanwhile (a directory made read-only), appends
go back into the last sealed segment -- its file is open -- and a checkpoint
in flight for it gives up (it would miss those rows). Every ``fan_in`` parts
published into a partition, the compactor is asked to look at it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.errors import StorageWriteError
from arrowscope.schema import table_schema
from arrowscope.store._files import (
    PartName,
    log_name,
    publish,
    remove_quietly,
    write_part,
    write_unpublished,
)
from arrowscope.store._housekeeping import Compactor, Reporter
from arrowscope.store._listing import PartitionValue, partition_path
from arrowscope.store._locks import WriterLock
from arrowscope.store._log import LogSegment
from arrowscope.store._records import Record

PartitionKey = tuple[PartitionValue, ...]
Slot = tuple[str, PartitionKey]

MAX_SEGMENT_ROWS: Final = 1_000_000
MAX_SEGMENT_BYTES: Final = 64 * 1024 * 1024


class LogWriter:
    """Appends batches to log segments and checkpoints them into parts.

    Args:
        root: The repository directory.
        lock: This writer's lock (its ``writer`` names segments and parts).
        mutex: The lock around the writer's state (see the module docstring).
        fsync: fsync every append and every part written.
        reporter: Where checkpoint failures go.
        compactor: Asked to compact a partition every ``fan_in`` parts (None: never).
        fan_in: See ``compactor``.
    """

    def __init__(
        self,
        root: Path,
        lock: WriterLock,
        mutex: threading.RLock,
        fsync: bool,
        reporter: Reporter,
        compactor: Compactor | None = None,
        fan_in: int = 0,
    ) -> None:
        self.root = root
        self.lock = lock
        self.last_checkpoint = time.monotonic()
        self.checkpoint_wanted = False  # a segment grew past the limits
        self.on_full: Callable[[], None] = lambda: None
        self._mutex = mutex
        self.checkpointing = threading.Lock()  # held by a checkpoint (a fork waits for it)
        self._writer = lock.writer
        self._fsync = fsync
        self._reporter = reporter
        self._compactor = compactor
        self._fan_in = fan_in
        self._current: dict[Slot, LogSegment] = {}
        self._sealed: defaultdict[Slot, list[LogSegment]] = defaultdict(list)
        self._next: Counter[Slot] = Counter()
        self._unmerged: Counter[Slot] = Counter()

    def append(self, key: PartitionKey, tables: Mapping[str, list[Record]]) -> None:
        """Append each table's records to this writer's segment of ``(table, key)``, all or none.

        A segment grown past ``MAX_SEGMENT_ROWS`` rows or ``MAX_SEGMENT_BYTES``
        asks for a checkpoint (``on_full``), which bounds the memory it holds.

        Raises:
            StorageWriteError: an append failed; none of ``tables`` was appended.
        """
        done: list[tuple[LogSegment, tuple[int, int]]] = []
        try:
            for table, records in tables.items():
                if records:
                    done.append(self._append((table, key), records))
        except BaseException:
            for segment, mark in done:
                segment.rollback(mark)
            raise
        if any(s.num_rows >= MAX_SEGMENT_ROWS or s.nbytes >= MAX_SEGMENT_BYTES for s, _ in done):
            self.checkpoint_wanted = True
            self.on_full()

    def write_part(self, table: str, key: PartitionKey, data: pa.Table) -> None:
        """Write ``data`` straight into a new part of ``(table, key)`` (no log)."""
        slot = (table, key)
        self.lock.ensure()
        directory = partition_path(self.root, table, key)
        directory.mkdir(parents=True, exist_ok=True)
        number = self._next[slot]
        if not write_part(directory, self._part(number), table, data, self._writer, self._fsync):
            raise FileExistsError(_exists(directory / self._part(number).filename))
        self._next[slot] = number + 1
        self._published(slot, directory)

    def checkpoint(self) -> None:
        """Turn every segment into a part; failures are reported, not raised.

        Call it without holding ``mutex`` (it takes it twice, briefly).
        """
        with self.checkpointing:
            with self._mutex:
                self.checkpoint_wanted = False
                jobs = [(slot, s, len(s.records)) for slot, s in self._seal()]
            written = [(job, self._write(*job)) for job in jobs]
            with self._mutex:
                for (slot, segment, count), unpublished in written:
                    self._finish(slot, segment, count, unpublished)
            self.last_checkpoint = time.monotonic()

    def rows(self, table: str) -> list[tuple[PartitionKey, pa.RecordBatch]]:
        """The rows in this writer's segments of ``table`` (call it holding ``mutex``)."""
        segments = [*self._current.items()] + [
            (slot, s) for slot, sealed in self._sealed.items() for s in sealed
        ]
        return [(slot[1], b) for slot, s in segments if slot[0] == table for b in s.batches()]

    def release(self) -> None:
        """Drop the writer lock; only once every segment has been checkpointed."""
        if not self._current and not any(self._sealed.values()):
            self.lock.release()

    def abandon(self) -> None:
        """In a forked child: close the inherited files and lock without touching them.

        The segments, their rows and the lock stay the parent's.
        """
        for segment in [*self._current.values(), *(s for ss in self._sealed.values() for s in ss)]:
            segment.close()
        self._current.clear()
        self._sealed.clear()
        self.lock.forget()

    def _append(self, slot: Slot, records: list[Record]) -> tuple[LogSegment, tuple[int, int]]:
        segment = self._current.get(slot)
        if segment is None:
            self.lock.ensure()
            number = self._next[slot]
            path = partition_path(self.root, *slot) / log_name(self._writer, number)
            segment = LogSegment(path, table_schema(slot[0]), self._fsync, number=number)
            self._current[slot] = segment
            self._next[slot] = number + 1
        mark = segment.mark()
        try:
            segment.append(records)
        except StorageWriteError:
            if segment.created or not self._sealed[slot]:
                raise
            # No new file can be made here: go on in the last sealed segment, whose
            # file is open (a checkpoint in flight for it then gives up).
            del self._current[slot]
            self._next[slot] = segment.number
            segment = self._current[slot] = self._sealed[slot].pop()
            mark = segment.mark()
            segment.append(records)
        return segment, mark

    def _seal(self) -> list[tuple[Slot, LogSegment]]:
        """Move the current segments to the sealed ones; the sealed segments, oldest first."""
        for slot, segment in list(self._current.items()):
            del self._current[slot]
            if segment.records:
                self._sealed[slot].append(segment)
            else:  # its only appends failed: no rows, and its number is free again
                segment.delete()
                self._next[slot] = segment.number
        return [(slot, s) for slot, sealed in self._sealed.items() for s in sealed]

    def _write(self, slot: Slot, segment: LogSegment, count: int) -> Path | None:
        try:
            batches = segment.batches(count)
            data = pa.Table.from_batches(batches, schema=table_schema(slot[0]))
            directory = segment.path.parent
            part = self._part(segment.number)
            return write_unpublished(directory, part, slot[0], data, self._writer, self._fsync)
        except Exception as exc:  # housekeeping: the rows stay in the sealed segment
            self._reporter.failed("checkpoint", segment.path, exc)
            return None

    def _finish(
        self, slot: Slot, segment: LogSegment, count: int, unpublished: Path | None
    ) -> None:
        if unpublished is None:
            return
        try:
            if segment is self._current.get(slot) or len(segment.records) != count:
                return  # appended to meanwhile (see ``_append``): the part would miss rows
            final = unpublished.parent / self._part(segment.number).filename
            if not publish(unpublished, final, self._fsync):
                raise FileExistsError(_exists(final))
        except Exception as exc:
            self._reporter.failed("checkpoint", segment.path, exc)
            return
        finally:
            remove_quietly(unpublished)
        # The part is published: the segment is redundant.
        self._sealed[slot].remove(segment)
        try:
            segment.delete()
        except OSError as exc:  # readers skip a segment whose part exists
            self._reporter.failed("checkpoint", segment.path, exc)
        self._published(slot, segment.path.parent)

    def _part(self, number: int) -> PartName:
        return PartName(self._writer, number, number)

    def _published(self, slot: Slot, directory: Path) -> None:
        self._unmerged[slot] += 1
        if self._compactor is not None and 0 < self._fan_in <= self._unmerged[slot]:
            self._unmerged[slot] = 0
            self._compactor.request(slot[0], directory)


def _exists(path: Path) -> str:
    # Only this writer makes parts of its name while it holds its lock.
    return (
        f"{path} exists already; arrowscope never overwrites a part, and the rows stay in "
        "the log segment (two writers share an id?)"
    )
