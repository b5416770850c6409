"""The stored tables' Arrow schemas and the DuckDB view SQL, loaded from ``schemas/``.

``schemas/`` sits at the repository root and ships inside the wheel as
``arrowscope/_schemas``; a source checkout (editable install) reads it in place.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

import pyarrow as pa

FORMAT_VERSION: Final = 2
TABLES: Final = ("metrics", "events", "catalog")
METADATA_VERSION_KEY: Final = b"arrowscope.format_version"
METADATA_TABLE_KEY: Final = b"arrowscope.table"

_TYPES: Final[dict[str, pa.DataType]] = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"),
}
_PARTITION_TYPES: Final[dict[str, pa.DataType]] = {
    "project": pa.string(),
    "client": pa.string(),
    "round": pa.int32(),
}


@functools.cache
def schemas_dir() -> Traversable:
    """The folder holding ``v<N>/<table>.json`` and ``views/*.sql``."""
    packaged = resources.files("arrowscope").joinpath("_schemas")
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"arrowscope's schemas/ folder is missing (looked in {checkout})")


@functools.cache
def _table_spec(table: str) -> dict[str, object]:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; the stored tables are {', '.join(TABLES)}")
    text = schemas_dir().joinpath(f"v{FORMAT_VERSION}", f"{table}.json").read_text("utf-8")
    spec: dict[str, object] = json.loads(text)
    return spec


@functools.cache
def table_schema(table: str) -> pa.Schema:
    """The columns stored in the Parquet files of ``table`` (partition columns excluded)."""
    spec = _table_spec(table)
    fields = spec["fields"]
    assert isinstance(fields, list)
    return pa.schema(
        [pa.field(f["name"], _TYPES[f["type"]], nullable=f["nullable"]) for f in fields],
        metadata=parquet_metadata(table),
    )


def partition_columns(table: str) -> tuple[str, ...]:
    """The hive partition keys of ``table``, outermost first."""
    keys = _table_spec(table)["partitioning"]
    assert isinstance(keys, list)
    return tuple(keys)


def partition_schema(table: str) -> pa.Schema:
    """Arrow types of the partition columns (names stay text even when they look numeric)."""
    return pa.schema([pa.field(k, _PARTITION_TYPES[k]) for k in partition_columns(table)])


def full_schema(table: str) -> pa.Schema:
    """Partition columns followed by the stored columns: what readers see."""
    return pa.schema(list(partition_schema(table)) + list(table_schema(table)))


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` with the columns of ``schema``: files of an older format lack new columns.

    Columns added by a later format version are nullable; they are filled with
    nulls here, so format 1 files read like format 2 ones.
    """
    if data.schema.names != schema.names:
        n = data.num_rows
        columns = [
            data.column(f.name) if f.name in data.schema.names else pa.nulls(n, f.type)
            for f in schema
        ]
        data = pa.Table.from_arrays(columns, schema=schema)
    return data.cast(schema)


def parquet_metadata(table: str) -> dict[bytes, bytes]:
    """Key-value metadata stamped into every file of ``table``."""
    return {METADATA_VERSION_KEY: str(FORMAT_VERSION).encode(), METADATA_TABLE_KEY: table.encode()}


@functools.cache
def view_sql(name: str) -> str:
    """The SQL text of ``schemas/views/<name>.sql``."""
    return schemas_dir().joinpath("views", f"{name}.sql").read_text("utf-8")


@functools.cache
def query_sql(name: str) -> str:
    """The SQL text of ``schemas/queries/<name>.sql`` (named report queries)."""
    return schemas_dir().joinpath("queries", f"{name}.sql").read_text("utf-8")


_VALUE_SOURCES: Final = re.compile(
    r"\b(metrics|curves|_metric_values|_success_curves|_split_metric_values)\b"
)


@functools.cache
def query_reads_values(name: str) -> bool:
    """Whether the named query reads logged values (``metrics`` or a view over it).

    Judged from its SQL text without comments; a query that only reads
    events and the views over them answers without any value in memory.
    """
    code = "\n".join(line.split("--", 1)[0] for line in query_sql(name).splitlines())
    return _VALUE_SOURCES.search(code) is not None
