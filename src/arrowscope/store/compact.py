"""Compaction: merge a writer's parts in a partition into fewer, larger files.

Per partition directory and writer, runs of parts with consecutive segment
ranges are merged into ``part-<writer>-<first>-<last>.parquet``, written
under a temporary name and published before the merged parts are deleted.
While both exist, readers skip the covered parts (``_listing.split_covered``);
a reader that listed a part which is then deleted starts its read over. So a
concurrent reader never sees a row twice or misses one.

Two policies choose what to merge:

* **everything** (``compact``, the ``arrowscope compact`` command): each run
  of consecutive parts becomes one file of at most ``MAX_MERGED_ROWS`` rows;
* **size-tiered** (``fan_in``; what a writer runs in the background after
  its checkpoints): parts of about the same size -- within a factor
  ``fan_in ** 0.75``, the band of Lucene's LogMergePolicy -- are merged
  ``fan_in`` at a time, so the merged part is about ``fan_in`` times larger
  and joins the next tier. A row is rewritten once per tier (about
  ``log(rows of the partition / rows of a checkpoint) / log(fan_in)`` times
  in all), never for a few new rows, and a partition keeps fewer than
  ``fan_in`` parts per tier. Parts over ``MAX_MERGED_ROWS / fan_in`` rows
  are final.

Merges stream: parts are read one row group at a time and written in row
groups of at most ``ROW_GROUP_ROWS`` rows, each sorted (see ``_files``), so
memory stays bounded however large the parts are.

A per-partition ``flock`` (``.compact.lock``) keeps two compactions of one
partition apart; a partition being compacted elsewhere is skipped. Any
process may compact parts of any writer (they are immutable once published),
never log segments.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.errors import CorruptFileError
from arrowscope.schema import TABLES, table_schema
from arrowscope.store._files import (
    ROW_GROUP_ROWS,
    PartName,
    check_part,
    read_row_groups,
    remove_quietly,
    size_of,
    stamp_of,
    write_part,
)
from arrowscope.store._listing import Part, list_parts, split_covered, walk
from arrowscope.store._locks import WriterLock, partition_lock

# A merged file holds at most this many rows.
MAX_MERGED_ROWS: Final = 16_000_000
# Parts whose levels (log base fan_in of their rows) lie this close to the
# largest level of the parts after them count as one tier.
_TIER_BAND: Final = 0.75
_MAX_PASSES: Final = 32


@dataclass(frozen=True)
class StorageStats:
    """Size of the visible parts of a table."""

    files: int
    bytes: int
    rows: int

    @property
    def bytes_per_row(self) -> float:
        return self.bytes / self.rows if self.rows else 0.0


class RowCounts:
    """Rows of the parts already checked, by path (parts are immutable; size and mtime guard)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int], int]] = {}

    def of(self, path: Path, table: str) -> int | None:
        """The rows of a part once checked to be one of ``table``; None when it is gone.

        Raises:
            CorruptFileError: the file is not a part of ``table``.
        """
        key = str(path)
        try:
            stamp = stamp_of(key)
            known = self._known.get(key)
            if known is not None and known[0] == stamp:
                return known[1]
            rows = check_part(key, table)
        except FileNotFoundError:
            return None
        self._known[key] = (stamp, rows)
        return rows

    def forget(self, path: Path) -> None:
        self._known.pop(str(path), None)


def compact(
    root: Path,
    lock: WriterLock,
    *,
    tables: tuple[str, ...] = TABLES,
    writer: str | None = None,
    fsync: bool = False,
) -> int:
    """Merge everything mergeable in every partition of ``tables`` under ``root``.

    Args:
        root: The repository directory.
        lock: The lock of the compacting process (it names the temporary files).
        tables: The tables to compact.
        writer: Merge only this writer's parts (all writers when None).
        fsync: fsync the merged files and their directories.

    Returns:
        How many files fewer the tables hold.

    Raises:
        CorruptFileError: a foreign or unreadable file in a table's directory.
    """
    merged = 0
    for table in tables:
        for partition, _ in walk(root, table):
            done = compact_partition(partition.path, table, lock, writer=writer, fsync=fsync)
            merged += done or 0
    return merged


def compact_partition(
    directory: Path,
    table: str,
    lock: WriterLock,
    *,
    writer: str | None = None,
    fsync: bool = False,
    max_rows: int = MAX_MERGED_ROWS,
    fan_in: int | None = None,
    rows: RowCounts | None = None,
) -> int | None:
    """Compact one partition directory: everything, or size-tiered with ``fan_in``.

    Args:
        directory: The partition directory.
        table: Its table.
        lock: The lock of the compacting process (it names the temporary files).
        writer: Merge only this writer's parts (all writers when None).
        fsync: fsync the merged files and their directories.
        max_rows: The most rows a merged file holds.
        fan_in: Merge size tiers of this many parts (None: merge everything).
        rows: Row counts known from earlier calls (saves reading footers again).

    Returns:
        How many files fewer the partition holds; None when another process is
        compacting it (nothing was done: ask again later).

    Raises:
        CorruptFileError: a foreign or unreadable file in the directory.
    """
    counts = rows if rows is not None else RowCounts()
    with partition_lock(directory) as acquired:
        if not acquired:
            return None
        merged = 0
        for _ in range(_MAX_PASSES):
            visible, covered = split_covered(list_parts(directory))
            remove_covered(covered, table)
            plan = _plan(_runs(visible, table, writer, counts), fan_in, max_rows)
            if not plan:
                break
            for chunk in plan:
                try:
                    merged += _merge(directory, table, [p for p, _ in chunk], lock, fsync, counts)
                except FileNotFoundError:
                    continue  # a part went away under us (not through this lock): skip it
            if fan_in is None:
                break  # one pass merges everything there is
        return merged


Sized = tuple[Part, int]  # a part and its rows


def _plan(runs: list[list[Sized]], fan_in: int | None, max_rows: int) -> list[list[Sized]]:
    if fan_in is None:
        return [chunk for run in runs for chunk in plan_everything(run, max_rows)]
    return [chunk for run in runs for chunk in plan_tiered(run, fan_in, max_rows)]


def plan_everything(run: list[Sized], max_rows: int) -> list[list[Sized]]:
    """Cut a run of consecutive parts into chunks of at most ``max_rows`` rows."""
    chunks: list[list[Sized]] = [[]]
    total = 0
    for part, n in run:
        if chunks[-1] and total + n > max_rows:
            chunks.append([])
            total = 0
        chunks[-1].append((part, n))
        total += n
    return [chunk for chunk in chunks if len(chunk) > 1]


def plan_tiered(run: list[Sized], fan_in: int, max_rows: int) -> list[list[Sized]]:
    """The merges of ``fan_in`` parts of one size tier that a run of consecutive parts needs.

    Scanning from the oldest part, a tier holds the parts up to the last one
    whose level is within ``_TIER_BAND`` of the highest level left; each
    ``fan_in`` adjacent parts of a tier are merged. Final parts (over
    ``max_rows / fan_in`` rows) split the run and are never merged.
    """
    fan_in = max(fan_in, 2)
    final = max_rows // fan_in
    merges: list[list[Sized]] = []
    stretch: list[Sized] = []
    for sized in [*run, None]:
        if sized is None or sized[1] > final:
            merges += _tier_windows(stretch, fan_in)
            stretch = []
        else:
            stretch.append(sized)
    return merges


def _tier_windows(parts: list[Sized], fan_in: int) -> list[list[Sized]]:
    levels = [math.log(max(n, 1), fan_in) for _, n in parts]
    windows: list[list[Sized]] = []
    start = 0
    while start < len(parts):
        floor = max(levels[start:]) - _TIER_BAND
        end = max(i for i in range(start, len(parts)) if levels[i] >= floor) + 1
        for first in range(start, end - fan_in + 1, fan_in):
            windows.append(parts[first : first + fan_in])
        start = end
    return windows


def stats(root: Path, table: str) -> StorageStats:
    """Files, bytes and rows of the visible parts of ``table`` (parts that vanish are skipped)."""
    files = n_bytes = rows = 0
    counts = RowCounts()
    for partition, _ in walk(root, table):
        visible, _covered = split_covered(list_parts(partition.path))
        for part in visible:
            n, size = counts.of(part.path, table), size_of(part.path)
            if n is None or size is None:
                continue  # merged away meanwhile: the merged part is counted instead
            rows += n
            n_bytes += size
            files += 1
    return StorageStats(files, n_bytes, rows)


def total_size(paths: Iterable[str]) -> tuple[int, int]:
    """``(files, bytes)`` of the files in ``paths`` that still exist (others were merged away)."""
    sizes = [size for size in map(size_of, paths) if size is not None]
    return len(sizes), sum(sizes)


def remove_covered(covered: list[Part], table: str) -> None:
    """Delete parts a wider part holds (left over by a compaction that was killed)."""
    for part in covered:
        try:
            check_part(str(part.path), table)
        except (CorruptFileError, FileNotFoundError):
            continue  # not ours to delete, or gone already
        remove_quietly(part.path)


def _runs(
    visible: list[Part], table: str, writer: str | None, counts: RowCounts
) -> list[list[Sized]]:
    """Runs of consecutive parts (touching segment ranges) of each writer, with their rows."""
    by_writer: dict[str, list[Part]] = defaultdict(list)
    for part in visible:
        if writer is None or part.name.writer == writer:
            by_writer[part.name.writer].append(part)
    runs: list[list[Sized]] = []
    for parts in by_writer.values():
        parts.sort(key=lambda p: p.name.first)
        run: list[Sized] = []
        for part in parts:
            n = counts.of(part.path, table)
            if n is None:
                continue  # gone: the run breaks here
            if run and part.name.first != run[-1][0].name.last + 1:
                runs.append(run)
                run = []
            run.append((part, n))
        runs.append(run)
    return [run for run in runs if len(run) > 1]


def _merge(
    directory: Path, table: str, chunk: list[Part], lock: WriterLock, fsync: bool, counts: RowCounts
) -> int:
    first, last = chunk[0].name, chunk[-1].name
    name = PartName(first.writer, first.first, last.last)
    lock.ensure()
    groups = _row_groups(chunk, table_schema(table))
    if not write_part(directory, name, table, groups, lock.writer, fsync):
        return 0
    for part in chunk:
        remove_quietly(part.path)
        counts.forget(part.path)
    return len(chunk) - 1


def _row_groups(chunk: list[Part], schema: pa.Schema) -> Iterator[pa.Table]:
    """The rows of ``chunk`` in tables of about ``ROW_GROUP_ROWS`` rows, in part order."""
    pending: list[pa.Table] = []
    rows = 0
    for part in chunk:
        for group in read_row_groups(part.path, schema):
            pending.append(group)
            rows += group.num_rows
            if rows >= ROW_GROUP_ROWS:
                yield pa.concat_tables(pending)
                pending, rows = [], 0
    if pending:
        yield pa.concat_tables(pending)
