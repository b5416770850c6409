"""The stored tables as polars frames, typed the way arrowscope writes them.

A plain ``pl.scan_parquet("runs/metrics/**/*.parquet", hive_partitioning=True)``
infers the partition columns' types from the directory names: a client named
``001`` reads back as the integer 1, ``true`` as a boolean, ``1e5`` as 100000.0
and ``NaN`` as a float. Give the types instead (``hive_schema`` in polars,
``hive_types`` in DuckDB) -- or call :func:`scan`, which also skips the parts a
running compaction has already merged and works whatever characters the data
directory's path holds.

Example:
    >>> import tempfile, arrowscope as asc
    >>> runs = tempfile.mkdtemp()
    >>> root = asc.Root.at(runs)
    >>> with root.get_project("001") as p, p.get_client("true") as c, c.new_round("m") as r:
    ...     r = r.with_optimizer(asc.HyperparameterSamplerStub({}), asc.HyperparameterSpace({}))
    ...     with r.new_rvs_trial() as t, t.new_validation_split() as s:
    ...         with s.managed_metric("m", True) as m:
    ...             m.add_valid_result(0.5)
    >>> root.close()
    >>> asc.scan(runs).select("project", "client", "round", "value").collect().rows()
    [('001', 'true', 0, 0.5)]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa

from arrowscope.schema import TABLES, full_schema, partition_columns, table_schema
from arrowscope.store._listing import list_parts, split_covered, walk

if TYPE_CHECKING:
    import polars as pl

#: DuckDB's ``read_parquet(..., hive_partitioning = true, hive_types = HIVE_TYPES)``.
HIVE_TYPES: Final = {"project": "VARCHAR", "client": "VARCHAR", "round": "INTEGER"}


def hive_schema(table: str = "metrics") -> dict[str, pl.DataType]:
    """polars' ``hive_schema`` for ``table``: project and client String, round Int32.

    Raises:
        ValueError: ``table`` is not one of the stored tables.
    """
    import polars as pl

    types: dict[str, pl.DataType] = {"project": pl.String(), "client": pl.String()}
    types["round"] = pl.Int32()
    return {column: types[column] for column in _partition_columns(table)}


def scan(path: str | os.PathLike[str], table: str = "metrics") -> pl.LazyFrame:
    """A lazy frame over the Parquet parts of ``table`` in the data directory ``path``.

    Partition columns come first, typed as written (project and client String,
    round Int32), then the stored columns. Like plain readers, it sees the
    parts: rows a live process logged in the last ``flush_interval`` seconds
    are not there yet (``arrowscope.connect`` sees them). Nothing is written.

    Args:
        path: A data directory (``Root.at(path)``).
        table: ``metrics``, ``events`` or ``catalog``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        NotADirectoryError: ``path`` is a file.
        ValueError: ``table`` is not one of the stored tables.
        CorruptFileError: A foreign ``.parquet`` file in the table's directory.
    """
    import polars as pl

    root = _data_directory(path)
    columns = _partition_columns(table)
    types = hive_schema(table)
    stored = _polars_frame(table_schema(table)).schema
    frames = []
    for partition, _names in walk(root, table):
        visible, _covered = split_covered(list_parts(partition.path))
        if not visible:
            continue
        files = [str(part.path) for part in visible]
        frame = pl.scan_parquet(
            files, glob=False, hive_partitioning=False, schema=stored, missing_columns="insert"
        )
        keys = [
            pl.lit(value, dtype=types[column]).alias(column)
            for column, value in zip(columns, partition.key, strict=True)
        ]
        frames.append(frame.select(*keys, pl.all()))
    if not frames:
        return _polars_frame(full_schema(table)).lazy()
    return pl.concat(frames, how="vertical")


def _polars_frame(schema: pa.Schema) -> pl.DataFrame:
    """An empty polars frame with the columns and types of an Arrow schema."""
    import polars as pl

    frame = pl.from_arrow(schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _partition_columns(table: str) -> tuple[str, ...]:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; the stored tables are {', '.join(TABLES)}")
    return partition_columns(table)


def _data_directory(path: str | os.PathLike[str]) -> Path:
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no arrowscope data directory at {str(root)!r}")
    if not root.is_dir():
        raise NotADirectoryError(f"{str(root)!r} is a file, not an arrowscope data directory")
    return root
