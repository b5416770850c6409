"""One process's writing side of a ``ParquetRepository``: staged rows, log, locks, threads.

Threads: the user's threads and the background writer (``_ticker.Ticker``)
take ``mutex`` around every step that touches the staged rows or the log;
logging a value takes no lock (see ``MetricBuffer``). Checkpoints take it
only to seal segments and to publish parts, not while they write Parquet
(see ``_writer``), and are never started by a thread holding it. The
compactor (``_housekeeping.Compactor``) works outside ``mutex``, on
immutable parts. Reads take ``mutex`` while they list the files and collect
this writer's own rows, so that a checkpoint cannot move rows between the two.

Forks: ``os.fork`` (multiprocessing's default start method on Linux) copies
this writing side into the child. Every live ``Writing`` is registered here,
weakly. Before a fork, the forking thread waits for its background work in
flight (a write-out, a checkpoint, a merge) and holds it off until the fork
is done, so that no thread is inside pyarrow -- its allocator -- when the
child is made. In the child, each ``Writing`` becomes a new writer: a new
writer id, fresh staging, log and locks, a fresh ``mutex`` (the parent's is
held at fork time), no background thread until it is needed. The inherited
files are closed without unlocking or deleting anything (the parent's
``flock`` locks are shared with the child through the open file
descriptions), and whatever the parent had staged or logged is dropped: the
parent writes it, once. A child started by ``multiprocessing`` leaves
through ``os._exit``, which skips ``atexit``: it closes its ``Writing`` from
multiprocessing's own exit hook.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from pathlib import Path

import pyarrow as pa

from arrowscope.errors import StorageWriteError
from arrowscope.store._housekeeping import Compactor, Reporter
from arrowscope.store._locks import WriterLock, forget_partition_locks
from arrowscope.store._reader import PartChecker, read_snapshot
from arrowscope.store._staging import RoundKey, Staging, new_writer_id, with_partition
from arrowscope.store._ticker import BackgroundFailure, Ticker, checkpoint_if_due, write_out
from arrowscope.store._writer import LogWriter

logger = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[Writing] = weakref.WeakSet()


class Writing:
    """This process's writing side of one repository: staged rows, log, locks, threads.

    Args:
        root: The repository directory.
        flush_interval: Seconds between background write-outs and checkpoints
            (0: no background writer; every flush checkpoints).
        fsync: fsync log appends and parts.
        fan_in: Compact a partition's parts in the background, this many of
            one size tier at a time (0: never).
    """

    def __init__(self, root: Path, flush_interval: float, fsync: bool, fan_in: int) -> None:
        self.root = root
        self.flush_interval = flush_interval
        self._fsync = fsync
        self._fan_in = fan_in
        self._begin(new_writer_id(), forked=False)
        _LIVE.add(self)

    def _begin(self, writer_id: str, forked: bool) -> None:
        self.mutex = threading.RLock()
        self.staging = Staging(writer_id)
        self.reporter = Reporter()
        lock = WriterLock(self.root, writer_id)
        self.compactor = (
            Compactor(lock, writer_id, self._fan_in, self._fsync, self.reporter)
            if self._fan_in
            else None
        )
        self.log = LogWriter(
            self.root, lock, self.mutex, self._fsync, self.reporter, self.compactor, self._fan_in
        )
        self.log.on_full = self._wake
        self.failure = BackgroundFailure(self.root)
        self._ticker: Ticker | None = None
        self._needs_exit_hook = forked

    @property
    def writer_id(self) -> str:
        return self.staging.writer_id

    def start(self) -> None:
        """Start the background writer if it is not running (called on every write path)."""
        if self._ticker is None and self.flush_interval > 0:
            with self.mutex:
                if self._ticker is None:
                    name = f"arrowscope-writer-{self.writer_id}"
                    self._ticker = Ticker(self._tick, self.flush_interval, name)
        if self._needs_exit_hook:
            self._needs_exit_hook = False
            _close_at_multiprocessing_exit(self)

    def flush(self, key: RoundKey | None = None) -> None:
        """``write(key)``, then ``settle()``."""
        self.write(key)
        self.settle()

    def write(self, key: RoundKey | None = None) -> None:
        """Write out ``key``'s staged rows (all after a background failure, or when None).

        Raises:
            StorageWriteError: the log append failed; the rows stay staged.
        """
        with self.mutex:
            retry = self.failure.error is not None
            write_out(self.staging, self.log, None if retry or key is None else [key])
            if retry:
                self.failure.cleared("at a flush")

    def settle(self) -> None:
        """After a write: checkpoint if there is no background writer; surface reports.

        Call it without holding ``mutex`` (see ``LogWriter.checkpoint``).
        """
        if self.flush_interval == 0:
            self.log.checkpoint()
        self.reporter.surface()

    def checkpoint(self) -> None:
        """Turn the log into parts now; failures are reported (``HousekeepingWarning``)."""
        self.log.checkpoint()
        self.reporter.surface()

    def read(self, table: str, checker: PartChecker) -> tuple[list[str], list[pa.RecordBatch]]:
        """Visible parts and every row not in them yet (other writers' logs and our own rows)."""
        with self.mutex:
            snapshot = read_snapshot(self.root, table, self.writer_id, checker)
            own = [*self.log.rows(table), *self.staging.peek(table)]
        return snapshot.files, snapshot.batches + [with_partition(table, k, b) for k, b in own]

    def close(self) -> None:
        """Stop the threads, write out and checkpoint everything, drop the writer lock.

        Raises:
            StorageWriteError: the last write-out failed; the rows stay staged.
        """
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()
        error: StorageWriteError | None = None
        with self.mutex:
            try:
                write_out(self.staging, self.log)
            except StorageWriteError as exc:
                error = exc
        self.log.checkpoint()
        if self.compactor is not None:
            self.compactor.drain(stop=True)
        with self.mutex:
            self.log.release()
        self.reporter.surface()
        if error is not None:
            raise error

    def close_quietly(self) -> None:
        """``close`` at interpreter exit or garbage collection, where nobody can catch."""
        try:
            self.close()
        except Exception:
            logger.exception(
                "could not checkpoint %s at exit; the next writer recovers it", self.root
            )

    def before_fork(self) -> None:
        """Wait for the background work in flight, and hold it off (see the module docstring)."""
        self.log.checkpointing.acquire()
        self.mutex.acquire()
        if self.compactor is not None:
            self.compactor.working.acquire()

    def after_fork_in_parent(self) -> None:
        """Let the background work go on."""
        if self.compactor is not None:
            self.compactor.working.release()
        self.mutex.release()
        self.log.checkpointing.release()

    def after_fork(self) -> None:
        """In a forked child: become a new writer (see the module docstring)."""
        self.log.abandon()
        self._begin(new_writer_id(), forked=True)

    def _tick(self) -> None:
        with self.mutex:
            try:
                write_out(self.staging, self.log)
            except Exception as exc:  # the rows stay staged; the next flush retries
                self.failure.failed(exc)
                return
            self.failure.cleared("in the background")
        checkpoint_if_due(self.log, self.flush_interval)

    def _wake(self) -> None:
        ticker = self._ticker
        if ticker is not None:
            ticker.wake()


def _close_at_multiprocessing_exit(writing: Writing) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, writing.close_quietly, exitpriority=0)


_FORKING: list[Writing] = []


def _before_fork() -> None:
    _FORKING[:] = list(_LIVE)
    for writing in _FORKING:
        writing.before_fork()


def _after_fork_in_parent() -> None:
    for writing in reversed(_FORKING):
        writing.after_fork_in_parent()
    _FORKING.clear()


def _after_fork_in_child() -> None:
    forget_partition_locks()
    for writing in _FORKING:
        writing.after_fork()
    _FORKING.clear()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
