"""DuckDB over a repository: the public analytics views.

``connect(source)`` returns a plain ``duckdb.DuckDBPyConnection`` with these
views (the documented contract; names and columns are stable):

=========  ==============================  ===============================================
view       one row per                     columns
=========  ==============================  ===============================================
metrics    logged value                    project, client, round, trial, split, metric,
                                           phase, epoch, value, logged_at
events     state change                    project, client, round + the stored columns
rounds     round                           project, client, round, main_metric_name,
                                           higher_is_better, n_trials, n_success,
                                           best_trial, best_score, created_at
trials     trial                           project, client, round, trial, status,
                                           hyperparams, score, n_epochs_to_best, n_splits,
                                           created_at, started_at, ended_at, error
splits     split                           project, client, round, trial, split, status,
                                           score, n_epochs_to_best, started_at, ended_at,
                                           error
curves     trial x metric x phase x epoch  project, client, round, trial, metric, phase,
                                           epoch, value, n_splits
params     trial x hyperparameter          project, client, round, trial, name, value,
                                           value_num
=========  ==============================  ===============================================

plus ``catalog`` (the projects and clients that exist). The scoring rules are
written next to the SQL, one file per view, in ``schemas/views/``; views whose
name starts with ``_`` are internal building blocks.

How a connection sees data: the base views ``metrics``, ``events`` and
``catalog`` are ``read_parquet`` over the repository's visible Parquet parts,
``UNION ALL BY NAME`` the rows the repository holds that are not in a part yet
(``Repository.pending``, registered as an Arrow table). A connection is
therefore a **snapshot**: the parts listed and the rows pending when it was
connected or last refreshed. Call :func:`refresh` (or reconnect) to see newer
data. Because it is a snapshot, the derived views that aggregate every event
and value (``splits``, ``trials``, ``rounds``, ``params`` and their internal
building blocks) are computed once when the data changed, at connect or
refresh, into temporary tables of the same names: queries over them then
take milliseconds. ``curves`` stays a view, so a filter on one trial reads
only that trial's rows. For a local directory, the tables of every finished
round whose events are all in Parquet parts are kept in ``_cache/``
(``_round_cache``): later connections read them instead of computing them,
so only the rounds that changed are computed at connect.

Every Parquet part a connection reads stays open while the connection lives
(``_pins``): a compaction that deletes it changes none of its answers and
breaks none of its queries.

Timestamps are stored in UTC and the connection's ``TimeZone`` is set to UTC,
so they read back the same on every machine.

The file list reaches DuckDB as a bound parameter (a session variable), never
as SQL text, so directory names with quotes or SQL in them are harmless.

Example:
    >>> import arrowscope.query as q
    >>> from arrowscope.store import InMemoryRepository
    >>> con = q.connect(InMemoryRepository())
    >>> con.sql("select count(*) from trials").fetchall()
    [(0,)]
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import duckdb
import pyarrow as pa

from arrowscope._base_views import base_view_sql, point_parquet_view
from arrowscope._derived import (
    CACHED,
    ROUND_MATERIALIZED,
    DerivedViews,
    cache_of,
    flag_format1,
)
from arrowscope._pins import FilePins, PartVanished
from arrowscope._round_cache import RoundKey, parts_by_round, round_keys
from arrowscope.errors import ArrowscopeError
from arrowscope.schema import (
    TABLES,
    full_schema,
    query_sql,
)
from arrowscope.store import Repository

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "VIEWS",
    "QueryError",
    "QuerySession",
    "Result",
    "connect",
    "open_directory",
    "refresh",
    "run_query",
    "session_of",
]

logger = logging.getLogger(__name__)

#: The public views of every connection, in the order of DESIGN.md.
VIEWS: Final = ("metrics", "events", "rounds", "trials", "splits", "curves", "params")
#: The tables a by_round session holds one round of.
_ROUND_TABLES: Final = ("events", "metrics")
# A part may vanish between listing and reading when a compaction runs
# concurrently; listing again finds the merged file that replaced it.
_ATTEMPTS: Final = 4
_MISSING_FILE_MESSAGES: Final = ("No files found", "No such file", "not found", "does not exist")

Params = Sequence[Any] | Mapping[str, Any] | None
_T = TypeVar("_T")


class QueryError(ArrowscopeError, ValueError):
    """A query DuckDB rejected (bad SQL, unknown column, missing parameter, unreadable part).

    The DuckDB exception is chained as ``__cause__``.
    """


@dataclass(frozen=True, eq=False)
class Result:
    """A query's complete result, held as an Arrow table.

    ``fetchall()`` gives Python rows, ``pl()`` a polars DataFrame (with the
    column types kept even when there are no rows).
    """

    arrow: pa.Table

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self.arrow.column_names)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple, in the result's order."""
        columns = [column.to_pylist() for column in self.arrow.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def pl(self) -> pl.DataFrame:
        """The result as a polars DataFrame."""
        import polars as pl

        frame = pl.from_arrow(self.arrow)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def __len__(self) -> int:
        return self.arrow.num_rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


@dataclass
class _State:
    """What a connection knows about its repository (never references the connection)."""

    repository: Repository
    owns_repository: bool
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pins: FilePins = field(default_factory=FilePins)
    views_ready: bool = False
    by_round: bool = False
    # (files, pending row counts): what the views show since the last refresh.
    inputs: tuple[Any, ...] = ()
    # The inputs the derived views were last computed from.
    derived_for: tuple[Any, ...] | None = None
    # by_round: the round ``events`` holds, and the inputs it was read from;
    # the same for ``metrics``, which is read only for queries that need values.
    focused: tuple[Any, ...] | None = None
    values_focused: tuple[Any, ...] | None = None
    # Whether the events in view include storage format 1 ones (see _derived.flag_format1).
    format1: bool = False
    # by_round: ``events`` is a view over the focused round's rows, read when
    # queried, rather than the rows read into memory (a cached round's focus).
    events_lazy: bool = False
    # The rounds with rows not in Parquet parts yet (never read from the cache).
    unsettled: set[RoundKey] = field(default_factory=set)
    # The paths the base views read for ``files`` (see _pins), in the same order.
    stable: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The derived views and tables created so far (see _derived).
    derived: DerivedViews = field(default_factory=DerivedViews)


# connection -> its state; entries vanish with their connection.
_STATES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _State] = weakref.WeakKeyDictionary()


class QuerySession:
    """One DuckDB connection over one repository, with the views of this module.

    The session is a snapshot (see the module docstring): ``refresh()`` lists
    the visible Parquet parts again and re-registers the pending rows. One
    session is used by one thread at a time.

    Args:
        repository: where the data is read from.
        by_round: False (what ``connect`` does): the views show every round,
            and the aggregating ones are computed into tables at each change
            of the data, so any query over them is fast. True (what reports
            do): ``events`` holds the rows of one round, read into memory by
            ``focus`` once per change of the data, and ``metrics`` that
            round's values only when a query reads values: many small
            questions about one round cost one read of its events, and
            scores never read a value.

    Example:
        >>> from arrowscope.store import InMemoryRepository
        >>> session = QuerySession(InMemoryRepository())
        >>> session.run("cli_summary").fetchall()
        []
    """

    _con: duckdb.DuckDBPyConnection
    _state: _State

    def __init__(
        self, repository: Repository, by_round: bool = False, views_on_demand: bool = False
    ) -> None:
        con = duckdb.connect()
        # Timestamps are stored in UTC; show them in UTC whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        # Parts are immutable and never reuse a name: each footer is read once per connection.
        con.execute("SET parquet_metadata_cache = true")
        derived = DerivedViews(on_demand=views_on_demand)
        state = _State(repository, False, by_round=by_round, derived=derived)
        self._init(con, state)
        self.refresh()

    def _init(self, con: duckdb.DuckDBPyConnection, state: _State) -> None:
        self._con = con
        self._state = state
        _STATES[con] = state

    @classmethod
    def open(
        cls,
        source: str | os.PathLike[str] | Repository | object,
        *,
        views_on_demand: bool = False,
        **options: Any,
    ) -> QuerySession:
        """A session over a data directory, a URI, a repository, or an object with ``.repository``.

        ``options`` go to the repository of a URI (``storage_options``,
        ``filesystem``, ``spool`` for ``s3://``). With ``views_on_demand``, a
        derived view that stays a view (``curves``, ...) is created when a
        query of ``sql``/``fetch``/``run`` first names it, not at refresh:
        each costs a bind that reads every part's footer. Queries on
        ``connection`` itself then see only the views created so far.

        Raises:
            FileNotFoundError: ``source`` is a path that does not exist.
            NotADirectoryError: ``source`` is a path to a file.
            TypeError: ``source`` is none of the above.
        """
        if not isinstance(source, (str, os.PathLike)):
            return cls(_repository_of(source), views_on_demand=views_on_demand)
        repository = open_directory(source, **options)
        try:
            session = cls(repository, views_on_demand=views_on_demand)
        except BaseException:
            repository.close()
            raise
        session._state.owns_repository = True
        return session

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> QuerySession:
        """The session behind a connection made by :func:`connect` or a ``QuerySession``.

        Raises:
            ValueError: ``con`` was not made by arrowscope.
        """
        state = _STATES.get(con)
        if state is None:
            raise ValueError(
                "this DuckDB connection was not made by arrowscope.connect(); "
                "it has no repository to refresh from"
            )
        session = cls.__new__(cls)
        session._init(con, state)
        return session

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection holding the views."""
        return self._con

    @property
    def repository(self) -> Repository:
        """The repository the views read."""
        return self._state.repository

    @property
    def inputs(self) -> tuple[Any, ...]:
        """What the views showed at the last refresh: the parts and the pending row counts.

        Rows are only ever appended, so equal inputs mean equal data: query
        results may be reused while this stays the same.
        """
        return self._state.inputs

    def refresh(self) -> None:
        """Make the views show the repository as it is now.

        The Parquet part of a base view is re-pointed only when the list of
        visible parts changed; the pending rows are re-registered every time.
        The derived views are created on the first refresh. Every part listed
        is pinned (``_pins``): a compaction deleting it later cannot break
        this session's queries. A part removed between listing and pinning
        makes it list again.

        Raises:
            QueryError: the parts could not be read after a few attempts.
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                self._sync()
                return
            except PartVanished as exc:
                logger.debug("part %s vanished before it was pinned; listing again", exc)
                if attempt == _ATTEMPTS:
                    raise QueryError(
                        f"cannot read the Parquet parts: {exc} vanished during each of "
                        f"{_ATTEMPTS} attempts to list and pin them"
                    ) from exc
            except duckdb.IOException as exc:
                if attempt == _ATTEMPTS or not self._lost_a_part(exc):
                    raise QueryError(f"cannot read the Parquet parts: {exc}") from exc
                logger.info("a Parquet part vanished while refreshing; listing again (%s)", exc)

    def sql(self, query: str, params: Params = None) -> duckdb.DuckDBPyRelation | None:
        """``connection.sql(query, params=params)``: a lazy DuckDB relation.

        User values belong in ``params`` (``$1``/``?`` with a list, ``$name``
        with a dict), never in ``query``. Use :meth:`fetch` for a complete
        result as an Arrow table.
        """
        self._state.derived.create_named(self._con, query)
        return self._con.sql(query, params=params)

    def fetch(self, query: str, params: Params = None) -> Result:
        """Run ``query`` with bound ``params`` to completion.

        Where parts cannot be kept open (no ``/proc/self/fd``, no descriptor
        left) and one vanished (concurrent compaction), the session is
        refreshed and the query runs again, a few times at most.

        Raises:
            QueryError: DuckDB rejected the query, or the parts stayed unreadable.
        """
        return self._retrying(lambda: self._fetch_once(query, params))

    def run(self, name: str, /, **params: Any) -> Result:
        """Run the named query ``schemas/queries/<name>.sql`` with ``params`` bound.

        Each ``$key`` of the file is bound from ``params[key]``; every one must
        be given, and no other.

        Raises:
            FileNotFoundError: there is no query of that name.
            QueryError: as for :meth:`fetch`.
        """
        return self.fetch(query_sql(name), params)

    def close(self) -> None:
        """Close the connection (and the repository, when the session opened it)."""
        self._con.close()
        self._state.pins.close()
        if self._state.owns_repository:
            self._state.repository.close()

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------
    def _fetch_once(self, query: str, params: Params) -> Result:
        self._state.derived.create_named(self._con, query)
        relation = self._con.sql(query, params=params)
        if relation is None:  # a statement without a result
            return Result(pa.table({}))
        return Result(relation.to_arrow_table())

    def _retrying(self, action: Callable[[], _T]) -> _T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return action()
            except duckdb.IOException as exc:
                if attempt == _ATTEMPTS or not self._lost_a_part(exc):
                    raise QueryError(str(exc)) from exc
                logger.info("a Parquet part vanished; refreshing and running again (%s)", exc)
                self.refresh()
            except duckdb.Error as exc:
                raise QueryError(str(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _lost_a_part(self, exc: duckdb.IOException) -> bool:
        if any(text in str(exc) for text in _MISSING_FILE_MESSAGES):
            return True
        return any(
            not os.path.exists(path) for files in self._state.files.values() for path in files
        )

    def _sync(self) -> None:
        state = self._state
        pending_rows = []
        pending_events = full_schema("events").empty_table()
        for table in TABLES:
            files = tuple(state.repository.parquet_files(table))
            if files != state.files.get(table):
                stable = state.pins.stable_paths(_files_root(state.repository), table, files)
                point_parquet_view(self._con, table, tuple(stable))
                state.files[table] = files
                state.stable[table] = tuple(stable)
            pending = state.repository.pending(table)
            pending_rows.append(pending.num_rows)
            self._con.register(f"_{table}_pending", pending)
            if table == "events":
                pending_events = pending
        if not state.views_ready:
            self._create_base_views()
            state.views_ready = True
        state.inputs = (tuple(state.files[t] for t in TABLES), tuple(pending_rows))
        state.unsettled = round_keys(pending_events)
        # A by_round session creates its derived views at its first focus (on
        # the round it reads); creating them here too would plan them twice.
        if not state.by_round and state.inputs != state.derived_for:
            events = (state.files["events"], state.stable["events"])
            cache = cache_of(state.repository)
            state.derived.compute(
                self._con, cache, *events, state.unsettled, pending_events.num_rows
            )
            state.derived_for = state.inputs

    def focus(self, project: str, client: str, round: int, values: bool = True) -> None:
        """(``by_round`` sessions) Make ``events`` and ``metrics`` hold this round's rows.

        The rows are read once per change of the data (``refresh``), then
        every query about the round runs on them in memory. With ``values``
        False the round's values are not read (``metrics`` holds them only if
        an earlier query of this data read them), unless the round has
        storage format 1 events, whose scores come from values: a query that
        reads only events and summaries then costs what the number of scopes
        costs, however many values the round holds.
        """
        state = self._state
        if not state.by_round:
            raise ValueError("focus() needs a session made with by_round=True")
        key = (project, client, round, state.inputs)
        where = "WHERE project = $1 AND client = $2 AND round = $3"
        events_changed = key != state.focused
        if events_changed:
            cached = self._cached_round((project, client, round))
            if cached is not None:
                self._focus_cached(project, client, round, cached)
                state.format1 = False
            else:
                self._con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _events_round AS "
                    f"SELECT * FROM _events_all {where}",
                    [project, client, round],
                )
                if state.events_lazy:
                    self._con.execute(
                        "CREATE OR REPLACE VIEW events AS SELECT * FROM _events_round"
                    )
                    state.events_lazy = False
                state.format1 = bool(flag_format1(self._con))
        if (values or state.format1) and key != state.values_focused:
            self._con.execute(
                f"CREATE OR REPLACE TEMP TABLE _metrics_round AS "
                f"SELECT * FROM _metrics_all {where}",
                [project, client, round],
            )
            state.values_focused = key
        elif state.values_focused not in (key, None):
            self._con.execute("DELETE FROM _metrics_round")  # another round's, or stale
            state.values_focused = None
        if events_changed:
            if cached is None:
                state.derived.create(self._con, ROUND_MATERIALIZED)
            state.focused = key

    def _cached_round(self, round_key: RoundKey) -> dict[str, pa.Table] | None:
        """The derived tables of a settled round from the cache (None: not settled, or absent)."""
        state = self._state
        cache = cache_of(state.repository)
        if cache is None or round_key in state.unsettled:
            return None
        parts = parts_by_round(state.files["events"]).get(round_key)
        return cache.load(round_key, cache.key(parts), CACHED) if parts else None

    def _focus_cached(
        self, project: str, client: str, round: int, cached: dict[str, pa.Table]
    ) -> None:
        """Focus on a cached round: its tables registered, its events read only if queried."""
        for name, value in (("project", project), ("client", client), ("round", round)):
            self._con.execute(f"SET VARIABLE arrowscope_focus_{name} = $1", [value])
        if not self._state.events_lazy:
            self._con.execute(
                "CREATE OR REPLACE VIEW events AS SELECT * FROM _events_all "
                "WHERE project = getvariable('arrowscope_focus_project') "
                "AND client = getvariable('arrowscope_focus_client') "
                "AND round = getvariable('arrowscope_focus_round')"
            )
            self._state.events_lazy = True
        self._state.derived.use_cached(self._con, {name: [cached[name]] for name in CACHED})

    def _create_base_views(self) -> None:
        by_round = self._state.by_round
        for table in TABLES:
            name = f"_{table}_all" if by_round and table in _ROUND_TABLES else table
            self._con.execute(base_view_sql(name, table, f"_{table}_files"))
            if name != table:
                self._con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _{table}_round AS SELECT * FROM {name} LIMIT 0"
                )
                self._con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM _{table}_round")


def connect(
    source: str | os.PathLike[str] | Repository | object, **options: Any
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the views of this module, ready to query.

    Args:
        source: a data directory (as written by ``Root.at(path)``), a URI
            (``s3://bucket/prefix``: its parts are downloaded to the local
            spool and read there, so DuckDB needs no ``httpfs``), a
            ``Repository``, or any object with a ``.repository`` (a ``Root``).
        **options: for a URI, ``storage_options``, ``filesystem`` or ``spool``
            (see ``Root.at``).

    Returns:
        A snapshot of the data at call time: the visible Parquet parts plus
        whatever this process had pending. Call ``refresh(con)`` (or connect
        again) to see newer data. The parts it reads stay open while it
        lives, so concurrent compactions never break its queries.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        QueryError: the Parquet parts cannot be read.
    """
    return QuerySession.open(source, **options).connection


def refresh(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Update a connection from :func:`connect` to the repository's current data; returns it.

    Raises:
        ValueError: ``con`` was not made by :func:`connect`.
    """
    QuerySession.of(con).refresh()
    return con


def session_of(con: duckdb.DuckDBPyConnection) -> QuerySession:
    """The :class:`QuerySession` behind a connection made by :func:`connect`."""
    return QuerySession.of(con)


def run_query(con: duckdb.DuckDBPyConnection, name: str, /, **params: Any) -> Result:
    """Run the named query ``schemas/queries/<name>.sql`` on ``con`` with ``params`` bound.

    ``con`` is a connection from :func:`connect`, or any DuckDB connection
    that has the views (a vanished part is then not retried).
    """
    if con in _STATES:
        return QuerySession.of(con).run(name, **params)
    try:
        return Result(con.sql(query_sql(name), params=params).to_arrow_table())
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from exc


def open_directory(path: str | os.PathLike[str], **options: Any) -> Repository:
    """The repository of an existing data directory, or of a URI (``s3://…``, ``file://…``).

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says how to create one).
        NotADirectoryError: ``path`` is a file.
        ValueError: a URI with a scheme arrowscope does not know.
    """
    text = os.fspath(path)
    if "://" in text:
        from arrowscope.store import open_repository

        scheme, _, rest = text.partition("://")
        if scheme != "file":
            return open_repository(text, **options)
        path = Path(rest)
    if options:
        raise ValueError(f"{', '.join(options)} apply to s3:// URIs only, not to {text!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no arrowscope data directory at {str(path)!r}: create one by logging a search "
            f"with arrowscope.Root.at({str(path)!r})"
        )
    if not path.is_dir():
        raise NotADirectoryError(f"{str(path)!r} is a file, not an arrowscope data directory")
    from arrowscope.store.parquet import ParquetRepository

    repository: Repository = ParquetRepository(path)
    return repository


def _files_root(repository: Repository) -> str | None:
    """The local directory a repository's ``parquet_files`` are in (an S3 store's spool)."""
    directory = getattr(repository, "directory", None)
    return str(directory) if directory is not None else repository.location


def _repository_of(source: object) -> Repository:
    if isinstance(source, Repository):
        return source
    inner = getattr(source, "repository", None)
    if isinstance(inner, Repository):
        return inner
    raise TypeError(
        "connect() takes a data directory path, a Repository, or an object with a "
        f".repository attribute (such as a Root), not {type(source).__name__}"
    )
