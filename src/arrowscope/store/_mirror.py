"""A local mirror of the parts in a shared store, kept in step both ways.

On object storage a repository works on a local spool directory laid out
like a data directory: this machine's writers append their logs there and
checkpoint them into parts there, as on local disk. ``Mirror`` keeps the
spool's parts and the store's in step, relying on what parts are: immutable
files whose names (``part-<writer>-<first>-<last>.parquet``) say which log
segments they hold, so that a wider part of the same writer *covers* the
narrower ones (``_listing.split_covered``).

* ``pull`` downloads the store's parts the spool lacks (under a temporary
  name, then published: readers never see half a file), and deletes spool
  parts that a store part covers (a compaction elsewhere merged them).
* ``push`` uploads the spool's parts the store lacks and that nothing there
  covers (this machine's checkpoints and merges), never replacing an object,
  then deletes the store's parts that another store part covers.

A store part is never deleted before the part covering it is uploaded, so a
reader listing the store at any moment finds every row, in one part or in a
covering one. Any machine may merge any parts it holds (``store.compact``
merges only runs of consecutive segments, so a part not uploaded yet is never
skipped over by a merge elsewhere).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import KeysView
from pathlib import Path
from typing import Final

from arrowscope.errors import CorruptFileError
from arrowscope.schema import TABLES
from arrowscope.store._files import PART_SUFFIX, PartName, parse_part, publish, remove_quietly
from arrowscope.store._listing import Part, list_parts, walk
from arrowscope.store.fileio import FileIO

_DOWNLOAD_SUFFIX: Final = ".download"


class Mirror:
    """Keeps the parts of ``spool`` and of the shared store ``io`` in step.

    Args:
        io: The shared store.
        spool: The local directory laid out like a data directory.
        writer_id: Names this process's temporary download files.
    """

    def __init__(self, io: FileIO, spool: Path, writer_id: str) -> None:
        self.io = io
        self.spool = spool
        self.writer_id = writer_id
        self._pushing = threading.Lock()
        # Per table, the spool's parts after the last push that went through.
        self._in_step: dict[str, KeysView[str]] = {}

    def pull(self, tables: tuple[str, ...] = TABLES) -> int:
        """Download the store's parts the spool lacks; drop spool parts the store covers.

        Returns:
            The number of parts downloaded.

        Raises:
            CorruptFileError: a ``.parquet`` object in a table that is not an
                arrowscope part (named by its URI; it is not downloaded).
        """
        downloaded = 0
        for table in tables:
            stored = self._stored_parts(table)
            local = self._local_parts(table)
            for path, name in stored.items():
                if path not in local:
                    downloaded += self._download(path, name)
            covering = _by_partition(stored)
            for path, part in local.items():
                if path not in stored and _covered(path, part.name, covering):
                    remove_quietly(part.path)
        return downloaded

    def push(self, tables: tuple[str, ...] = TABLES) -> int:
        """Upload the spool's parts the store lacks; delete store parts another one covers.

        Returns:
            The number of parts uploaded.
        """
        uploaded = 0
        with self._pushing:
            for table in tables:
                local = self._local_parts(table)
                if self._in_step.get(table) == local.keys():
                    continue  # nothing new since the last push: no listing
                stored = self._stored_parts(table)
                covering = _by_partition(stored)
                for path, part in sorted(local.items()):
                    if path in stored or _covered(path, part.name, covering):
                        continue
                    try:
                        if self.io.upload(part.path, path):
                            uploaded += 1
                    except FileNotFoundError:  # merged away meanwhile in the spool
                        continue
                    stored[path] = part.name
                    covering.setdefault(_parent(path), []).append(part.name)
                for path, name in stored.items():
                    if _covered(path, name, covering):
                        self.io.delete(path)
                self._in_step[table] = local.keys()
        return uploaded

    def _stored_parts(self, table: str) -> dict[str, PartName]:
        """The parts of ``table`` in the store, by path."""
        found: dict[str, PartName] = {}
        for entry in self.io.list_files(table):
            name = entry.path.rsplit("/", 1)[-1]
            if not name.endswith(PART_SUFFIX):
                continue
            parsed = parse_part(name)
            if parsed is None or "=" not in entry.path:
                raise CorruptFileError(
                    f"{self.io.uri}/{entry.path}",
                    "a Parquet object not written by arrowscope (foreign name); "
                    "move it out of the store's prefix",
                )
            found[entry.path] = parsed
        return found

    def _local_parts(self, table: str) -> dict[str, Part]:
        """The parts of ``table`` in the spool, by store path."""
        found: dict[str, Part] = {}
        for partition, _ in walk(self.spool, table, strict=False):
            for part in list_parts(partition.path, strict=False):
                found[part.path.relative_to(self.spool).as_posix()] = part
        return found

    def _download(self, path: str, name: PartName) -> int:
        target = self.spool / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{name.filename}.{self.writer_id}{_DOWNLOAD_SUFFIX}")
        try:
            self.io.download(path, tmp)
        except FileNotFoundError:  # merged and deleted meanwhile: the next pull gets it
            remove_quietly(tmp)
            return 0
        try:
            return 1 if publish(tmp, target, fsync=False) else 0
        finally:
            remove_quietly(tmp)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _by_partition(parts: dict[str, PartName]) -> dict[str, list[PartName]]:
    grouped: dict[str, list[PartName]] = {}
    for path, name in parts.items():
        grouped.setdefault(_parent(path), []).append(name)
    return grouped


def _covered(path: str, name: PartName, grouped: dict[str, list[PartName]]) -> bool:
    """True when another part in ``path``'s partition holds every segment of ``name``."""
    return any(other != name and other.covers(name) for other in grouped.get(_parent(path), ()))


def spool_for(uri: str) -> Path:
    """The default spool of a store URI: ``$ARROWSCOPE_SPOOL/<hash>`` or under ``~/.cache``."""
    base = os.environ.get("ARROWSCOPE_SPOOL") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "arrowscope", "spool"
    )
    return Path(base) / hashlib.sha256(uri.encode()).hexdigest()[:16]
