"""The base views of a connection: ``metrics``, ``events`` and ``catalog`` over Parquet parts.

A table's base view is its parts (``_<table>_files``: ``read_parquet`` of a
list of paths bound as a session variable, never formatted into SQL text)
``UNION ALL BY NAME`` the rows the repository holds that are not in a part yet
(``_<table>_pending``, a registered Arrow table).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

import duckdb

from arrowscope.schema import full_schema, partition_columns

_HIVE_TYPES: Final = {"project": "VARCHAR", "client": "VARCHAR", "round": "INTEGER"}


def point_parquet_view(
    con: duckdb.DuckDBPyConnection, table: str, files: tuple[str, ...], view: str = ""
) -> None:
    """(Re)define ``view`` (default ``_<table>_files``): the rows of ``table`` in ``files``."""
    view = view or f"_{table}_files"
    if files:
        variable = f"arrowscope{view}"
        # Bound, not formatted: paths are user text. DuckDB expands glob
        # characters in each path, so those are escaped for literal matching.
        con.execute(f"SET VARIABLE {variable} = $1", [[_glob_literal(f) for f in files]])
        hive_types = ", ".join(f"'{key}': '{_HIVE_TYPES[key]}'" for key in partition_columns(table))
        source = (
            f"read_parquet(getvariable('{variable}'), hive_partitioning = true, "
            f"hive_types = {{{hive_types}}}, union_by_name = true)"
        )
    else:
        source = f"_{table}_no_parts"
        con.register(source, full_schema(table).empty_table())
    con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source}")


def base_view_sql(name: str, table: str, files_view: str) -> str:
    """``CREATE OR REPLACE VIEW name``: the rows of ``files_view`` and ``table``'s pending rows."""
    columns = ", ".join(identifier(f.name) for f in full_schema(table))
    return (
        f"CREATE OR REPLACE VIEW {name} AS SELECT {columns} FROM ("
        f"SELECT * FROM {files_view} UNION ALL BY NAME SELECT * FROM _{table}_pending)"
    )


@contextlib.contextmanager
def events_reading(con: duckdb.DuckDBPyConnection, files: tuple[str, ...]) -> Iterator[None]:
    """Within the block, ``events`` holds the rows of ``files`` and the pending rows only."""
    point_parquet_view(con, "events", files, view="_events_fresh_files")
    con.execute(base_view_sql("events", "events", "_events_fresh_files"))
    try:
        yield
    finally:
        con.execute(base_view_sql("events", "events", "_events_files"))


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _glob_literal(path: str) -> str:
    """``path`` with DuckDB's glob characters escaped, so it matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)
