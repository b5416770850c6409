"""Finding the partitions of a table and the files in them.

A table directory holds ``key=value`` directories, one level per partition
column (``project=…/client=…/round=…`` for metrics and events,
``project=…`` for the catalog). Values are percent-decoded and typed by
``schema.partition_schema``. A ``.parquet`` file anywhere else, or one whose
name is not an arrowscope part name, is a foreign file: plain DuckDB over
``**/*.parquet`` would read it, so listings refuse it with
``CorruptFileError``. Other foreign files (notes, ``.DS_Store``) are ignored.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa

from arrowscope.errors import CorruptFileError
from arrowscope.location import encode_partition_value
from arrowscope.schema import partition_columns, partition_schema
from arrowscope.store._files import PART_SUFFIX, PartName, parse_part

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


def walk(root: Path, table: str, strict: bool = True) -> list[tuple[Partition, list[str]]]:
    """Every partition directory of ``table`` with the file names it holds, sorted.

    Raises:
        CorruptFileError: (when ``strict``) a ``.parquet`` file outside a
            partition directory.
    """
    columns = partition_columns(table)
    types = partition_schema(table)
    found: list[tuple[Partition, list[str]]] = []

    def visit(directory: Path, key: tuple[PartitionValue, ...]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            return
        if len(key) == len(columns):
            found.append((Partition(directory, key), [e.name for e in entries if e.is_file()]))
            return
        for entry in entries:
            if entry.is_dir():
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
            not a part name.
    """
    parts = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    for name in names:
        if not name.endswith(PART_SUFFIX):
            continue
        parsed = parse_part(name)
        path = directory / name
        if parsed is None:
            if not strict:
                continue
            if path.is_dir():
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


def _decode(dirname: str, column: str, type_: pa.DataType) -> PartitionValue | None:
    name, sep, raw = dirname.partition("=")
    if not sep or name != column:
        return None
    value = unquote(raw)
    if pa.types.is_integer(type_):
        return int(value) if value.isascii() and value.isdigit() else None
    return value


def _refuse_parquet_below(directory: Path) -> None:
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            if name.endswith(PART_SUFFIX):
                raise CorruptFileError(
                    Path(dirpath) / name, "a Parquet file outside a partition directory"
                )
