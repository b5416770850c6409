"""What every scope shares: the managed ``with`` protocol, exit statuses, seed members."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, TypeVar

from arrowscope._signals import deferred_signals, lost_termination
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.errors import ScopeClosedError
from arrowscope.location import TrialStatus
from arrowscope.reports import Reader
from arrowscope.store import Repository

T = TypeVar("T")
_REPORTS = {
    "root": "RootReport",
    "project": "ProjectReport",
    "client": "ClientReport",
    "round": "RoundReport",
    "trial": "TrialReport",
    "split": "TrialSplitReport",
    "metric": "MetricResultsReport",
}
FLOW_LOGGER = "arrowscope.flow"
_flow_root = logging.getLogger(FLOW_LOGGER)


class Managed(AbstractContextManager[T], Generic[T]):
    """A fresh context manager per call: ``__enter__`` acquires the child scope,
    ``__exit__`` hands it and the exception to the parent, whose answer says
    whether the exception is suppressed.

    Acquiring and releasing run as critical sections (``deferred_signals``):
    a SIGTERM arriving meanwhile is raised once the child's events are
    written, so a scope is never left half-created or half-closed. A child
    acquired just before such a signal is released with it at once, and a
    termination that C code swallowed is raised here (``lost_termination``).
    """

    def __init__(
        self, acquire: Callable[[], T], release: Callable[[T, BaseException | None], bool]
    ) -> None:
        self._acquire = acquire
        self._release = release
        self._child: T | None = None

    def __enter__(self) -> T:
        if self._child is not None:
            raise RuntimeError("this scope manager was already entered; call the method again")
        lost = lost_termination(None)
        if lost is not None:
            raise lost
        try:
            with deferred_signals():
                self._child = self._acquire()
        except BaseException as exc:
            if self._child is not None:  # acquired, then a deferred signal was raised
                self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self._child

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        assert self._child is not None
        lost = lost_termination(exc)
        with deferred_signals():
            suppress = self._release(self._child, lost or exc)
        if lost is not None:
            raise lost
        return suppress


def exit_status(exc: BaseException | None) -> TrialStatus:
    """SUCCESS without an exception, ABORTED for interrupts and exits, FAILED otherwise."""
    if exc is None:
        return TrialStatus.SUCCESS
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return TrialStatus.ABORTED
    return TrialStatus.FAILED


def is_suppressible(exc: BaseException) -> bool:
    """Whether ``continue_on_error`` may swallow ``exc`` at a split's exit (SPEC §2.8)."""
    return isinstance(exc, Exception) and not isinstance(exc, (SystemError, EOFError))


def error_fields(exc: BaseException | None) -> dict[str, str | None]:
    """The ``error`` and ``traceback`` columns of a failure event."""
    if exc is None:
        return {"error": None, "traceback": None}
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": text}


class ScopeMembers:
    """The seed's members common to every aggregate (SPEC §2.1).

    Aggregates derive from their report class and from this one; it holds no
    report logic, only the context, the parent link and the logger.
    """

    _context: AutoMLContext
    _parent_scope: Any
    is_deep: bool
    # Set by the scopes that have a status (trials and splits).
    _status: TrialStatus
    _hyperparams_json: str
    # A split's record (see events.attempt); None for trials.
    _record: int | None = None

    def _init_scope(self, context: AutoMLContext, parent: Any = None) -> None:
        if context.repository is None or context.reader is None:
            raise ScopeClosedError(f"a scope at {context.location} needs a repository")
        self._context = context
        self._parent_scope = parent
        self._detached = False
        self.is_deep = True

    @property
    def context(self) -> AutoMLContext:
        return self._context

    @property
    def repo(self) -> Repository:
        """The repository this scope writes to (ScopeClosedError once detached)."""
        if self._detached:
            raise ScopeClosedError(
                f"the aggregate at {self._context.location} is detached (without_context()): "
                "it can be read but not written"
            )
        assert self._context.repository is not None
        return self._context.repository

    @property
    def flow(self) -> logging.Logger:
        """The per-scope logger; a scope's records also reach its ancestors' loggers."""
        parts = [str(p).replace(".", "_") for p in self._context.location.as_tuple()]
        return logging.getLogger(".".join([FLOW_LOGGER, *parts]))

    def _log(self, level: int, message: str, *args: object) -> None:
        if _flow_root.isEnabledFor(level):
            self.flow.log(level, message, *args)

    @staticmethod
    def from_context(context: AutoMLContext, is_deep: bool = True) -> Any:
        """The aggregate at ``context.location``, read from its repository; nothing is written.

        A location that does not exist gives a fresh record that is not saved
        (round 5 of a client with 2 rounds: a Round with 0 trials and no main
        metric). Trials, splits and metrics loaded this way are read-only:
        see ``aggregates.factory.from_context``. ``is_deep`` is accepted for
        the seed's signature; arrowscope aggregates always read their
        children from the repository.
        """
        from arrowscope.aggregates.factory import from_context

        return from_context(context)

    @classmethod
    def dummy(cls, context: AutoMLContext | None = None) -> Any:
        """The default chain down to this level, saved (in memory when no context is given)."""
        from arrowscope.aggregates.factory import dummy

        return dummy(cls, context)

    def subaggregate(self, key: str | int) -> Any:
        """The child scope ``key`` (a name or a number)."""
        return self[key]  # type: ignore[index]

    def _load_child(self, key: Any) -> Any:
        """The child aggregate ``key`` as stored, or a fresh unsaved one; writes nothing."""
        return self._child(key)  # type: ignore[attr-defined]

    @property
    def report(self) -> Any:
        """A read-only report of this scope (what another process would see, plus buffers)."""
        from arrowscope import reports

        level = self._context.location.level
        cls = getattr(reports, _REPORTS[level])
        return cls(self._reader_of(), self._context.location)

    @property
    def parent(self) -> Any:
        """The parent aggregate (None for the root)."""
        return self._parent_scope

    def refresh(self, deep: bool = True) -> Any:
        """Re-read this scope from the repository; returns self.

        Projects, clients and the ids of rounds and trials are listed from the
        repository on every ``len``, iteration and ``[key]``, so at this level
        there is nothing to re-read and this only records ``deep``. Rounds,
        trials and splits hold state and override it. The seed's two errors
        cannot arise here: a project or client never loses children, and no
        field has unsaved changes (every change is written when it is made).
        """
        self.is_deep = deep
        return self

    def save(self, deep: bool = True) -> Any:
        """Make everything buffered durable (an append-only store has nothing to rewrite)."""
        self.repo.flush()
        return self

    def save_subaggregate(self, subagg: Any, deep: bool = False) -> Any:
        """Persist ``subagg``'s buffered records; returns self."""
        self.repo.flush()
        return self

    def without_context(self) -> Any:
        """A copy that can be read but refuses every write."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._detached = True
        return clone

    def _status_event(self, status: TrialStatus, at: int, **extra: Any) -> None:
        """Record a trial's or split's new status (with its hyperparameters)."""
        loc = self._context.location
        self.repo.append_event(
            self._key(),
            level=loc.level,
            trial=loc.trial,
            split=loc.split,
            attempt=self._record,
            status=status.value,
            hyperparams=self._hyperparams_json,
            at=at,
            **extra,
        )
        self._status = status

    def _key(self) -> tuple[str, str, int]:
        return self._context.location.round_key()

    def _reader_of(self) -> Reader:
        assert self._context.reader is not None
        return self._context.reader

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScopeMembers):
            return NotImplemented
        return (
            type(self) is type(other)
            and self._context.location == other._context.location
            and self._context.repository is other._context.repository
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._context.location))


class Stamp:
    """A read-only ``datetime`` view of an attribute holding microseconds (or None).

    ``created_time = Stamp("_created_us")`` in a class body.
    """

    def __init__(self, attribute: str) -> None:
        self._attribute = attribute

    def __get__(self, scope: object, owner: type | None = None) -> datetime | None:
        if scope is None:  # looked up on the class (help(), introspection)
            return None
        return us_to_datetime(getattr(scope, self._attribute))


def context_reader(context: AutoMLContext) -> Reader:
    """The reader a scope at ``context`` answers its reports with."""
    if context.reader is None:
        raise ScopeClosedError(f"a scope at {context.location} needs a repository")
    return context.reader


def us_to_datetime(us: int | None) -> datetime | None:
    """A stored microsecond timestamp as an aware UTC datetime."""
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def datetime_to_us(moment: datetime | None) -> int | None:
    """A timestamp read back from DuckDB as microseconds since the epoch (exactly)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)
