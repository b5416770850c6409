"""Housekeeping: checkpoints and compaction are chores, and their failures are reports.

Turning log segments into Parquet parts and merging small parts keep the
data tidy, but the rows are safe without them (in the log, or in the small
parts). So their failures -- a partition made read-only, a disk full, a
foreign ``notes.parquet`` dropped next to the parts -- never reach a user's
``with`` block. Each distinct cause is logged once, as a warning naming the
file and the remedy, and raised as a ``HousekeepingWarning`` from the next
``flush``, ``checkpoint`` or ``close`` of the repository in the caller's
thread (so that warning filters apply where the user sees them). The chore
is tried again later: a checkpoint at the next one, a compaction after more
parts arrive.

``Compactor`` is the thread that merges this writer's parts, outside the
repository's lock: parts are immutable, so it needs only the partition's
compaction lock, and a scope exit never waits for it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
import warnings
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.errors import HousekeepingWarning
from arrowscope.store._locks import WriterLock
from arrowscope.store.compact import RowCounts, compact_partition

logger = logging.getLogger(__name__)

# Seconds before asking again for a partition another process was compacting.
RETRY_S: Final = 1.0


def _glibc() -> ctypes.CDLL | None:
    """glibc, which keeps freed memory in per-thread arenas (``malloc_trim`` returns it)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # another C library, or another system
        return None
    return libc


_LIBC: Final = _glibc()


def _trim_malloc() -> None:
    """Hand the C allocator's free memory back to the system (glibc only; else nothing)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_REMEDY = {
    "checkpoint": (
        "Nothing is lost: the rows stay in the log segment (arrowscope readers see them; "
        "plain Parquet readers do not yet) and the checkpoint is tried again at the next "
        "one and at close"
    ),
    "recovery": (
        "Nothing is lost: the log segments of the writer that is gone stay where they are, "
        "arrowscope readers see their rows, and the next process that opens the directory "
        "tries again"
    ),
    "compaction": (
        "Nothing is lost: the partition keeps its small parts, which every reader sees, "
        "and compaction is tried again when more parts arrive"
    ),
}


class Reporter:
    """Collects housekeeping failures: logged once per cause, warned in the caller's thread."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._seen: set[tuple[str, str, str, int | None]] = set()
        self._unsurfaced: list[str] = []

    def failed(self, chore: str, path: Path | str, exc: BaseException) -> None:
        """Record that ``chore`` of ``path`` failed (one of the keys of ``_REMEDY``)."""
        cause = (chore, str(path), type(exc).__name__, getattr(exc, "errno", None))
        with self._mutex:
            if cause in self._seen:
                return
            self._seen.add(cause)
        message = (
            f"arrowscope could not run the {chore} of {path}: {type(exc).__name__}: {exc}. "
            f"{_REMEDY[chore]}. Fix the cause (free space, make the directory writable, "
            "move foreign files out of the data directory)."
        )
        logger.warning("%s", message)
        with self._mutex:
            self._unsurfaced.append(message)

    def surface(self) -> None:
        """Raise the failures recorded since the last call as ``HousekeepingWarning``s."""
        if not self._unsurfaced:
            return
        with self._mutex:
            messages, self._unsurfaced = self._unsurfaced, []
        for message in messages:
            warnings.warn(message, HousekeepingWarning, stacklevel=4)


class Compactor:
    """A daemon thread that compacts the partitions it is asked to, one at a time.

    A partition another process is compacting (several writers share a
    round's partition) is asked again ``RETRY_S`` later, until its lock is
    free: else the request would wait for ``fan_in`` more parts, and a busy
    round would keep most of its writers' parts unmerged. Retries still
    waiting when the writer closes are dropped.

    Args:
        lock: The writer's lock (it names the temporary files).
        writer: Merge only the parts of this writer.
        fan_in: How many parts of about the same size make a merge.
        fsync: fsync the merged files.
        reporter: Where failures go.
    """

    def __init__(
        self, lock: WriterLock, writer: str, fan_in: int, fsync: bool, reporter: Reporter
    ) -> None:
        self._lock = lock
        self._writer = writer
        self._fan_in = fan_in
        self._fsync = fsync
        self._reporter = reporter
        self._rows = RowCounts()
        self._cond = threading.Condition()
        self._queue: dict[tuple[str, Path], None] = {}  # insertion-ordered set
        self._retry: dict[tuple[str, Path], float] = {}  # when to ask again (monotonic)
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.working = threading.Lock()  # held while merging (a fork waits for it)

    def request(self, table: str, directory: Path) -> None:
        """Ask for ``directory`` to be compacted soon (returns at once)."""
        with self._cond:
            self._queue[(table, directory)] = None
            self._retry.pop((table, directory), None)
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name=f"arrowscope-compact-{self._writer}", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def drain(self, stop: bool = False) -> None:
        """Wait until every request has been handled; with ``stop``, end the thread too."""
        with self._cond:
            while (self._queue or self._busy) and self._alive():
                self._cond.wait(0.1)
            if stop and self._thread is not None:
                self._stopping = True
                self._cond.notify_all()
                thread, self._thread = self._thread, None
            else:
                thread = None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    next_retry = self._due_retries()
                    if self._queue or self._stopping:
                        break
                    self._cond.wait(next_retry)
                if self._stopping:
                    return
                table, directory = next(iter(self._queue))
                del self._queue[(table, directory)]
                self._busy = True
            try:
                with self.working:
                    looked = self._compact(table, directory)
                    if looked:
                        # A merge briefly holds up to a tier of rows: hand what Arrow's
                        # allocator kept of them back to the system, so that a long
                        # search's writer does not keep its largest merge's memory.
                        pa.default_memory_pool().release_unused()
                        _trim_malloc()
                if not looked:
                    with self._cond:
                        self._retry[(table, directory)] = time.monotonic() + RETRY_S
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _due_retries(self) -> float | None:
        """Queue the retries that are due (holding ``_cond``); seconds until the next one."""
        now = time.monotonic()
        for key, due in list(self._retry.items()):
            if due <= now:
                del self._retry[key]
                self._queue[key] = None
        return max(0.0, min(self._retry.values()) - now) if self._retry else None

    def _compact(self, table: str, directory: Path) -> bool:
        """Compact one partition; False when another process had its lock (ask again)."""
        try:
            done = compact_partition(
                directory,
                table,
                self._lock,
                writer=self._writer,
                fsync=self._fsync,
                fan_in=self._fan_in,
                rows=self._rows,
            )
        except Exception as exc:  # a chore: reported, never raised (see the module docstring)
            self._reporter.failed("compaction", directory, exc)
            return True
        return done is not None
