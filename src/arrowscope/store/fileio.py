"""The shared-storage boundary: where published parts, ids, names and heartbeats live.

A repository has two sides. The *spool* is always a local POSIX directory:
this machine's log segments, writer locks and parts being made (``_log``,
``_locks``, ``_writer``, ``compact``). The *shared store* is what every
writer and reader sees: published parts, claimed round and trial numbers,
project and client names, writers' heartbeats. On local disk both are one
directory; on object storage the spool is a local mirror (``objectstore``).

``FileIO`` is the shared store's interface -- the role pyiceberg's FileIO
plays: a few operations on ``/``-separated paths relative to the store's
root. ``LocalFileIO`` implements them on a directory (``O_EXCL``, hard
links), ``S3FileIO`` (``_s3``) on an S3-compatible bucket (conditional PUT).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from arrowscope.store._files import fsync_dir


class StoredFile(NamedTuple):
    """A file (object) of the shared store: its path from the root, size and modification time."""

    path: str
    size: int
    mtime_ns: int


@runtime_checkable
class FileIO(Protocol):
    """The operations arrowscope needs from the storage every writer shares.

    Paths are relative to the store's root, ``/``-separated, without a
    leading ``/``. No operation ever replaces a file, except ``put``.
    """

    @property
    def uri(self) -> str:
        """Where the store is: a directory path or ``s3://bucket/prefix``."""
        ...

    def create(self, path: str, data: bytes = b"") -> bool:
        """Create ``path`` holding ``data`` unless it exists; exactly one concurrent caller wins.

        Returns:
            False when ``path`` existed already (nothing is written).
        """
        ...

    def make_dir(self, path: str) -> bool:
        """Create the directory ``path`` (parents as needed) unless it exists; one caller wins.

        Returns:
            False when it existed already.
        """
        ...

    def put(self, path: str, data: bytes) -> None:
        """Write ``path``, replacing it (small objects: heartbeats)."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of ``path``.

        Raises:
            FileNotFoundError: ``path`` does not exist.
        """
        ...

    def upload(self, local: Path, path: str) -> bool:
        """Publish the local file ``local`` as ``path``, never replacing a file.

        Returns:
            False when ``path`` existed already.
        """
        ...

    def download(self, path: str, local: Path) -> None:
        """Copy ``path`` to the local file ``local`` (replacing it).

        Raises:
            FileNotFoundError: ``path`` does not exist (any more).
        """
        ...

    def list_files(self, prefix: str) -> list[StoredFile]:
        """Every file below the directory ``prefix`` (recursively), by path."""
        ...

    def children(self, prefix: str) -> list[str]:
        """The names directly inside the directory ``prefix`` (files and directories), sorted."""
        ...

    def delete(self, path: str) -> None:
        """Delete ``path``; a file that is gone already is fine."""
        ...


class LocalFileIO:
    """``FileIO`` on a local (or shared POSIX) directory.

    ``create`` is ``open(O_CREAT | O_EXCL)``, ``upload`` a hard link (a
    rename after checking the name on filesystems without links), so no file
    is ever replaced. With ``fsync``, creations are made durable.
    """

    def __init__(self, root: str | os.PathLike[str], fsync: bool = False) -> None:
        self.root = Path(root)
        self._fsync = fsync

    @property
    def uri(self) -> str:
        return str(self.root)

    @property
    def fsync(self) -> bool:
        """Whether creations are made durable."""
        return self._fsync

    def create(self, path: str, data: bytes = b"") -> bool:
        target = self.root / path
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
        except FileExistsError:
            return False
        try:
            if data:
                os.write(fd, data)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if self._fsync:
            fsync_dir(target.parent)
        return True

    def make_dir(self, path: str) -> bool:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.mkdir()
        except FileExistsError:
            return False
        if self._fsync:
            fsync_dir(target.parent)
        return True

    def put(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def upload(self, local: Path, path: str) -> bool:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(local, target)
        except FileExistsError:
            return False
        except OSError:
            if target.exists():
                return False
            shutil.copyfile(local, target)
        return True

    def download(self, path: str, local: Path) -> None:
        shutil.copyfile(self.root / path, local)

    def list_files(self, prefix: str) -> list[StoredFile]:
        base = self.root / prefix
        found = []
        for directory, _, names in os.walk(base):
            for name in names:
                full = Path(directory) / name
                with contextlib.suppress(FileNotFoundError):
                    stat = full.stat()
                    found.append(
                        StoredFile(
                            full.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime_ns
                        )
                    )
        return sorted(found)

    def children(self, prefix: str) -> list[str]:
        try:
            return sorted(os.listdir(self.root / prefix))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.root / path)
