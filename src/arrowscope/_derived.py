"""The derived views of a connection, and which of them are tables.

The views built from ``schemas/views/<name>.sql`` (``_scope_state`` …
``rounds``, ``curves``, ``params``) read the base views (``_base_views``) and
one another. A connection is a snapshot, so those that aggregate every event
(``MATERIALIZED``) are computed once per change of the data, into temporary
tables of the same names, or, for a round whose tables the round cache
(``_round_cache``) holds, registered from it as Arrow tables. The others stay
views, so that a filter on one trial reads only what it needs; with
``on_demand``, such a view is only created when a query first names it,
since binding one over the parts reads every part's footer.

``DerivedViews`` is what a connection holds of them; it never references the
connection, which every method takes.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from arrowscope._base_views import events_reading, identifier
from arrowscope._round_cache import (
    RoundCache,
    fingerprint,
    finished,
    plan_rounds,
    split_by_round,
)
from arrowscope._version import __version__
from arrowscope.schema import FORMAT_VERSION, view_sql
from arrowscope.store import Repository, RoundKey

logger = logging.getLogger(__name__)

#: The views built from ``schemas/views/<name>.sql``, in creation order (each
#: may read the ones before it).
DERIVED_VIEWS: Final = (
    "_scope_state",
    "_round_state",
    "_metric_values",
    "_metric_scope",
    "_split_summary",
    "_split_metric_values",
    "_split_metric",
    "_trial_metric",
    "_metric_direction",
    "_success_curves",
    "splits",
    "trials",
    "rounds",
    "curves",
    "params",
)
#: The derived views a by_round session computes into tables for its round:
#: the report queries read them many times, and planning the views each
#: time costs more than computing them once.
ROUND_MATERIALIZED: Final = frozenset(
    {
        "_scope_state",
        "_round_state",
        "_metric_scope",
        "_split_metric",
        "_trial_metric",
        "_metric_direction",
    }
)
#: Derived views computed into temporary tables at refresh.
MATERIALIZED: Final = ROUND_MATERIALIZED | {"splits", "trials", "rounds", "params"}
#: The same, in creation order: what ``_round_cache`` keeps of a settled round.
CACHED: Final = tuple(name for name in DERIVED_VIEWS if name in MATERIALIZED)
_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_CATALOG_WORDS: Final = frozenset(
    {"SHOW", "show", "Show", "duckdb_views", "duckdb_tables", "information_schema"}
)


@dataclass
class DerivedViews:
    """The derived views and tables a connection holds (see the module docstring).

    ``created`` maps a name to "VIEW", "TEMP TABLE" or "ARROW" (a registered
    Arrow table: cached rows and computed ones); ``deferred`` holds the
    views of an ``on_demand`` connection no query has named yet.
    """

    on_demand: bool = False
    created: dict[str, str] = field(default_factory=dict)
    deferred: set[str] = field(default_factory=set)

    def create(
        self,
        con: duckdb.DuckDBPyConnection,
        materialized: frozenset[str],
        skip: frozenset[str] = frozenset(),
    ) -> None:
        """Create the derived views; those named in ``materialized`` become tables.

        Names in ``skip`` are left as they are. With ``on_demand``, a view no
        table here reads is only dropped if it held something else, and
        created by the first query naming it (``create_named``).
        """
        needed = _reads(materialized - skip) if self.on_demand else None
        for name in DERIVED_VIEWS:
            if name in skip:
                continue
            kind = "TEMP TABLE" if name in materialized else "VIEW"
            if needed is not None and kind == "VIEW" and name not in needed:
                if self.created.get(name) != "VIEW":
                    self._drop(con, name)
                    self.deferred.add(name)
                continue
            self._create(con, name, kind)

    def create_named(self, con: duckdb.DuckDBPyConnection, query: str) -> None:
        """Create the deferred views ``query`` names, and those they read, in order.

        A query that lists the catalog (``SHOW TABLES``, ``duckdb_views()``,
        ``information_schema``) gets every view.
        """
        if not self.deferred:
            return
        words = _words(query)
        named = self.deferred if words & _CATALOG_WORDS else words & self.deferred
        if named:
            wanted = _reads(frozenset(named)) & self.deferred
            for name in DERIVED_VIEWS:
                if name in wanted:
                    self._create(con, name, "VIEW")

    def use_cached(self, con: duckdb.DuckDBPyConnection, tables: dict[str, list[pa.Table]]) -> None:
        """Make each cached table the rows of its chunks; the other views follow."""
        for name in CACHED:
            self.register(con, name, tables[name])
        con.execute("SET VARIABLE arrowscope_format1 = false")
        self.create(con, frozenset(), skip=MATERIALIZED)

    def register(self, con: duckdb.DuckDBPyConnection, name: str, chunks: list[pa.Table]) -> None:
        """Make derived table ``name`` the rows of ``chunks``, in order (an Arrow table)."""
        combined = pa.concat_tables(chunks)
        kind = self.created.get(name)
        if kind in ("TEMP TABLE", "VIEW"):
            con.execute(f"DROP {kind.split()[-1]} {identifier(name)}")
        con.register(name, combined)
        self.created[name] = "ARROW"

    def take(self, con: duckdb.DuckDBPyConnection, name: str, drop: bool) -> pa.Table:
        """Derived table ``name`` as Arrow; with ``drop``, the DuckDB table is dropped."""
        table = con.sql(f"SELECT * FROM {identifier(name)}").to_arrow_table()
        if drop:
            con.execute(f"DROP TABLE {identifier(name)}")
            self.created.pop(name, None)
        return table

    def compute(
        self,
        con: duckdb.DuckDBPyConnection,
        cache: RoundCache | None,
        parts: tuple[str, ...],
        stable: tuple[str, ...],
        unsettled: set[RoundKey],
        pending_rows: int,
    ) -> None:
        """Compute the derived tables of every round, reading settled rounds from the cache.

        ``parts`` are the events' Parquet parts (``stable``: the paths the
        connection reads them by), ``unsettled`` the rounds with rows not in
        a part yet (``pending_rows`` of them). Without a cache every round's
        tables come from its events, into temporary tables. With one, only
        the rounds the cache lacks are computed (``events`` reads their parts
        alone meanwhile), and each table becomes the cached and computed
        rows, round by round in key order (so the views' ORDER BY still
        holds), registered as one Arrow table. The settled rounds just
        computed whose trials have all ended are stored for the next
        connection.
        """
        if cache is None:
            flag_format1(con)
            self.create(con, MATERIALIZED)
            return
        plan = plan_rounds(cache, parts, unsettled, CACHED)
        if plan.cached and not plan.fresh and pending_rows == 0:
            # Every round is cached: nothing to compute, not even to plan.
            self.use_cached(
                con, {name: [plan.cached[k][name] for k in sorted(plan.cached)] for name in CACHED}
            )
            return
        fresh = tuple(stable[i] for i in range(len(parts)) if i in plan.fresh)
        if plan.cached:
            with events_reading(con, fresh):
                format1 = flag_format1(con)
                self.create(con, MATERIALIZED)
        else:
            format1 = flag_format1(con)
            self.create(con, MATERIALIZED)
        if not plan.cached and not plan.to_store:
            return
        computed = {name: self.take(con, name, drop=bool(plan.cached)) for name in CACHED}
        by_round = {name: split_by_round(table) for name, table in computed.items()}
        if plan.cached:
            rounds = sorted({*plan.cached, *(k for tables in by_round.values() for k in tables)})
            for name in CACHED:
                chunks = [
                    plan.cached[key][name] if key in plan.cached else by_round[name].get(key)
                    for key in rounds
                ]
                found = [chunk for chunk in chunks if chunk is not None]
                try:
                    self.register(con, name, found or [computed[name]])
                except pa.ArrowInvalid as exc:  # a cache written with other types
                    logger.info("ignoring the derived-table cache (%s); computing every round", exc)
                    flag_format1(con)
                    self.create(con, MATERIALIZED)
                    return
        for key, cache_key in plan.to_store.items():
            if key not in format1 and finished(by_round["trials"].get(key)):
                tables: dict[str, pa.Table] = {
                    name: by_round[name].get(key, computed[name].schema.empty_table())
                    for name in CACHED
                }
                cache.store(key, cache_key, tables)

    def _create(self, con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
        self.deferred.discard(name)
        if kind == "VIEW" and self.created.get(name) == kind:
            return  # a view is bound when queried: it follows the tables it reads
        if self.created.get(name) == "ARROW":
            con.unregister(name)
        body = view_sql(name).strip().rstrip(";")
        con.execute(f"CREATE OR REPLACE {kind} {identifier(name)} AS\n{body}")
        self.created[name] = kind

    def _drop(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        kind = self.created.pop(name, None)
        if kind == "ARROW":
            con.unregister(name)
        elif kind is not None:
            con.execute(f"DROP {kind.split()[-1]} IF EXISTS {identifier(name)}")


def flag_format1(con: duckdb.DuckDBPyConnection) -> set[RoundKey]:
    """Tell the views whether events of storage format 1 (no summaries) are in view.

    ``_split_metric`` reads values only then; the flag is a constant to
    DuckDB's planner, so with format 2 data alone no value is read.
    Returns the rounds that have such events.
    """
    rows = con.execute(
        "SELECT DISTINCT project, client, round FROM events WHERE clock IS NULL"
    ).fetchall()
    con.execute("SET VARIABLE arrowscope_format1 = $1", [bool(rows)])
    return {(project, client, round_) for project, client, round_ in rows}


def cache_of(repository: Repository) -> RoundCache | None:
    """The derived-table cache of ``repository`` (None: it has no directory for one)."""
    directory = getattr(repository, "derived_cache_directory", None)
    return RoundCache(directory, _fingerprint()) if isinstance(directory, Path) else None


@functools.cache
def _fingerprint() -> str:
    versions = [__version__, str(FORMAT_VERSION), duckdb.__version__, pa.__version__]
    return fingerprint([*versions, *(view_sql(name) for name in DERIVED_VIEWS)])


def _words(sql: str) -> set[str]:
    """The identifier-like words of ``sql`` (comments and strings included: harmless)."""
    return set(_WORD.findall(sql))


@functools.cache
def _reads(names: frozenset[str]) -> frozenset[str]:
    """``names`` and every derived view their SQL reads, directly or not."""
    found = set(names)
    stack = list(names)
    while stack:
        for other in _direct_reads(stack.pop()) - found:
            found.add(other)
            stack.append(other)
    return frozenset(found)


@functools.cache
def _direct_reads(name: str) -> frozenset[str]:
    return frozenset(_words(view_sql(name)) & set(DERIVED_VIEWS) - {name})
