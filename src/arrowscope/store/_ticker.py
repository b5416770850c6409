"""Writing out: staged rows to the log, at scope exits and in the background.

``write_out`` hands each partition's staged rows to the log through
``Staging.handoff``: rows count as written only once the log append
succeeded, so a failed append (disk full, file too large) leaves them staged
for the next flush, and each row reaches the log exactly once.

A split that logs for minutes has its values written out, and the log
checkpointed into Parquet, every ``flush_interval`` by a daemon thread
(``Ticker``) rather than on the logging path. When that thread cannot write
(``StorageWriteError``), it logs the failure once -- not at every tick --
and remembers it (``BackgroundFailure``); the rows stay staged. The next
flush in the user's thread (a scope's exit) then writes out every
partition, not only its own: if that fails it raises, so the failure
surfaces at the next scope exit only if it still holds; if it succeeds, the
recovery is logged. The thread holds the writer's state, never the
repository, so a repository that is dropped is still finalized.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from arrowscope.store._staging import RoundKey, Staging
from arrowscope.store._writer import LogWriter

logger = logging.getLogger(__name__)


def write_out(staging: Staging, log: LogWriter, keys: list[RoundKey] | None = None) -> None:
    """Append every staged row of ``keys`` (all partitions when None) to the log.

    Raises:
        StorageWriteError: an append failed; the rows of that partition and of
            those not reached yet stay staged.
    """
    for key in staging.keys() if keys is None else keys:
        with staging.handoff(key) as taken:
            if any(taken.values()):
                log.append(key, taken)


def checkpoint_if_due(log: LogWriter, interval: float) -> None:
    """Checkpoint when ``interval`` seconds have passed since the last one, or a segment is full.

    Call it without holding the writer's mutex (see ``LogWriter.checkpoint``).
    """
    if log.checkpoint_wanted or time.monotonic() - log.last_checkpoint >= interval:
        log.checkpoint()


class BackgroundFailure:
    """The write-out failure of the background thread that still holds, logged once."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self.error: Exception | None = None

    def failed(self, exc: Exception) -> None:
        if self.error is None:
            logger.warning(
                "writing out %s in the background failed; retrying quietly, and the next "
                "scope exit retries too (and raises if it still fails): %s",
                self._root,
                exc,
            )
        self.error = exc

    def cleared(self, by: str) -> None:
        if self.error is not None:
            logger.warning(
                "writing out %s works again (%s): the rows kept staged are in the log",
                self._root,
                by,
            )
        self.error = None


class Ticker:
    """A daemon thread running ``step`` every ``interval`` seconds, or when woken, until stopped."""

    def __init__(self, step: Callable[[], None], interval: float, name: str) -> None:
        self._step = step
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next step now rather than at the end of the interval."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and wait for the step it may be running."""
        self._stopping = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._step()
            except Exception:
                # A failed step leaves the rows staged or logged; the next step,
                # a scope's exit or the shutdown tries again.
                logger.exception("a background write-out step failed")
