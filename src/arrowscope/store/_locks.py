"""File locks: the lock a live writer holds, and the per-partition compaction lock.

Locks are ``fcntl.flock`` locks, which the kernel drops when the process
dies, so "the lock can be taken" means "its writer is gone". Lock files that
get deleted are re-checked after locking (the path must still name the
locked inode), the usual guard against locking a file someone just unlinked.
POSIX only.

A forked child shares its parent's flock locks (they belong to the open
file description, which both hold): it must close its copies of the
descriptors without unlocking them (``WriterLock.forget``,
``forget_partition_locks``), or the parent's locks would outlive the parent.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from arrowscope.store._files import COMPACT_LOCK

WRITERS_DIR: Final = "_writers"
LOCK_SUFFIX: Final = ".lock"

# Descriptors of the partition locks this process holds (closed in a forked child).
_PARTITION_FDS: set[int] = set()


def writer_lock_path(root: Path, writer: str) -> Path:
    """Where the lock of writer ``writer`` lives."""
    return root / WRITERS_DIR / f"{writer}{LOCK_SUFFIX}"


@dataclass(frozen=True)
class WriterInfo:
    """Who a writer was: its id, process id and host (written into its lock file)."""

    writer: str
    pid: int | None
    host: str | None

    def describe(self) -> str:
        """``writer <id> (pid <n> on host <h>)``, as far as it is known."""
        where = f"pid {self.pid}" if self.pid is not None else "pid unknown"
        if self.host:
            where += f" on host {self.host}"
        return f"writer {self.writer} ({where})"


def read_writer_info(path: Path, writer: str) -> WriterInfo:
    """What a writer's lock file says about it (empty or unreadable: only its id)."""
    try:
        data = json.loads(path.read_text("utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    pid = data.get("pid")
    host = data.get("host")
    return WriterInfo(
        writer, pid if isinstance(pid, int) else None, host if isinstance(host, str) else None
    )


class WriterLock:
    """The exclusive lock a writer holds while it has log segments or temporary files.

    It is taken lazily (``ensure``) before the first file is written and
    released (and its file deleted) by ``release``, once nothing of the writer
    is left in log segments. The writing thread and the compaction thread
    share it.
    """

    def __init__(self, root: Path, writer: str) -> None:
        self.writer = writer
        self.path = writer_lock_path(root, writer)
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def ensure(self) -> None:
        """Take the lock unless it is held already (waits for a recovery to finish)."""
        if self._fd is not None:
            return
        with self._mutex:
            self._take()

    def _take(self) -> None:
        while self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _names_inode(self.path, fd):
                self._fd = fd
                _write_identity(fd, self.writer)
            else:
                os.close(fd)  # a recovery deleted the file meanwhile: take a fresh one

    def release(self) -> None:
        """Delete the lock file and drop the lock."""
        with self._mutex:
            if self._fd is None:
                return
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self._fd)
            self._fd = None

    def forget(self) -> None:
        """In a forked child: close the inherited descriptor, leaving the parent's lock held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def claim_if_dead(path: Path) -> int | None:
    """Lock a writer's lock file when its writer is gone.

    Returns:
        The locked descriptor (close it after deleting the file), or None
        while the writer is alive.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if not _names_inode(path, fd):
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def partition_lock(directory: Path) -> Iterator[bool]:
    """Hold the compaction lock of a partition; yields False when another process has it.

    The lock file is never deleted, so no inode check is needed.
    """
    fd = os.open(directory / COMPACT_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    _PARTITION_FDS.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        _PARTITION_FDS.discard(fd)
        os.close(fd)


def _write_identity(fd: int, writer: str) -> None:
    """Record who holds the lock, so that a recovery can say who died."""
    text = json.dumps({"writer": writer, "pid": os.getpid(), "host": socket.gethostname()})
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)


def forget_partition_locks() -> None:
    """In a forked child: close the partition-lock descriptors inherited, without unlocking."""
    for fd in list(_PARTITION_FDS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _PARTITION_FDS.clear()


def _names_inode(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
