"""A consistent read of one table: the visible parts plus the rows still in log segments.

Concurrent checkpoints move rows from a segment to a part (part first, then
the segment is deleted) and compaction replaces parts by a wider one (wider
part first, then the covered ones are deleted). Reading in this order keeps
every row visible exactly once:

1. list the segments of a partition directory and read them;
2. list the parts of that directory afterwards; drop the segments a part
   already holds, and the parts a wider part holds.

A segment that vanished before it was read has its part published already,
so step 2 sees it. A part that vanishes while it is checked means a wider
part exists: the whole read starts over. A segment being written ends in an
incomplete record: the rows before it are what is written so far. Damage in
the middle of another writer's live segment is logged (once per file); that
writer checkpoints from memory, so its part will hold every row.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Final, NamedTuple

import pyarrow as pa

from arrowscope.schema import partition_columns, table_schema
from arrowscope.store._files import check_part, parse_log, read_part, stamp_of
from arrowscope.store._listing import (
    Part,
    Partition,
    list_parts,
    segment_in_parts,
    split_covered,
    walk,
)
from arrowscope.store._log import read_log
from arrowscope.store._staging import concat, with_partition

logger = logging.getLogger(__name__)

_ATTEMPTS: Final = 200
_DAMAGE_LOGGED: set[Path] = set()


class Snapshot(NamedTuple):
    """What a reader sees of a table at one moment.

    ``files`` are Parquet parts (absolute paths); ``batches`` are the rows of
    other writers' log segments that no part holds yet, partition columns first.
    """

    files: list[str]
    batches: list[pa.RecordBatch]


class PartChecker:
    """Remembers the parts already verified (parts are immutable), by size and mtime."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}

    def check(self, path: Path, table: str) -> None:
        """Raise ``CorruptFileError`` unless ``path`` is a part of ``table``."""
        key = str(path)
        stamp = stamp_of(key)
        if self._seen.get(key) != stamp:
            check_part(key, table)
            self._seen[key] = stamp


def read_snapshot(root: Path, table: str, own_writer: str, checker: PartChecker) -> Snapshot:
    """Visible parts and pending segment rows of ``table`` (this writer's segments excluded).

    Raises:
        CorruptFileError: a foreign or unreadable file in the table's directory.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return _read_once(root, table, own_writer, checker)
        except FileNotFoundError:
            time.sleep(0.001 * min(attempt, 10))
    raise RuntimeError(f"{root / table} kept changing during {_ATTEMPTS} attempts to read it")


def _read_once(root: Path, table: str, own_writer: str, checker: PartChecker) -> Snapshot:
    schema = table_schema(table)
    partitions = walk(root, table)
    logs: list[tuple[Partition, str, int, list[pa.RecordBatch]]] = []
    for partition, names in partitions:
        for name in names:
            parsed = parse_log(name)
            if parsed is None or parsed[0] == own_writer:
                continue
            path = partition.path / name
            try:
                contents = read_log(path, schema)
            except FileNotFoundError:
                continue  # checkpointed meanwhile: its part is listed below
            if contents.damage:
                _report_damage(path, contents.rows_lost())
            logs.append((partition, parsed[0], parsed[1], contents.batches))
    files: list[str] = []
    visible_by_dir: dict[Path, list[Part]] = {}
    for partition, _ in partitions:
        visible, _covered = split_covered(list_parts(partition.path))
        for part in visible:
            checker.check(part.path, table)
        files.extend(str(p.path) for p in visible)
        visible_by_dir[partition.path] = visible
    pending = [
        with_partition(table, partition.key, batch)
        for partition, writer, segment, batches in logs
        if not segment_in_parts(visible_by_dir[partition.path], writer, segment)
        for batch in batches
    ]
    return Snapshot(files, pending)


def read_partitions(
    root: Path, table: str, own_writer: str, checker: PartChecker, writer: str
) -> pa.Table:
    """Every row of ``table`` in the partitions ``writer`` wrote to (parts and segments).

    Rows of this writer's own segments are left out, as in ``read_snapshot``.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return _read_partitions_once(root, table, own_writer, checker, writer)
        except FileNotFoundError:  # a part compacted away meanwhile
            time.sleep(0.001 * min(attempt, 10))
    raise RuntimeError(f"{root / table} kept changing during {_ATTEMPTS} attempts to read it")


def _read_partitions_once(
    root: Path, table: str, own_writer: str, checker: PartChecker, writer: str
) -> pa.Table:
    snapshot = read_snapshot(root, table, own_writer, checker)
    marks = (f"part-{writer}-", f"log-{writer}-")
    chosen = {
        partition.path: partition.key
        for partition, names in walk(root, table, strict=False)
        if any(name.startswith(marks) for name in names)
    }
    batches: list[pa.RecordBatch] = []
    for path in snapshot.files:
        key = chosen.get(Path(path).parent)
        if key is not None:
            part = read_part(path, table_schema(table))
            batches.extend(with_partition(table, key, b) for b in part.to_batches())
    keys = set(chosen.values())
    for batch in snapshot.batches:
        if batch.num_rows and _partition_of(table, batch) in keys:
            batches.append(batch)
    return concat(table, batches)


def _partition_of(table: str, batch: pa.RecordBatch) -> tuple[object, ...]:
    return tuple(batch.column(name)[0].as_py() for name in partition_columns(table))


def _report_damage(path: Path, rows: str) -> None:
    if path not in _DAMAGE_LOGGED:
        _DAMAGE_LOGGED.add(path)
        logger.warning("%s: damaged records in the middle of a live log (%s skipped)", path, rows)
