"""Compaction: merge a writer's parts in a partition into one file.

Per partition directory and writer, runs of parts with consecutive segment
ranges are merged into ``part-<writer>-<first>-<last>.parquet``, written
under a temporary name and published before the merged parts are deleted.
While both exist, readers skip the covered parts (``_listing.split_covered``);
a reader that listed a part which is then deleted starts its read over. So a
concurrent reader never sees a row twice or misses one.

A per-partition ``flock`` (``.compact.lock``) keeps two compactions of one
partition apart; a partition being compacted elsewhere is skipped. Any
process may compact parts of any writer (they are immutable once published),
never log segments. Rows are sorted (see ``_files``) so that typical curves
take a few bytes per value.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.errors import CorruptFileError
from arrowscope.schema import TABLES, table_schema
from arrowscope.store._files import PartName, check_part, read_part, remove_quietly, write_part
from arrowscope.store._listing import Part, list_parts, split_covered, walk
from arrowscope.store._locks import WriterLock, partition_lock

# A merged file holds at most this many rows, so compaction needs bounded memory.
MAX_MERGED_ROWS: Final = 16_000_000


@dataclass(frozen=True)
class StorageStats:
    """Size of the visible parts of a table."""

    files: int
    bytes: int
    rows: int

    @property
    def bytes_per_row(self) -> float:
        return self.bytes / self.rows if self.rows else 0.0


def compact(
    root: Path,
    lock: WriterLock,
    *,
    tables: tuple[str, ...] = TABLES,
    writer: str | None = None,
    fsync: bool = False,
) -> int:
    """Compact every partition of ``tables`` under ``root``.

    Args:
        root: The repository directory.
        lock: The lock of the compacting process (it names the temporary files).
        tables: The tables to compact.
        writer: Merge only this writer's parts (all writers when None).
        fsync: fsync the merged files and their directories.

    Returns:
        How many files fewer the tables hold.
    """
    merged = 0
    for table in tables:
        for partition, _ in walk(root, table):
            merged += compact_partition(partition.path, table, lock, writer=writer, fsync=fsync)
    return merged


def compact_partition(
    directory: Path,
    table: str,
    lock: WriterLock,
    *,
    writer: str | None = None,
    fsync: bool = False,
    max_rows: int = MAX_MERGED_ROWS,
) -> int:
    """Compact one partition directory; see ``compact``.

    Returns:
        How many files fewer the partition holds (0 when another process is
        compacting it).
    """
    with partition_lock(directory) as acquired:
        if not acquired:
            return 0
        visible, covered = split_covered(list_parts(directory))
        remove_covered(covered, table)
        merged = 0
        for chunk in _chunks(visible, table, writer, max_rows):
            merged += _merge(directory, table, chunk, lock, fsync)
        return merged


def stats(root: Path, table: str) -> StorageStats:
    """Files, bytes and rows of the visible parts of ``table``."""
    files = n_bytes = rows = 0
    for partition, _ in walk(root, table):
        visible, _covered = split_covered(list_parts(partition.path))
        for part in visible:
            rows += check_part(str(part.path), table)
            n_bytes += part.path.stat().st_size
            files += 1
    return StorageStats(files, n_bytes, rows)


def _chunks(visible: list[Part], table: str, writer: str | None, max_rows: int) -> list[list[Part]]:
    """Runs of consecutive parts of one writer, cut to at most ``max_rows`` rows each."""
    by_writer: dict[str, list[Part]] = defaultdict(list)
    for part in visible:
        if writer is None or part.name.writer == writer:
            by_writer[part.name.writer].append(part)
    chunks: list[list[Part]] = []
    for parts in by_writer.values():
        parts.sort(key=lambda p: p.name.first)
        chunk: list[Part] = []
        rows = 0
        for part in parts:
            n = check_part(str(part.path), table)
            contiguous = bool(chunk) and part.name.first == chunk[-1].name.last + 1
            if not contiguous or rows + n > max_rows:
                chunks.append(chunk)
                chunk, rows = [], 0
            chunk.append(part)
            rows += n
        chunks.append(chunk)
    return [c for c in chunks if len(c) > 1]


def _merge(directory: Path, table: str, chunk: list[Part], lock: WriterLock, fsync: bool) -> int:
    schema = table_schema(table)
    data = pa.concat_tables([read_part(str(p.path), schema) for p in chunk])
    first, last = chunk[0].name, chunk[-1].name
    name = PartName(first.writer, first.first, last.last)
    lock.ensure()
    if not write_part(directory, name, table, data, lock.writer, fsync):
        return 0
    for part in chunk:
        remove_quietly(part.path)
    return len(chunk) - 1


def remove_covered(covered: list[Part], table: str) -> None:
    """Delete parts a wider part holds (left over by a compaction that was killed)."""
    for part in covered:
        try:
            check_part(str(part.path), table)
        except (CorruptFileError, FileNotFoundError):
            continue  # not ours to delete, or gone already
        remove_quietly(part.path)
