"""The SQL box: read-only queries over the views, in a DuckDB that cannot touch files.

Three locks, each enough on its own for what it covers:

1. **Statement type.** DuckDB parses the text; exactly one ``SELECT``
   statement is accepted (``SHOW``, ``DESCRIBE`` and ``SUMMARIZE`` are
   selects). ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``, ``SET``, ``PRAGMA``,
   ``CALL``, ``EXPORT``, DDL and DML are refused.
2. **What it reads.** The statement's parse tree (``json_serialize_sql``)
   may name only the views and its own CTEs as tables (``FROM 'x.csv'`` is
   refused), only the table functions of :data:`TABLE_FUNCTIONS` (so no
   ``read_csv``, ``read_text``, ``glob``, ``query_table``, …), and none of the
   functions of :data:`DENIED_FUNCTIONS`.
3. **Where it runs.** Not on the app's session: in a separate in-memory
   DuckDB opened with ``enable_external_access = false`` (no file, network
   or extension access, whatever the SQL says), Python replacement scans off,
   a memory limit and a time limit. The views it may read are handed to it
   as Arrow snapshots of the current data version, taken only for the views
   a query names.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, Final

import duckdb
import pyarrow as pa

from arrowscope.errors import ArrowscopeError
from arrowscope.query import VIEWS
from arrowscope.ui import encode
from arrowscope.ui.live import LiveData

#: The relations the SQL box reads: the public views and the catalog.
READABLE: Final = frozenset({*VIEWS, "catalog"})
#: Table functions that read nothing but their arguments.
TABLE_FUNCTIONS: Final = frozenset({"range", "generate_series", "unnest"})
#: Functions that reveal the process's settings or variables.
DENIED_FUNCTIONS: Final = frozenset({"getvariable", "current_setting", "getenv"})
_SANDBOX_CONFIG: Final = {
    "enable_external_access": "false",
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
    "memory_limit": "2GB",
    "threads": "2",
}
#: Rows a query answer shows at most (CSV downloads have their own bound).
ROW_LIMIT: Final = 10_000
CSV_ROW_LIMIT: Final = 1_000_000
TIMEOUT_S: Final = 30.0
#: Characters of file names and URLs, never part of a CTE's name here.
_FILE_LIKE: Final = frozenset("./\\:")


class SqlRefused(ArrowscopeError, ValueError):
    """A query the SQL box does not run: not one read-only SELECT over the views."""


class Sandbox:
    """Runs checked, read-only SQL over Arrow snapshots of the views.

    Args:
        data: where the snapshots come from.
        timeout: seconds a query may run before it is interrupted.
    """

    def __init__(self, data: LiveData, timeout: float = TIMEOUT_S) -> None:
        self._data = data
        self._timeout = timeout
        self._lock = threading.Lock()
        self._con = sandbox_connection()
        self._registered: dict[str, int] = {}

    def check(self, sql: str) -> frozenset[str]:
        """The views ``sql`` reads; raises SqlRefused unless it may run here."""
        with self._lock:
            return check(self._con, sql)

    def run(self, sql: str, limit: int = ROW_LIMIT) -> dict[str, Any]:
        """``{"columns", "types", "rows", "truncated"}`` of ``sql``'s first ``limit`` rows.

        Raises:
            SqlRefused: the query may not run here, DuckDB rejected it, or it timed out.
        """
        table, truncated = self._fetch(sql, limit)
        data = [column.to_pylist() for column in table.columns]
        rows = [[encode.json_value(v) for v in row] for row in zip(*data, strict=True)]
        return {
            "columns": table.column_names,
            "types": [str(t) for t in table.schema.types],
            "rows": rows,
            "truncated": truncated,
        }

    def csv_lines(self, sql: str) -> Iterator[list[Any]]:
        """The header and then every row of ``sql`` (up to CSV_ROW_LIMIT), as CSV cells."""
        table, _truncated = self._fetch(sql, CSV_ROW_LIMIT)
        yield table.column_names
        for batch in table.to_batches(max_chunksize=10_000):
            cols = [c.to_pylist() for c in batch.columns]
            for row in zip(*cols, strict=True):
                yield [_csv_cell(v) for v in row]

    def close(self) -> None:
        """Close the sandbox's DuckDB."""
        self._con.close()

    def _fetch(self, sql: str, limit: int) -> tuple[pa.Table, bool]:
        with self._lock:
            views = check(self._con, sql)
            for view in sorted(views):
                self._expose(view)
            timer = threading.Timer(self._timeout, self._con.interrupt)
            timer.start()
            try:
                reader = self._con.sql(sql).to_arrow_reader(min(limit + 1, 100_000))
                batches, n = [], 0
                for batch in reader:
                    batches.append(batch)
                    n += batch.num_rows
                    if n > limit:
                        break
                table = pa.Table.from_batches(batches, reader.schema)
            except duckdb.InterruptException as exc:
                raise SqlRefused(f"the query ran longer than {self._timeout:g} s") from exc
            except duckdb.Error as exc:
                raise SqlRefused(str(exc)) from exc
            finally:
                timer.cancel()
        return table.slice(0, limit), table.num_rows > limit

    def _expose(self, view: str) -> None:
        """Register the current version's snapshot of ``view`` (taken once per version)."""
        version = self._data.version
        if self._registered.get(view) == version:
            return
        snapshot = self._data.cached(
            ("sandbox", view), lambda: self._data.query(f'SELECT * FROM "{view}"').arrow
        )
        self._con.register(view, snapshot)
        self._registered[view] = version


def sandbox_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that cannot read or write files, load extensions or change settings."""
    con = duckdb.connect(config=dict(_SANDBOX_CONFIG))
    con.execute("SET python_enable_replacements = false")
    con.execute("SET lock_configuration = true")
    return con


def check(con: duckdb.DuckDBPyConnection, sql: str) -> frozenset[str]:
    """The views ``sql`` reads, parsed by ``con``; raises SqlRefused unless it may run.

    See the module docstring for the rules.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(str(exc)) from exc
    if len(statements) != 1:
        raise SqlRefused(f"run one statement at a time (this text holds {len(statements)})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SqlRefused(f"only read-only SELECT queries run here; this is a {kind.name} statement")
    text = con.execute("SELECT json_serialize_sql($1)", [sql]).fetchall()[0][0]
    tree = json.loads(text)
    if tree.get("error"):
        raise SqlRefused(tree.get("error_message") or "this query cannot be checked")
    ctes: set[str] = set()
    tables: set[str] = set()
    for node in _nodes(tree["statements"]):
        _check_node(node, ctes, tables)
    unknown = sorted(t for t in tables if t not in READABLE and t not in ctes)
    if unknown:
        raise SqlRefused(
            f"{unknown[0]!r} is not a view: the SQL box reads {', '.join(sorted(READABLE))}"
        )
    return frozenset(t for t in tables if t in READABLE and t not in ctes)


def _check_node(node: dict[str, Any], ctes: set[str], tables: set[str]) -> None:
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        for entry in cte_map.get("map", []):
            name = str(entry.get("key", "")).lower()
            if any(c in name for c in _FILE_LIKE):
                raise SqlRefused(f"CTE name {name!r} looks like a file name; choose another")
            ctes.add(name)
    kind = node.get("type")
    if kind == "BASE_TABLE":
        if node.get("catalog_name") or node.get("schema_name"):
            name = ".".join(p for p in (node.get("schema_name"), node.get("table_name")) if p)
            raise SqlRefused(f"{name!r} is not a view: name the views without a schema")
        tables.add(str(node.get("table_name", "")).lower())
    elif kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS:
            raise SqlRefused(
                f"table function {name!r} is not allowed: the SQL box reads the views only "
                f"(allowed: {', '.join(sorted(TABLE_FUNCTIONS))})"
            )
    if node.get("class") == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if name in DENIED_FUNCTIONS:
            raise SqlRefused(f"function {name!r} is not allowed in the SQL box")


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a parse tree, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return value
    return json.dumps(encode.json_value(value), ensure_ascii=False)
