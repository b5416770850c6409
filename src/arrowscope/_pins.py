"""Pinned Parquet parts: a query's files stay readable while compaction deletes them.

Compaction replaces parts by a merged one and deletes them; a DuckDB view
that lists a deleted part fails with ``No files found``. A ``FilePins`` keeps
an open descriptor on every part a connection reads, so the file's data
outlives its name, and hands DuckDB a path to it: a symbolic link, in a
private temporary directory (on ``/dev/shm`` where it exists) that mirrors the hive layout
(``metrics/project=…/client=…/round=…/part-….parquet``, so DuckDB still
derives the partition columns from the path), pointing at
``/proc/self/fd/<n>``. Deleting the original name changes nothing for the
connection; closing the pins (or dropping them) releases the space.

Where ``/proc/self/fd`` does not exist, or descriptors run out, paths are
handed over as they are and readers fall back to listing again.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

_FD_DIR: Final = "/proc/self/fd"
# Links are created by the hundred per connection: in memory (tmpfs) each takes
# microseconds, where a disk-backed temporary directory can take a tenth of a ms.
_MEMORY_DIR: Final = "/dev/shm"


class PartVanished(Exception):
    """A listed part was deleted before it could be pinned: list again."""


class FilePins:
    """Open descriptors on the parts a connection reads, exposed as stable paths."""

    def __init__(self) -> None:
        self._enabled = os.path.isdir(_FD_DIR)
        self._dir: Path | None = None
        self._pins: dict[str, tuple[int, str]] = {}  # original path -> (fd, link path)
        self._finalizer: weakref.finalize | None = None

    def stable_paths(self, root: str | None, table: str, paths: Sequence[str]) -> list[str]:
        """Paths DuckDB can read even after ``paths`` are deleted; pins no longer listed drop.

        Args:
            root: The repository directory the paths lie under (None: no pinning).
            table: The table the paths belong to (pins of other tables are kept).
            paths: The visible parts of ``table``.

        Raises:
            PartVanished: a part was deleted before it was pinned (list again).
        """
        if not self._enabled or root is None:
            return list(paths)
        wanted = set(paths)
        prefix = os.path.join(root, table) + os.sep
        for stale in [p for p in self._pins if p.startswith(prefix) and p not in wanted]:
            self._unpin(stale)
        return [self._pin(root, path) for path in paths]

    def close(self) -> None:
        """Release every pin and the link directory."""
        if self._finalizer is not None:
            self._finalizer()
        self._pins = {}
        self._dir = None

    def _pin(self, root: str, path: str) -> str:
        found = self._pins.get(path)
        if found is not None:
            return found[1]
        try:
            fd = _open_readonly(path)
        except FileNotFoundError as exc:
            raise PartVanished(path) from exc
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            logger.warning("out of file descriptors: reading %s without pinning it", path)
            return path
        link = self._link_dir() / os.path.relpath(path, root)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f"{_FD_DIR}/{fd}", link)
        self._pins[path] = (fd, str(link))
        return str(link)

    def _unpin(self, path: str) -> None:
        fd, link = self._pins.pop(path)
        os.unlink(link)
        os.close(fd)

    def _link_dir(self) -> Path:
        if self._dir is None:
            self._dir = _new_link_dir()
            self._finalizer = weakref.finalize(self, _release, self._dir, self._pins)
        return self._dir


def _new_link_dir() -> Path:
    """A private directory for links: on tmpfs if one can be made there, else in the temp dir."""
    if os.access(_MEMORY_DIR, os.W_OK | os.X_OK):
        try:
            return Path(tempfile.mkdtemp(prefix="arrowscope-pins-", dir=_MEMORY_DIR))
        except OSError as exc:  # full, or mounted read-only after all
            logger.debug("cannot make a link directory in %s (%s)", _MEMORY_DIR, exc)
    return Path(tempfile.mkdtemp(prefix="arrowscope-pins-"))


def _open_readonly(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.EMFILE or not _raise_fd_limit():
            raise
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _raise_fd_limit() -> bool:
    """Raise the soft limit on open files towards the hard one; True if it grew."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft * 4, 65536)
    if target <= soft:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return True


def _release(directory: Path, pins: dict[str, tuple[int, str]]) -> None:
    for fd, _link in pins.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    pins.clear()
    shutil.rmtree(directory, ignore_errors=True)
