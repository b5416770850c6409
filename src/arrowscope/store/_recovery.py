"""Recovery: checkpoint what writers that are gone left in log segments.

A writer holds its lock (``_locks.WriterLock``) while it has log segments or
temporary files. When the lock can be taken, the writer is gone (killed,
crashed, or closed): its segments are read up to their last complete batch
and written as the parts the writer would have written (same names, so a
segment whose part already exists is just deleted), its temporary files are
deleted, then its lock file. Parts left covered by a compaction that was
killed before it deleted them are deleted too, so that plain readers of
``**/*.parquet`` see every row once.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from arrowscope.errors import CorruptFileError
from arrowscope.schema import TABLES, table_schema
from arrowscope.store._files import (
    PartName,
    parse_log,
    remove_quietly,
    tmp_creator,
    write_part,
)
from arrowscope.store._listing import Partition, list_parts, segment_in_parts, split_covered, walk
from arrowscope.store._locks import (
    LOCK_SUFFIX,
    WRITERS_DIR,
    WriterInfo,
    WriterLock,
    claim_if_dead,
    read_writer_info,
    writer_lock_path,
)
from arrowscope.store._log import read_log
from arrowscope.store.compact import remove_covered

logger = logging.getLogger(__name__)

# (table, partition, file name, segment number or None for a temporary file)
_Leftover = tuple[str, Partition, str, int | None]


def recover(
    root: Path,
    lock: WriterLock,
    fsync: bool = False,
    on_dead: Callable[[WriterInfo], None] | None = None,
) -> list[WriterInfo]:
    """Recover the segments of every writer under ``root`` that is gone.

    Args:
        root: The repository directory.
        lock: The lock of the recovering writer (it names the temporary files).
        fsync: fsync the parts written.
        on_dead: Called for each writer found gone once its rows are in
            parts, while its lock file still exists: if this process dies
            during the call, the next one finds the writer again.

    Returns:
        The writers found gone.
    """
    leftovers: dict[str, list[_Leftover]] = defaultdict(list)
    for table in TABLES:
        for partition, names in walk(root, table, strict=False):
            _remove_covered(partition.path, table)
            for name in names:
                log = parse_log(name)
                if log is not None:
                    leftovers[log[0]].append((table, partition, name, log[1]))
                elif (creator := tmp_creator(name)) is not None:
                    leftovers[creator].append((table, partition, name, None))
    for writer in _lock_owners(root):
        leftovers.setdefault(writer, [])
    leftovers.pop(lock.writer, None)
    recovered = 0
    dead: list[WriterInfo] = []
    for writer, files in sorted(leftovers.items()):
        path = writer_lock_path(root, writer)
        fd = claim_if_dead(path)
        if fd is None:
            continue  # alive
        try:
            info = read_writer_info(path, writer)
            recovered += sum(_recover_file(writer, item, lock, fsync) for item in files)
            if on_dead is not None:
                on_dead(info)
            dead.append(info)
            remove_quietly(path)
        finally:
            os.close(fd)
    if recovered:
        logger.info("recovered %d log segments in %s", recovered, root)
    return dead


def _recover_file(writer: str, item: _Leftover, lock: WriterLock, fsync: bool) -> int:
    table, partition, name, segment = item
    path = partition.path / name
    if segment is None:
        remove_quietly(path)  # a temporary file: never published
        return 0
    try:
        batches = read_log(path, table_schema(table))
    except FileNotFoundError:
        return 0
    except CorruptFileError as exc:
        logger.warning("left %s alone: %s", path, exc.reason)
        return 0
    parts = list_parts(partition.path, strict=False)
    if batches and not segment_in_parts(parts, writer, segment):
        lock.ensure()
        data = pa.Table.from_batches(batches, schema=table_schema(table))
        part = PartName(writer, segment, segment)
        write_part(partition.path, part, table, data, lock.writer, fsync)
    remove_quietly(path)
    logger.info("recovered %s (%d rows)", path, sum(b.num_rows for b in batches))
    return 1


def _remove_covered(directory: Path, table: str) -> None:
    _visible, covered = split_covered(list_parts(directory, strict=False))
    if covered:
        remove_covered(covered, table)


def _lock_owners(root: Path) -> list[str]:
    try:
        names = os.listdir(root / WRITERS_DIR)
    except FileNotFoundError:
        return []
    return [n[: -len(LOCK_SUFFIX)] for n in names if n.endswith(LOCK_SUFFIX)]
