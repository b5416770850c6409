"""Names of the files in a data directory, and how a Parquet part gets written.

A partition directory holds, per writer ``<w>`` (see ``Staging.writer_id``):

* ``log-<w>-<seg:08d>.aslog`` -- the log segment ``seg`` the writer appends
  framed Arrow record batches to (see ``_log``; earlier versions wrote Arrow
  IPC streams named ``….arrows``, still read); ``**/*.parquet`` never matches;
* ``<segment name>.damaged`` -- a segment recovery found damaged in the
  middle, kept aside for inspection once its readable rows are in a part;
* ``part-<w>-<first:08d>-<last:08d>.parquet`` -- an immutable Parquet part
  holding the rows of segments ``first`` to ``last`` (``first == last`` for a
  checkpoint, a wider range for a compacted file);
* ``<final name>.<creator>.tmp`` -- a part being written by process
  ``<creator>``; readers never list it, recovery deletes it once its creator
  is gone;
* ``.compact.lock`` -- the lock file compaction takes for the partition.

Parts are written under a temporary name in the same directory, optionally
fsynced, then published with ``os.link`` so that an existing file is never
replaced. A part is written from one table, or streamed from a sequence of
tables (one row group each), so that merging large parts takes bounded memory.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrowscope.errors import CorruptFileError
from arrowscope.schema import (
    FORMAT_VERSION,
    METADATA_TABLE_KEY,
    METADATA_VERSION_KEY,
    conform,
    table_schema,
)

PART_SUFFIX: Final = ".parquet"
LOG_SUFFIX: Final = ".aslog"
DAMAGED_SUFFIX: Final = ".damaged"
TMP_SUFFIX: Final = ".tmp"
COMPACT_LOCK: Final = ".compact.lock"

_PART_RE: Final = re.compile(r"part-([0-9A-Za-z_]+)-(\d+)-(\d+)\.parquet")
_LOG_RE: Final = re.compile(r"log-([0-9A-Za-z_]+)-(\d+)\.(?:aslog|arrows)")
_TMP_RE: Final = re.compile(r"part-[0-9A-Za-z_]+-\d+-\d+\.parquet\.([0-9A-Za-z_]+)\.tmp")

# Rows of the metrics table are sorted this way before a part is written:
# with the metric and phase first, each curve's values sit next to the same
# curve of the neighbouring trials and the timestamps increase, which halves
# the bytes per value compared with a (trial, split, ...) order.
_SORT_KEYS: Final = {
    "metrics": ("metric", "phase", "trial", "split", "epoch"),
    "events": ("writer", "seq"),
}
# Numbers measured on noisy training curves: a small dictionary page makes
# high-cardinality value chunks fall back to plain encoding early, and delta
# encoding stores timestamps in about one byte each.
_DICTIONARY_PAGE_BYTES: Final = 64 * 1024
# Rows per row group of every part: what a merge reads, sorts and holds at once.
# A checkpoint at 500k values/s writes a million rows; as one row group, its
# merge held 100-250 MB. DuckDB's own row groups are about as large (122,880).
ROW_GROUP_ROWS: Final = 1 << 17
_DELTA_COLUMNS: Final = {"metrics": ("epoch", "logged_at"), "events": ("at", "seq", "clock")}


class PartName(NamedTuple):
    """The writer of a part and the range of its log segments (inclusive)."""

    writer: str
    first: int
    last: int

    @property
    def filename(self) -> str:
        return f"part-{self.writer}-{self.first:08d}-{self.last:08d}{PART_SUFFIX}"

    def covers(self, other: PartName) -> bool:
        """True when ``other`` holds a subset of this part's segments."""
        return self.writer == other.writer and self.first <= other.first <= other.last <= self.last


def parse_part(name: str) -> PartName | None:
    """The writer and segment range of a part file name, or None if it is not one."""
    match = _PART_RE.fullmatch(name)
    if match is None:
        return None
    return PartName(match[1], int(match[2]), int(match[3]))


def log_name(writer: str, segment: int) -> str:
    """The file name of a writer's log segment."""
    return f"log-{writer}-{segment:08d}{LOG_SUFFIX}"


def parse_log(name: str) -> tuple[str, int] | None:
    """``(writer, segment)`` of a log segment file name, or None."""
    match = _LOG_RE.fullmatch(name)
    return None if match is None else (match[1], int(match[2]))


def tmp_creator(name: str) -> str | None:
    """The writer id that created a temporary file, or None if ``name`` is not one."""
    match = _TMP_RE.fullmatch(name)
    return None if match is None else match[1]


def write_part(
    directory: Path,
    name: PartName,
    table: str,
    data: pa.Table | Iterable[pa.Table],
    creator: str,
    fsync: bool,
) -> bool:
    """Write ``data`` as the part ``name`` of ``table`` in ``directory``, atomically.

    ``write_unpublished`` then ``publish``; see both.

    Returns:
        False when a part of that name already existed (the new one is dropped).
    """
    unpublished = write_unpublished(directory, name, table, data, creator, fsync)
    try:
        return publish(unpublished, directory / name.filename, fsync)
    finally:
        remove_quietly(unpublished)


def write_unpublished(
    directory: Path,
    name: PartName,
    table: str,
    data: pa.Table | Iterable[pa.Table],
    creator: str,
    fsync: bool,
) -> Path:
    """Write ``data`` as ``<name>.<creator>.tmp`` in ``directory`` (fsynced when ``fsync``).

    ``data`` is one table, or tables written one row group each (each sorted
    on its own), so that a large merge never holds every row in memory.
    Readers never list the file; ``publish`` it, or remove it.
    """
    tmp = directory / f"{name.filename}.{creator}{TMP_SUFFIX}"
    schema = table_schema(table)
    try:
        if isinstance(data, pa.Table):
            pq.write_table(
                sort_rows(table, data),
                tmp,
                row_group_size=ROW_GROUP_ROWS,
                **parquet_options(table, data.schema),
            )
        else:
            with pq.ParquetWriter(tmp, schema, **parquet_options(table, schema)) as writer:
                for chunk in data:
                    writer.write_table(sort_rows(table, chunk), row_group_size=chunk.num_rows)
        if fsync:
            _fsync_path(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            _remove(tmp)
        raise
    return tmp


def sort_rows(table: str, data: pa.Table) -> pa.Table:
    """``data`` in the order parts of ``table`` are stored in (see ``_SORT_KEYS``).

    Text keys are sorted by their rank among the distinct values, which
    compares integers instead of strings: 1.7 times faster on a merge of
    500,000 rows, the same order.
    """
    keys = [k for k in _SORT_KEYS.get(table, ()) if k in data.schema.names]
    if not keys or data.num_rows < 2:
        return data
    # A log holds one small batch per flush: sorting thousands of chunks
    # costs about five times more than combining them first.
    data = data.combine_chunks()
    columns = {}
    for key in keys:
        column = data[key]
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            distinct = pc.unique(column)
            column = pc.index_in(column, value_set=distinct.take(pc.sort_indices(distinct)))
        columns[key] = column
    order = pc.sort_indices(pa.table(columns), sort_keys=[(k, "ascending") for k in keys])
    return data.take(order)


def read_row_groups(path: Path, schema: pa.Schema) -> Iterator[pa.Table]:
    """The row groups of one part, one table each (bounded memory for large parts)."""
    with pq.ParquetFile(path) as file:
        for index in range(file.num_row_groups):
            yield conform(file.read_row_group(index), schema)


def set_aside(path: Path, suffix: str) -> Path:
    """Rename ``path`` to ``<path><suffix>`` (or ``<path><suffix>-<n>``), never replacing a file."""
    target = path.with_name(path.name + suffix)
    number = 0
    while True:
        try:
            os.link(path, target)
        except FileExistsError:
            number += 1
            target = path.with_name(f"{path.name}{suffix}-{number}")
            continue
        except OSError:  # no hard links here: rename, the name checked first
            if target.exists():
                number += 1
                target = path.with_name(f"{path.name}{suffix}-{number}")
                continue
            os.rename(path, target)
            return target
        _remove(path)
        return target


def stamp_of(path: str | Path) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file: a part with the same stamp is the same part.

    Raises:
        FileNotFoundError: the file is gone.
    """
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def size_of(path: str | Path) -> int | None:
    """The size of a file in bytes, or None when it is gone (a compaction removed it)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def parquet_options(table: str, schema: pa.Schema) -> dict[str, Any]:
    """Keyword arguments of ``pq.write_table`` for the files of ``table``."""
    delta = [c for c in _DELTA_COLUMNS.get(table, ()) if c in schema.names]
    return {
        "compression": "zstd",
        "use_dictionary": [c for c in schema.names if c not in delta],
        "dictionary_pagesize_limit": _DICTIONARY_PAGE_BYTES,
        "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED") or None,
        # Min/max statistics leave NaN out, and DuckDB folds isnan(value),
        # value != value and value = 'nan' from them: float columns get none.
        "write_statistics": [f.name for f in schema if not pa.types.is_floating(f.type)],
    }


def check_part(path: str, table: str) -> int:
    """Verify that ``path`` is a Parquet part of ``table`` written by arrowscope.

    Returns:
        The number of rows of the part.

    Raises:
        CorruptFileError: naming the file when it cannot be read, lacks the
            arrowscope metadata, belongs to another table or to a newer format.
        FileNotFoundError: when the file disappeared (compaction ran).
    """
    try:
        meta = pq.read_metadata(path)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise CorruptFileError(path, f"not a readable Parquet file ({exc})") from exc
    kv = meta.metadata or {}
    version = kv.get(METADATA_VERSION_KEY)
    if version is None:
        raise CorruptFileError(path, "a Parquet file without arrowscope metadata (a foreign file)")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise CorruptFileError(
            path,
            f"written in format version {version.decode(errors='replace')}, newer than "
            f"{FORMAT_VERSION}; upgrade arrowscope (pip install -U arrowscope) to read it",
        )
    if kv.get(METADATA_TABLE_KEY) != table.encode():
        found = kv.get(METADATA_TABLE_KEY, b"?").decode(errors="replace")
        raise CorruptFileError(path, f"a part of table {found!r} in the {table!r} table")
    return int(meta.num_rows)


def read_part(path: str, schema: pa.Schema) -> pa.Table:
    """The rows of one part, without partition columns."""
    with pq.ParquetFile(path) as file:
        return conform(file.read(), schema)


def remove_quietly(path: Path) -> None:
    """Delete ``path``; a file that is already gone is fine."""
    _remove(path)


def fsync_dir(directory: Path) -> None:
    """Make the entries of ``directory`` (creations, renames) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path, fsync: bool) -> bool:
    """Give the written file ``tmp`` its final name with a hard link, never replacing a file.

    Returns:
        False when ``final`` exists already (``tmp`` is left for the caller to remove).
    """
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links: rename, after checking the name is
        # free (the writer lock makes the name ours alone).
        if final.exists():
            return False
        os.rename(tmp, final)
    if fsync:
        fsync_dir(final.parent)
    return True


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
