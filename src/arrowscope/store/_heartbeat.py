"""Liveness without ``flock``: writers on object storage refresh a heartbeat object.

Each writer puts ``_writers/<writer>.json`` (its pid and host) when it opens
the store and again every ``interval`` seconds, and deletes it when it
closes. A writer whose heartbeat is older than ``dead_after`` seconds counts
as dead. Ages are differences of two modification times set by the storage
server -- the reader's own fresh heartbeat and the other one -- so the
machines' clocks do not matter. The first process to create
``_writers/<writer>.aborted`` (an exclusive create) ends what the dead
writer left running.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from arrowscope.store._locks import WriterInfo
from arrowscope.store.fileio import FileIO

logger = logging.getLogger(__name__)

WRITERS_DIR: Final = "_writers"
_BEAT: Final = ".json"
_ABORTED: Final = ".aborted"


def heartbeat_path(writer: str) -> str:
    return f"{WRITERS_DIR}/{writer}{_BEAT}"


def aborted_path(writer: str) -> str:
    return f"{WRITERS_DIR}/{writer}{_ABORTED}"


class Heartbeat:
    """Puts a writer's heartbeat now and every ``interval`` seconds, and runs ``chore`` too.

    Args:
        io: The shared store.
        info: Who is beating.
        interval: Seconds between heartbeats.
        chore: Called after every beat from the same thread (uploads); its
            exceptions are logged, never raised.
    """

    def __init__(
        self,
        io: FileIO,
        info: WriterInfo,
        interval: float,
        chore: Callable[[], Any] | None = None,
        chore_interval: float | None = None,
    ) -> None:
        self.io = io
        self.info = info
        self.interval = interval
        self._chore = chore
        self._chore_interval = chore_interval or interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Put the heartbeat object now."""
        body = {"writer": self.info.writer, "pid": self.info.pid, "host": self.info.host}
        self.io.put(heartbeat_path(self.info.writer), json.dumps(body).encode())

    def start(self) -> None:
        """Beat once (raising on failure), then keep beating from a daemon thread."""
        self.beat()
        self._thread = threading.Thread(
            target=self._run, name=f"arrowscope-heartbeat-{self.info.writer}", daemon=True
        )
        self._thread.start()

    def stop(self, remove: bool = True) -> None:
        """Stop beating; with ``remove``, delete the heartbeat (a clean close)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if remove:
            self.io.delete(heartbeat_path(self.info.writer))

    def _run(self) -> None:
        tick = min(self.interval, self._chore_interval)
        beats = chores = 0.0
        while not self._stop.wait(tick):
            beats += tick
            chores += tick
            try:
                if beats >= self.interval:
                    beats = 0.0
                    self.beat()
                if self._chore is not None and chores >= self._chore_interval:
                    chores = 0.0
                    self._chore()
            except Exception:
                logger.warning("heartbeat of %s failed", self.info.describe(), exc_info=True)


def dead_writers(io: FileIO, me: str, dead_after: float) -> list[WriterInfo]:
    """Writers whose heartbeat is more than ``dead_after`` seconds older than ``me``'s.

    ``me`` must have beaten just before: its heartbeat's time is the server's now.
    """
    files = {f.path.rsplit("/", 1)[-1]: f for f in io.list_files(WRITERS_DIR)}
    mine = files.get(f"{me}{_BEAT}")
    if mine is None:
        return []
    dead = []
    for name, entry in sorted(files.items()):
        writer = name.removesuffix(_BEAT)
        if not name.endswith(_BEAT) or writer == me or f"{writer}{_ABORTED}" in files:
            continue
        if (mine.mtime_ns - entry.mtime_ns) / 1e9 > dead_after:
            dead.append(_info(io, writer))
    return dead


def _info(io: FileIO, writer: str) -> WriterInfo:
    try:
        data = json.loads(io.read(heartbeat_path(writer)))
    except (OSError, ValueError):
        data = {}
    pid, host = data.get("pid"), data.get("host")
    return WriterInfo(
        writer, pid if isinstance(pid, int) else None, host if isinstance(host, str) else None
    )
