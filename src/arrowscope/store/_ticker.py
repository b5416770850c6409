"""Writing out in the background: what running scopes logged, every ``flush_interval``.

A split that logs for minutes has its values appended to the log, and the log
checkpointed into Parquet, by a daemon thread rather than on the logging
path. The thread holds the writer's state, never the repository, so a
repository that is dropped is still finalized.
"""

from __future__ import annotations

import logging
import threading
import time

from arrowscope.store._staging import RoundKey, Staging
from arrowscope.store._writer import LogWriter

logger = logging.getLogger(__name__)


def write_out(staging: Staging, log: LogWriter, keys: list[RoundKey] | None = None) -> None:
    """Append every staged row of ``keys`` (all partitions when None) to the log."""
    for key in staging.keys() if keys is None else keys:
        for table, batches in staging.take(key).items():
            if batches:
                log.append(table, key, batches)


def checkpoint_if_due(log: LogWriter, interval: float) -> None:
    """Checkpoint when ``interval`` seconds have passed since the last one."""
    if time.monotonic() - log.last_checkpoint >= interval:
        log.checkpoint()


class Ticker:
    """A daemon thread that writes out and checkpoints every ``interval`` seconds.

    Every step runs under ``lock``, the lock the repository takes around its
    own writes; logging a value takes no lock (see ``MetricBuffer``).
    """

    def __init__(
        self, staging: Staging, log: LogWriter, lock: threading.RLock, interval: float
    ) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_run,
            args=(staging, log, lock, interval, self._stop),
            name=f"arrowscope-writer-{staging.writer_id}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for the step it may be running."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


def _run(
    staging: Staging, log: LogWriter, lock: threading.RLock, interval: float, stop: threading.Event
) -> None:
    while not stop.wait(interval):
        try:
            with lock:
                write_out(staging, log)
                checkpoint_if_due(log, interval)
        except Exception:
            # A failed step leaves the rows staged or logged; the next step,
            # a scope's exit or the shutdown tries again.
            logger.exception("writing out %s in the background failed", log.root)
