"""One query session for the app, refreshed in the background, answers cached per data version.

The app reads through one :class:`~arrowscope.query.QuerySession` (DuckDB is
used by one thread at a time, so every query holds :attr:`LiveData.lock`).
A background thread calls ``refresh()`` every ``refresh_interval`` seconds;
when :attr:`QuerySession.inputs` changed, :attr:`LiveData.version` goes up and
every cached answer is dropped. Answers are cached by key for the current
version, so a page asked twice about unchanged data costs no query, and the
answers asked for recently are computed again right after a change, before
a page polls for them.

A refresh that had to recompute the views can take seconds on large
directories; the thread then waits as long as that refresh took before the
next one, so the app never spends more than half a core refreshing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

from arrowscope.errors import ArrowscopeError
from arrowscope.query import QuerySession, Result

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_CACHE_SIZE: Final = 256
#: Answers asked for within this many seconds are recomputed after a change.
_WATCH_SECONDS: Final = 60.0


class NotReady(ArrowscopeError):
    """The data directory is still being opened, or could not be opened."""


def ui_sql(name: str) -> str:
    """The text of ``ui/sql/<name>.sql``."""
    return resources.files("arrowscope.ui").joinpath("sql", f"{name}.sql").read_text("utf-8")


def source_path(source: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """A ``file://`` URI as the path it names; anything else as given."""
    text = os.fspath(source)
    parts = urlsplit(text)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{text!r}: a file:// URI names a local path (file:///abs/path)")
        return Path(unquote(parts.path))
    return source


class LiveData:
    """The app's view of one data directory: a session, its version, cached answers.

    Args:
        source: a data directory, a ``file://`` URI, or anything
            ``QuerySession.open`` takes (a repository, a ``Root``).
        refresh_interval: seconds between background refreshes (at least).

    Example:
        >>> data = LiveData(path)          # doctest: +SKIP
        >>> data.start(); data.wait_ready(10)
        >>> data.cached(("n",), lambda: len(data.fetch("round_trials", project="p",
        ...     client="c", round=0)))
    """

    def __init__(self, source: object, refresh_interval: float = 1.0) -> None:
        self.source = source
        self.refresh_interval = refresh_interval
        self.lock = threading.RLock()
        self.version = 0
        self._session: QuerySession | None = None
        self._inputs: tuple[Any, ...] | None = None
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()
        self._watched: dict[tuple[Any, ...], tuple[float, Callable[[], Any]]] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def open(self) -> None:
        """Open the session now (in this thread)."""
        try:
            source = self.source
            if isinstance(source, (str, os.PathLike)):
                source = source_path(source)
            session = QuerySession.open(source)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        with self.lock:
            self._session = session
            self._inputs = session.inputs
            self.version = 1
        self._ready.set()

    def start(self) -> None:
        """Open the session and keep it fresh, in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="arrowscope-ui-refresh", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the session is open.

        Raises:
            NotReady: it could not be opened, or not within ``timeout`` seconds.
        """
        if not self._ready.wait(timeout):
            raise NotReady("the data directory is still being read; try again in a moment")
        if self._error is not None:
            raise NotReady(f"cannot read {self.source}: {self._error}") from self._error

    @property
    def ready(self) -> bool:
        """Whether the session is open."""
        return self._ready.is_set() and self._error is None

    def close(self) -> None:
        """Stop refreshing and close the session."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self.lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- reading -----------------------------------------------------------
    def refresh(self) -> bool:
        """Refresh the session; True when the data changed (the version went up)."""
        with self.lock:
            session = self._require()
            session.refresh()
            if session.inputs == self._inputs:
                return False
            self._inputs = session.inputs
            self.version += 1
            self._cache.clear()
            return True

    def fetch(self, name: str, **params: Any) -> Result:
        """Run ``ui/sql/<name>.sql`` with ``params`` bound (takes the lock)."""
        with self.lock:
            return self._require().fetch(ui_sql(name), params)

    def query(self, sql: str, params: Any = None) -> Result:
        """Run SQL the app wrote (never user text) over the views (takes the lock)."""
        with self.lock:
            return self._require().fetch(sql, params)

    def cached(self, key: tuple[Any, ...], compute: Callable[[], _T], watch: bool = False) -> _T:
        """``compute()``'s answer for the current version, computed once per version.

        Args:
            key: what is asked (hashable); equal keys share an answer.
            compute: computes the answer; runs with the lock held.
            watch: recompute this answer right after each change of the data
                while it keeps being asked for.
        """
        self.wait_ready(timeout=600)
        if watch:
            self._watched[key] = (time.monotonic(), compute)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        with self.lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == self.version:
                return hit[1]
            value = compute()
            self._cache[key] = (self.version, value)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            return value

    def has(self, key: tuple[Any, ...]) -> bool:
        """Whether the answer to ``key`` is cached for the current version."""
        hit = self._cache.get(key)
        return hit is not None and hit[0] == self.version

    # -- internals ---------------------------------------------------------
    def _require(self) -> QuerySession:
        if self._session is None:
            raise NotReady("the data directory is not open")
        return self._session

    def _run(self) -> None:
        try:
            self.open()
        except BaseException as exc:
            logger.error("cannot open %s: %s", self.source, exc)
            return
        pause = self.refresh_interval
        while not self._stop.wait(pause):
            started = time.monotonic()
            try:
                changed = self.refresh()
                if changed:
                    self._rewarm()
            except Exception:
                logger.exception("refreshing %s failed; trying again", self.source)
            pause = max(self.refresh_interval, time.monotonic() - started)

    def _rewarm(self) -> None:
        """Compute again the answers pages asked for recently, for the new version."""
        now = time.monotonic()
        for key, (asked, compute) in list(self._watched.items()):
            if now - asked > _WATCH_SECONDS:
                self._watched.pop(key, None)
                continue
            try:
                self.cached(key, compute)
            except Exception:
                logger.debug("could not recompute %r", key, exc_info=True)
