"""Recovery: checkpoint what writers that are gone left in log segments.

A writer holds its lock (``_locks.WriterLock``) while it has log segments or
temporary files. When the lock can be taken, the writer is gone (killed,
crashed, or closed): its segments are read up to their last complete batch
and written as the parts the writer would have written (same names, so a
segment whose part already exists is just deleted), its temporary files are
deleted, then its lock file. A segment damaged in the middle (see ``_log``)
has its readable rows recovered and is kept aside as ``<name>.damaged``,
with a ``DamagedLogWarning`` naming it and the rows lost. Parts left covered
by a compaction that was killed before it deleted them are deleted too, so
that plain readers of ``**/*.parquet`` see every row once.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from arrowscope.errors import CorruptFileError, DamagedLogWarning
from arrowscope.schema import TABLES, table_schema
from arrowscope.store._files import (
    DAMAGED_SUFFIX,
    PartName,
    parse_log,
    remove_quietly,
    set_aside,
    tmp_creator,
    write_part,
)
from arrowscope.store._housekeeping import Reporter
from arrowscope.store._listing import Partition, list_parts, segment_in_parts, split_covered, walk
from arrowscope.store._locks import (
    LOCK_SUFFIX,
    WRITERS_DIR,
    WriterInfo,
    WriterLock,
    claim_if_dead,
    partition_lock,
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
    reporter: Reporter,
    fsync: bool = False,
    on_dead: Callable[[WriterInfo], None] | None = None,
) -> list[WriterInfo]:
    """Recover the segments of every writer under ``root`` that is gone.

    A leftover that cannot be recovered (an unwritable directory, a full
    disk) is reported to ``reporter`` and left for the next recovery, with
    its writer's lock file.

    Args:
        root: The repository directory.
        lock: The lock of the recovering writer (it names the temporary files).
        reporter: Where failures go.
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
            _remove_covered(partition.path, table, reporter)
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
    damaged: list[str] = []
    dead: list[WriterInfo] = []
    for writer, files in sorted(leftovers.items()):
        path = writer_lock_path(root, writer)
        fd = claim_if_dead(path)
        if fd is None:
            continue  # alive
        try:
            info = read_writer_info(writer_lock_path(root, writer), writer)
            done = [
                _recover_quietly(writer, item, lock, fsync, reporter, damaged) for item in files
            ]
            recovered += sum(n or 0 for n in done)
            if None not in done:
                if on_dead is not None:
                    on_dead(info)
                dead.append(info)
                remove_quietly(writer_lock_path(root, writer))
        finally:
            os.close(fd)
    for message in damaged:  # once the work is done, whatever the warning filters do
        warnings.warn(message, DamagedLogWarning, stacklevel=3)
    if recovered:
        logger.info("recovered %d log segments in %s", recovered, root)
    return dead


def _recover_quietly(
    writer: str,
    item: _Leftover,
    lock: WriterLock,
    fsync: bool,
    reporter: Reporter,
    damaged: list[str],
) -> int | None:
    """``_recover_file``, reporting a failure (None) rather than raising it."""
    try:
        return _recover_file(writer, item, lock, fsync, damaged)
    except Exception as exc:  # housekeeping: the leftover stays for the next recovery
        reporter.failed("recovery", item[1].path / item[2], exc)
        return None


def _recover_file(
    writer: str, item: _Leftover, lock: WriterLock, fsync: bool, damaged: list[str]
) -> int:
    """Turn one leftover of a writer that is gone into its part; 1 for a segment, else 0.

    The warning text for a segment damaged in the middle goes to ``damaged``.
    """
    table, partition, name, segment = item
    path = partition.path / name
    if segment is None:
        remove_quietly(path)  # a temporary file: never published
        return 0
    try:
        contents = read_log(path, table_schema(table))
    except FileNotFoundError:
        return 0
    except CorruptFileError as exc:
        logger.warning("left %s alone: %s", path, exc.reason)
        return 0
    parts = list_parts(partition.path, strict=False)
    if segment_in_parts(parts, writer, segment):
        remove_quietly(path)  # checkpointed from memory before its writer died: complete
        return 1
    if contents.batches:
        lock.ensure()
        data = pa.Table.from_batches(contents.batches, schema=table_schema(table))
        part = PartName(writer, segment, segment)
        write_part(partition.path, part, table, data, lock.writer, fsync)
    rows = sum(b.num_rows for b in contents.batches)
    if contents.damage:
        damaged.append(_set_damaged_aside(path, rows, contents.rows_lost()))
    else:
        remove_quietly(path)
        logger.info("recovered %s (%d rows)", path, rows)
    return 1


def _set_damaged_aside(path: Path, rows: int, lost: str) -> str:
    aside = set_aside(path, DAMAGED_SUFFIX)
    message = (
        f"{path}: the log segment is damaged in the middle; {lost} could not be read and "
        f"are lost. The {rows} readable rows were recovered into a Parquet part; the "
        f"damaged segment is kept as {aside.name} for inspection (delete it when done)."
    )
    logger.warning("%s", message)
    return message


def _remove_covered(directory: Path, table: str, reporter: Reporter) -> None:
    if not split_covered(list_parts(directory, strict=False))[1]:
        return  # the usual case: no lock file needed (the directory may be read-only)
    try:
        with partition_lock(directory) as acquired:
            if acquired:  # else a compaction is running there: it removes them itself
                remove_covered(split_covered(list_parts(directory, strict=False))[1], table)
    except OSError as exc:
        reporter.failed("recovery", directory, exc)


def _lock_owners(root: Path) -> list[str]:
    try:
        names = os.listdir(root / WRITERS_DIR)
    except FileNotFoundError:
        return []
    return [n[: -len(LOCK_SUFFIX)] for n in names if n.endswith(LOCK_SUFFIX)]
