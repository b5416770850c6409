"""Finding the partitions of a table and the files in them.

A table directory holds ``key=value`` directories, one level per partition
column (``project=…/client=…/round=…`` for metrics and events,
``project=…`` for the catalog). Values are percent-decoded and typed by
``schema.partition_schema``. A ``.parquet`` file anywhere else, or one whose
name is not an arrowscope part name, is a foreign file: plain DuckDB over
``**/*.parquet`` would read it, so listings refuse it with
``CorruptFileError``. So is a symbolic link to a directory, a part or a log
segment inside a table (``round=7 -> round=0``): glob readers that follow
links (polars) would count the rows it leads to twice, others not. Other
foreign files (notes, ``.DS_Store``) are ignored. Recovery lists with
``strict=False``: it skips all of these.

Files may vanish while they are listed (a checkpoint deletes its segment, a
compaction the parts it merged): listings never fail for that.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote

import pyarrow as pa

from arrowscope.errors import CorruptFileError
from arrowscope.location import encode_partition_value
from arrowscope.schema import partition_columns, partition_schema
from arrowscope.store._files import PART_SUFFIX, PartName, parse_log, parse_part

PartitionValue = str | int


@dataclass(frozen=True)
class Partition:
    """One leaf partition directory and its decoded key, outermost column first."""

    path: Path
    key: tuple[PartitionValue, ...]


@dataclass(frozen=True)
class Part:
    """A Parquet part file: its path and what its name says."""

    path: Path
    name: PartName


def partition_path(root: Path, table: str, key: tuple[PartitionValue, ...]) -> Path:
    """The directory of partition ``key`` of ``table`` (names percent-encoded)."""
    path = root / table
    for column, value in zip(partition_columns(table), key, strict=True):
        text = str(value) if isinstance(value, int) else encode_partition_value(value)
        path = path / f"{column}={text}"
    return path


def partition_of(path: str | Path, table: str) -> tuple[PartitionValue, ...] | None:
    """The partition key of a file of ``table`` from its directory names (None: not in one)."""
    columns = partition_columns(table)
    types = partition_schema(table)
    directories = Path(path).parent.parts[-len(columns) :]
    key = []
    for position, dirname in enumerate(directories):
        value = _decode(dirname, columns[position], types.field(position).type)
        if value is None:
            return None
        key.append(value)
    return tuple(key) if len(key) == len(columns) else None


def walk(root: Path, table: str, strict: bool = True) -> list[tuple[Partition, list[str]]]:
    """Every partition directory of ``table`` with the file names it holds, sorted.

    Raises:
        CorruptFileError: (when ``strict``) a ``.parquet`` file outside a
            partition directory, or a symbolic link (see the module docstring).
    """
    columns = partition_columns(table)
    types = partition_schema(table)
    found: list[tuple[Partition, list[str]]] = []

    def visit(directory: Path, key: tuple[PartitionValue, ...]) -> None:
        entries = _entries(directory)
        if len(key) == len(columns):
            files = [e.name for e in entries if _plain_file(e, strict)]
            found.append((Partition(directory, key), files))
            return
        for entry in entries:
            if entry.is_symlink():
                if strict and (entry.is_dir() or _stored_name(entry.name)):
                    raise CorruptFileError(entry.path, _SYMLINK)
            elif entry.is_dir():
                value = _decode(entry.name, columns[len(key)], types.field(len(key)).type)
                if value is None:
                    if strict:
                        _refuse_parquet_below(Path(entry.path))
                else:
                    visit(Path(entry.path), (*key, value))
            elif strict and entry.name.endswith(PART_SUFFIX):
                raise CorruptFileError(entry.path, "a Parquet file outside a partition directory")

    visit(root / table, ())
    return found


def list_parts(directory: Path, strict: bool = True) -> list[Part]:
    """The part files of a partition directory (a fresh listing), by name.

    Raises:
        CorruptFileError: (when ``strict``) a ``.parquet`` file whose name is
            not a part name, or a symbolic link named like a part.
    """
    parts = []
    for entry in _entries(directory):
        if not entry.name.endswith(PART_SUFFIX):
            continue
        parsed = parse_part(entry.name)
        path = directory / entry.name
        if entry.is_symlink():
            if strict:
                raise CorruptFileError(path, _SYMLINK)
            continue
        if parsed is None:
            if not strict:
                continue
            if entry.is_dir():
                _refuse_parquet_below(path)
                continue
            raise CorruptFileError(path, "a Parquet file not written by arrowscope (foreign name)")
        parts.append(Part(path, parsed))
    return parts


def split_covered(parts: list[Part]) -> tuple[list[Part], list[Part]]:
    """``(visible, covered)``: a part is covered when a wider part of its writer holds it.

    Compaction publishes the merged part before deleting the parts it merged,
    so for a moment both exist; readers must skip the covered ones.
    """
    by_writer: dict[str, list[Part]] = defaultdict(list)
    for part in parts:
        by_writer[part.name.writer].append(part)
    visible: list[Part] = []
    covered: list[Part] = []
    for group in by_writer.values():
        group.sort(key=lambda p: (p.name.first, -p.name.last))
        reach = -1
        for part in group:
            if part.name.last <= reach:
                covered.append(part)
            else:
                visible.append(part)
                reach = part.name.last
    visible.sort(key=lambda p: p.path.name)
    return visible, covered


def segment_in_parts(parts: list[Part], writer: str, segment: int) -> bool:
    """True when a part of ``writer`` already holds log segment ``segment``."""
    return any(p.name.writer == writer and p.name.first <= segment <= p.name.last for p in parts)


_SYMLINK: Final = (
    "a symbolic link inside a table: glob readers disagree on it (polars follows it and "
    "counts the rows it leads to twice, DuckDB skips them); replace it by what it points to"
)


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    """The entries of ``directory`` by name; none when it vanished."""
    try:
        with os.scandir(directory) as scan:
            return sorted(scan, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _plain_file(entry: os.DirEntry[str], strict: bool) -> bool:
    """True for a regular file; a stored-looking symbolic link is refused when ``strict``."""
    if not entry.is_symlink():
        return _is_file(entry)
    if strict and (_stored_name(entry.name) or _is_dir(entry)):
        raise CorruptFileError(entry.path, _SYMLINK)
    return False


def _stored_name(name: str) -> bool:
    """Names readers act on: Parquet files and log segments."""
    return name.endswith(PART_SUFFIX) or parse_log(name) is not None


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except FileNotFoundError:
        return False


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except FileNotFoundError:
        return False


def _decode(dirname: str, column: str, type_: pa.DataType) -> PartitionValue | None:
    name, sep, raw = dirname.partition("=")
    if not sep or name != column:
        return None
    value = unquote(raw)
    if pa.types.is_integer(type_):
        return int(value) if value.isascii() and value.isdigit() else None
    return value


def _refuse_parquet_below(directory: Path) -> None:
    for dirpath, _, filenames in os.walk(directory):  # symbolic links are not followed
        for name in filenames:
            if name.endswith(PART_SUFFIX):
                raise CorruptFileError(
                    Path(dirpath) / name, "a Parquet file outside a partition directory"
                )
