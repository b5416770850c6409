"""What every report shares: its location, how it reads, and child navigation."""

from __future__ import annotations

import json
import math
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from arrowscope._signals import deferred_signals
from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import ScopedLocation, TrialStatus
from arrowscope.reports._settled import QUERIES as SETTLED_QUERIES
from arrowscope.reports._settled import SettledRound, settled_parts
from arrowscope.schema import query_reads_values
from arrowscope.store import Repository

if TYPE_CHECKING:
    from arrowscope.query import QuerySession

Row = TypeVar("Row", bound=NamedTuple)


class Reader:
    """Runs the named report queries of ``schemas/queries`` over one repository.

    The DuckDB session is opened on first use; every query first refreshes it,
    so reports see what was flushed by any process plus this process's
    buffered rows (read-your-writes). Callers must not mutate the rows.

    Threads: every scope and report of a ``Root`` shares its reader, and a
    DuckDB connection runs one call at a time, so a lock serializes the
    refresh and the query (report queries take milliseconds; one session per
    thread measured no faster and re-registers the pending rows per thread).
    A query runs as a critical section (``deferred_signals``): a SIGTERM
    waits for it rather than interrupting DuckDB.

    Processes: a child made by ``fork`` must not use the parent's DuckDB
    connection; after a fork the child drops the session (keeping a
    reference, so it is never closed or collected there) and opens its own
    on its first query.

    Before that first DuckDB query, the questions of resuming a round and
    asking for its best trial are answered without DuckDB when the round is
    settled (``_settled``): a script that only does that never imports it.
    """

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self._session: QuerySession | None = None
        self._settled: dict[tuple[str, str, int], tuple[tuple[str, ...], SettledRound]] = {}
        self._cache: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        self._cached_for: tuple[Any, ...] | None = None
        self._lock = threading.RLock()
        _READERS.add(self)

    @property
    def session(self) -> QuerySession:
        with self._lock:
            if self._session is None:
                from arrowscope.query import QuerySession

                self._session = QuerySession(self.repository, by_round=True, views_on_demand=True)
            return self._session

    def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        """The rows of ``schemas/queries/<query>.sql`` with ``params`` bound.

        Every report query is about one round (``project``, ``client`` and
        ``round`` are among ``params``): the session holds that round in
        memory while the data is unchanged. Answers are reused while the data
        is unchanged too (same parts, same pending row counts), so asking a
        finished round the same question twice costs one query.
        """
        key = (query, *sorted(params.items()))
        with deferred_signals(), self._lock:
            if self._session is None and query in SETTLED_QUERIES:
                answer = self._settled_rows(query, params)
                if answer is not None:
                    return answer
            session = self.session
            session.refresh()
            if session.inputs != self._cached_for:
                self._cache.clear()
                self._cached_for = session.inputs
            rows = self._cache.get(key)
            if rows is None:
                session.focus(
                    params["project"], params["client"], params["round"], query_reads_values(query)
                )
                rows = self._cache[key] = session.run(query, **params).fetchall()
            return rows

    def _settled_rows(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]] | None:
        """The rows of ``query`` from a settled round's events; None: ask DuckDB."""
        round_key = (params["project"], params["client"], params["round"])
        parts = settled_parts(self.repository, *round_key)
        if parts is None:
            return None
        known = self._settled.get(round_key)
        if known is None or known[0] != parts:
            settled = SettledRound.from_parts(parts)
            if settled is None:
                return None
            known = self._settled[round_key] = (parts, settled)
        return known[1].answer(query, params)

    def records(self, row_type: type[Row], query: str, **params: Any) -> list[Row]:
        """``rows`` as named tuples of ``row_type``."""
        return [row_type._make(row) for row in self.rows(query, **params)]

    def _forget_session(self) -> None:
        """In a forked child: let go of the parent's connection without closing it."""
        if self._session is not None:
            _FORKED_AWAY.append(self._session)
        self._session = None
        self._settled = {}
        self._cache = {}
        self._cached_for = None
        self._lock = threading.RLock()  # another thread of the parent may have held it


# Every reader of this process, so a forked child can drop their sessions.
_READERS: weakref.WeakSet[Reader] = weakref.WeakSet()
# The parent's sessions, in a forked child: referenced forever, because closing
# or collecting them would run DuckDB's teardown on state the child shares with
# the parent.
_FORKED_AWAY: list[Any] = []


def _after_fork_in_child() -> None:
    for reader in list(_READERS):
        reader._forget_session()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


class BaseReport:
    """A read-only view of one scope; every aggregate is also the report of its level.

    ``len``, iteration and ``[key]`` reach the children (an int key is a list
    index, negatives allowed; a str key is a name).
    """

    def __init__(self, reader: Reader, location: ScopedLocation) -> None:
        self._reader = reader
        self.location = location

    def get_id(self) -> str | int | None:
        """This scope's own id (None for the root)."""
        parts = self.location.as_tuple()
        return parts[-1] if parts else None

    def _child_ids(self) -> Sequence[str | int]:
        return []

    def _child(self, key: Any) -> BaseReport:
        raise TypeError(f"{type(self).__name__} has no children")

    def __len__(self) -> int:
        return len(self._child_ids())

    def __iter__(self) -> Iterator[Any]:
        for key in self._child_ids():
            yield self._child(key)

    def __getitem__(self, key: int | str) -> Any:
        ids = list(self._child_ids())
        if isinstance(key, int) and not isinstance(key, bool):
            return self._child(ids[key])
        if key in ids:
            return self._child(key)
        raise KeyError(f"{key!r} is not a child of {self.location}; children: {ids!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location})"

    def _params(self, **extra: Any) -> dict[str, Any]:
        loc = self.location
        return {"project": loc.project, "client": loc.client, "round": loc.round, **extra}


def parse_hyperparams(text: str | None) -> HyperparameterSamples:
    """The samples stored as flat JSON text (empty when there is none)."""
    return HyperparameterSamples.from_json(text) if text else HyperparameterSamples({})


def parse_status(text: str | None) -> TrialStatus:
    """A stored status string, PLANNED when no event was recorded yet."""
    return TrialStatus(text) if text else TrialStatus.PLANNED


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


def render_hyperparam(value: Any) -> Any:
    """How a hyperparameter appears in a frame (SPEC §3.1)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return repr(value)
    return str(value)


def hyperparams_text(values: dict[str, Any]) -> str:
    """A flat (or wildcard) dict as JSON text, for frame cells meant for people."""
    return json.dumps(values)
