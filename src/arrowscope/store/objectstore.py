"""``ObjectStoreRepository``: the repository contract over S3-compatible object storage.

Object stores have no ``flock``, no exclusive ``open``, no hard links and no
appendable files, so writes are built for objects:

* **Durability at scope exit** comes from a local *spool*, a directory on the
  writer's own disk laid out like a data directory: the log, checkpoints and
  recovery work there exactly as on local disk. The next process on the
  same machine that opens the same store recovers a dead writer's log and
  uploads it.
* **Parts are uploaded** at every checkpoint (every ``flush_interval``
  seconds, at round exit, at close and at interpreter exit) by a conditional
  PUT, so an object is never replaced; ``_mirror`` keeps spool and store in
  step and downloads other writers' parts for reads.
* **Round and trial numbers, project and client names** are claimed with a
  conditional PUT (``If-None-Match: *``): writers on different machines never
  share a number.
* **Liveness** comes from heartbeats (``_heartbeat``): a writer whose
  heartbeat is older than ``dead_after`` seconds counts as dead when another
  process opens the store, and the trials and splits it left running end
  ABORTED, as on local disk.
* **Compaction** merges parts in the spool and uploads the merged part before
  deleting the parts it covers, so arrowscope's readers stay exact.

What a machine that dies for good loses: what its writers logged since their
last upload, at most about ``flush_interval`` seconds of logging (exited
scopes included), kept in its spool until a process on it opens the store.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from arrowscope._signals import deferred_signals
from arrowscope.errors import CorruptFileError, HousekeepingWarning
from arrowscope.store._heartbeat import Heartbeat, aborted_path, dead_writers, heartbeat_path
from arrowscope.store._ids import IdAllocator
from arrowscope.store._locks import WriterInfo
from arrowscope.store._mirror import Mirror, spool_for
from arrowscope.store._staging import RoundKey
from arrowscope.store.fileio import FileIO
from arrowscope.store.parquet import ParquetRepository

logger = logging.getLogger(__name__)

# Reads download what other writers uploaded at most this often (seconds).
_PULL_EVERY = 0.25


class ObjectStoreRepository(ParquetRepository):
    """A repository in ``s3://bucket/prefix``, written through a local spool.

    Args:
        uri: ``s3://bucket`` or ``s3://bucket/prefix``.
        filesystem: A ``pyarrow.fs.S3FileSystem`` to use.
        storage_options: ``endpoint_url``, ``access_key_id``,
            ``secret_access_key``, ``session_token``, ``region``, ``profile``
            (default: the AWS variables; see ``store._s3``).
        spool: The local spool directory (default: under ``$ARROWSCOPE_SPOOL``
            or ``~/.cache/arrowscope/spool``, one per URI).
        flush_interval: Seconds between background write-outs, checkpoints
            and uploads (0: upload at every flush).
        fsync: fsync the spool's log appends and parts.
        auto_compact_parts: As for ``ParquetRepository``.
        heartbeat_interval: Seconds between heartbeats.
        dead_after: Seconds without a heartbeat after which a writer counts
            as dead (keep it well above ``heartbeat_interval``).
        io: A ``FileIO`` to use instead of S3 (tests, other stores).

    Raises:
        StorageConfigError: the endpoint, credentials, bucket or prefix
            cannot be used, in one line naming the URI and what to set.
    """

    def __init__(
        self,
        uri: str,
        *,
        filesystem: Any = None,
        storage_options: Mapping[str, str] | None = None,
        spool: str | os.PathLike[str] | None = None,
        flush_interval: float = 2.0,
        fsync: bool = False,
        auto_compact_parts: int = 10,
        heartbeat_interval: float = 10.0,
        dead_after: float = 120.0,
        io: FileIO | None = None,
    ) -> None:
        if heartbeat_interval <= 0 or dead_after <= heartbeat_interval:
            raise ValueError(
                "heartbeat_interval must be > 0 and dead_after > heartbeat_interval, got "
                f"{heartbeat_interval!r} and {dead_after!r}"
            )
        if io is None:
            from arrowscope.store._s3 import S3FileIO

            s3 = S3FileIO(uri, filesystem, storage_options)
            s3.check()
            io = s3
        self._io = io
        self._uri = io.uri
        self._dead_after = dead_after
        self._heartbeat: Heartbeat | None = None
        self._pid = os.getpid()
        self._pulled: dict[str, float] = {}
        self._read_only = False
        self._closed = False  # closed, everything uploaded: nothing left for the exit
        self._background_error: str | None = None
        self._pull_error: str | None = None
        self._sync_lock = threading.Lock()
        spool_dir = Path(spool) if spool is not None else spool_for(io.uri)
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._mirror = Mirror(io, spool_dir.absolute(), f"p{os.getpid()}")
        self._mirror.pull()
        super().__init__(spool_dir, flush_interval, fsync, auto_compact_parts)
        self._ids = IdAllocator(io)
        self._mirror.writer_id = self.writer_id
        self._heartbeat_interval = heartbeat_interval
        self._start_heartbeat()
        self._abort_dead_writers()
        self._push()
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def location(self) -> str | None:
        return self._uri

    @property
    def derived_cache_directory(self) -> Path | None:
        """None: the spool holds copies of parts only (no derived-table cache yet)."""
        return None

    def __repr__(self) -> str:
        return f"ObjectStoreRepository({self._uri!r}, writer_id={self.writer_id!r})"

    # -- writing -------------------------------------------------------------
    def flush(self, key: RoundKey | None = None) -> None:
        super().flush(key)
        if self.flush_interval == 0:
            self._push()

    def checkpoint(self) -> None:
        """Turn the log into parts and upload them (failures: ``HousekeepingWarning``)."""
        super().checkpoint()
        self._push()

    def close(self) -> None:
        """Write out, checkpoint, upload, stop the heartbeat."""
        try:
            super().close()
        finally:
            uploaded = self._push()
            self._closed = uploaded
            heartbeat, self._heartbeat = self._heartbeat, None
            if heartbeat is not None and heartbeat.info.writer == self.writer_id:
                try:
                    heartbeat.stop(remove=uploaded)
                except OSError as exc:
                    logger.warning("could not remove the heartbeat of %s: %s", self._uri, exc)

    def compact(self) -> int:
        """Merge parts (downloaded to the spool), upload the merged ones, delete what they cover."""
        self._mirror.pull()
        merged = super().compact()
        self._mirror.push()
        return merged

    # -- internals -----------------------------------------------------------
    def _read(self, table: str) -> tuple[list[str], list[pa.RecordBatch]]:
        now = time.monotonic()
        if now - self._pulled.get(table, -_PULL_EVERY) >= _PULL_EVERY:
            self._pulled[table] = now
            try:
                self._mirror.pull((table,))
            except CorruptFileError:
                raise
            except OSError as exc:
                # The store is out of reach: read what this machine has, its own rows included.
                if str(exc) != self._pull_error:
                    self._pull_error = str(exc)
                    logger.warning(
                        "%s: downloading new parts failed (%s); reading this machine's spool",
                        self._uri,
                        exc,
                    )
            else:
                self._pull_error = None
        return super()._read(table)

    def _abort_orphans(self, dead: WriterInfo) -> None:
        """End ``dead``'s running scopes ABORTED and upload that; drop its heartbeat.

        Called by recovery for a writer of this machine (whose log this process
        just recovered: it always ends them, with the fullest data) and for
        writers whose heartbeat went stale (after winning their marker).
        """
        self._io.create(aborted_path(dead.writer), dead.describe().encode())
        super()._abort_orphans(dead)
        self._push()
        self._io.delete(heartbeat_path(dead.writer))

    def _abort_dead_writers(self) -> None:
        """End what writers with a stale heartbeat left running (one process per dead writer)."""
        if self._read_only:
            return
        try:
            dead = dead_writers(self._io, self.writer_id, self._dead_after)
        except OSError as exc:
            logger.warning("could not list the writers of %s: %s", self._uri, exc)
            return
        for info in dead:
            if not self._io.create(aborted_path(info.writer), info.describe().encode()):
                continue  # another process is ending them
            self._mirror.pull()
            super()._abort_orphans(info)
            self._push()
            self._io.delete(heartbeat_path(info.writer))

    def _start_heartbeat(self) -> None:
        info = WriterInfo(self.writer_id, os.getpid(), socket.gethostname())
        chore_interval = self.flush_interval or self._heartbeat_interval
        heartbeat = Heartbeat(
            self._io,
            info,
            self._heartbeat_interval,
            self._push_in_background,
            min(chore_interval, 5.0),
        )
        try:
            heartbeat.start()
        except PermissionError as exc:
            # Read-only credentials still read; they cannot end what dead writers left.
            self._read_only = True
            logger.warning(
                "%s cannot be written with these credentials (%s): reading only; writers "
                "that died are not ended, their trials read RUNNING until a writer opens it",
                self._uri,
                exc,
            )
            return
        self._heartbeat = heartbeat

    def _before_write(self) -> None:
        self._after_fork()
        self._closed = False

    def _after_fork(self) -> None:
        """In a forked child (a new writer id): beat and upload for the child's writer."""
        if self._pid == os.getpid():
            return
        with self._sync_lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._sync_lock = threading.Lock()
            self._mirror.writer_id = self.writer_id
            self._start_heartbeat()
            _push_at_multiprocessing_exit(self)

    def _push(self) -> bool:
        """Upload the spool's new parts; False (and a warning) when the store refused."""
        try:
            with deferred_signals():
                self._mirror.push()
        except OSError as exc:
            _warn_upload(self._uri, exc)
            return False
        return True

    def _push_in_background(self) -> None:
        """``_push`` from the heartbeat thread: failures are logged (once per cause)."""
        try:
            self._mirror.push()
        except OSError as exc:
            text = str(exc)
            if text != self._background_error:
                self._background_error = text
                logger.warning("%s: uploading parts failed (%s); retrying", self._uri, exc)
        else:
            self._background_error = None


def _warn_upload(uri: str, exc: OSError) -> None:
    import warnings

    message = (
        f"{uri}: uploading parts failed ({exc}); they stay in the local spool and are "
        "uploaded at the next checkpoint, or by the next process opening the store here"
    )
    logger.warning("%s", message)
    warnings.warn(message, HousekeepingWarning, stacklevel=3)


def _close_at_exit(ref: weakref.ref[ObjectStoreRepository]) -> None:
    repository = ref()
    if repository is None or repository._pid != os.getpid() or repository._closed:
        return
    try:
        repository.close()
    except Exception:
        logger.exception("could not upload %s at exit; the next process here will", ref)


def _push_at_multiprocessing_exit(repository: ObjectStoreRepository) -> None:
    import sys

    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _close_at_exit, args=(weakref.ref(repository),), exitpriority=-1)
