"""``ParquetRepository``: the repository contract over a local directory."""

from __future__ import annotations

import errno
import logging
import os
import socket
import weakref
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from arrowscope._signals import deferred_signals
from arrowscope.location import validate_name
from arrowscope.schema import table_schema
from arrowscope.store._buffer import MetricBuffer, now_us
from arrowscope.store._ids import IdAllocator
from arrowscope.store._locks import WriterInfo
from arrowscope.store._orphans import abort_fields, orphaned_scopes, summary_fields
from arrowscope.store._reader import PartChecker, read_partitions
from arrowscope.store._recovery import recover
from arrowscope.store._staging import RoundKey, concat
from arrowscope.store._writing import Writing
from arrowscope.store.compact import compact
from arrowscope.store.fileio import LocalFileIO

logger = logging.getLogger(__name__)

_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class ParquetRepository:
    """Hive-partitioned Parquet files under one directory, written through a log.

    Layout (``<p>``/``<c>`` percent-encoded, see ``location.encode_partition_value``)::

        <root>/metrics/project=<p>/client=<c>/round=<n>/part-<writer>-<first>-<last>.parquet
        <root>/metrics/project=<p>/client=<c>/round=<n>/log-<writer>-<segment>.aslog
        <root>/events/...                          (same as metrics)
        <root>/catalog/project=<p>/part-<writer>-<k>-<k>.parquet
        <root>/_ids/..., <root>/_names/...         round/trial numbers, namespaces
        <root>/_writers/<writer>.lock              held by each live writer

    ``flush`` appends the buffered rows to this writer's log segment of the
    partition (a ``write`` to the kernel: it survives ``kill -9``;
    ``fsync=True`` also survives a power loss). A daemon thread does the same
    every ``flush_interval`` seconds for scopes that are still running, so a
    crash loses at most that much of what they logged. Checkpoints turn
    segments into Parquet parts, atomically; the same thread runs them every
    ``flush_interval`` seconds (with ``flush_interval=0``, every ``flush``
    does), and they run when a segment grows large, on ``close`` and at
    interpreter exit. Opening a repository recovers the segments of writers
    that are gone, and ends the trials and splits they left running ABORTED
    (``_orphans``). Plain readers of ``**/*.parquet`` are at most about
    ``flush_interval`` behind a live writer.

    Failures: a log append that fails (disk full, file too large, read-only
    directory) raises ``StorageWriteError`` from ``flush`` and keeps the rows
    staged, to be written exactly once by the next flush that succeeds (see
    ``_ticker`` for failures of the background thread). Checkpoints,
    compaction and recovery are housekeeping: their failures are logged once
    per cause and raised as ``HousekeepingWarning`` from the next ``flush``,
    ``checkpoint`` or ``close``, never as exceptions; the rows stay in the
    log until a checkpoint works.

    Compaction: after every ``auto_compact_parts`` parts this writer puts in
    a partition, a background thread merges its parts there, size-tiered
    (``store.compact``): parts of about the same size are merged that many
    at a time, so a row is rewritten a few times in all, and a scope exit
    never waits for it.

    A foreign or unreadable file in the data tree -- a ``.parquet`` file that
    is not a readable arrowscope part, a log segment that is not a log of the
    table, a symbolic link inside a table -- makes reads raise
    ``CorruptFileError`` naming it, rather than be skipped: plain DuckDB over
    ``**/*.parquet`` would read such a file, so silently skipping it would
    make arrowscope and DuckDB disagree. arrowscope never rewrites or
    deletes a file it did not write. Other files (not ``.parquet``, not
    named like a log) are ignored.

    Forked children (``multiprocessing``'s default on Linux) become writers
    of their own; see ``_writing``.

    Locks use ``fcntl.flock``: POSIX systems only.

    Args:
        path: The directory (created if missing).
        flush_interval: Seconds between background write-outs and checkpoints
            (0: no background writer; write-outs at scope exits, ``flush``
            and ``close``, and every flush checkpoints).
        fsync: fsync log appends, parts and id claims (slower; survives power loss).
        auto_compact_parts: How many parts of about the same size the
            background compaction merges at a time (0 disables it).

    Example:
        >>> import tempfile
        >>> repo = ParquetRepository(tempfile.mkdtemp())
        >>> key = ("vision", "resnet", repo.allocate("vision", "resnet"))
        >>> buffer = repo.metric_buffer(key, trial=0, split=0, metric="acc")
        >>> buffer.valid.append(0.5); buffer.valid_at.append(1_700_000_000_000_000_000)
        >>> repo.release_buffer(key, buffer)
        >>> repo.close()
        >>> [f.rsplit("/", 1)[1][:5] for f in repo.parquet_files("metrics")]
        ['part-']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        flush_interval: float = 2.0,
        fsync: bool = False,
        auto_compact_parts: int = 10,
    ) -> None:
        if flush_interval < 0:
            raise ValueError(f"flush_interval must be >= 0 seconds, got {flush_interval!r}")
        if auto_compact_parts < 0 or auto_compact_parts == 1:
            raise ValueError(
                f"auto_compact_parts must be 0 (never) or >= 2, got {auto_compact_parts!r}"
            )
        self._root = Path(path).absolute()
        if self._root.exists() and not self._root.is_dir():
            raise NotADirectoryError(
                f"{str(path)!r} is a file: a ParquetRepository needs a directory "
                "(it is created if missing)"
            )
        self._root.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._writing = Writing(self._root, flush_interval, fsync, auto_compact_parts)
        self._ids = IdAllocator(LocalFileIO(self._root, fsync), journal=True)
        self._checker = PartChecker()
        self._keys: set[RoundKey] = set()
        self._stash: dict[str, tuple[str, tuple[list[str], list[pa.RecordBatch]]]] = {}
        # At exit (or when garbage-collected) flush and checkpoint; the
        # finalizer holds the writing side, not the repository.
        self._finalizer = weakref.finalize(self, self._writing.close_quietly)
        writing = self._writing
        try:
            recover(
                self._root, writing.log.lock, writing.reporter, fsync, on_dead=self._abort_orphans
            )
        except OSError as exc:
            if exc.errno not in _READ_ONLY_ERRNOS:
                raise
            # A reader without write access still reads; it cannot end what
            # dead writers left running, so those scopes read as they were left.
            logger.warning(
                "%s cannot be written here (%s): writers that died are not recovered, and "
                "their unfinished trials and splits read PLANNED or RUNNING until a process "
                "that can write opens the directory",
                self._root,
                exc.strerror,
            )
        writing.reporter.surface()

    @property
    def writer_id(self) -> str:
        return self._writing.writer_id

    @property
    def flush_interval(self) -> float:
        return self._writing.flush_interval

    @property
    def location(self) -> str | None:
        return str(self._root)

    @property
    def directory(self) -> Path:
        """The local directory the listed parts are in (for S3: the spool)."""
        return self._root

    @property
    def derived_cache_directory(self) -> Path | None:
        """Where connections keep the derived tables of settled rounds (see ``_round_cache``)."""
        return self._root / "_cache" / "derived"

    def __repr__(self) -> str:
        return f"ParquetRepository({str(self._root)!r}, writer_id={self.writer_id!r})"

    # -- namespace and ids -------------------------------------------------
    def create(self, project: str, client: str | None = None) -> bool:
        """Claim the name's directory (``mkdir``, which one process wins), then write its row.

        A process killed between the two leaves the name listed without a
        catalog row; ``list_names`` reads the directories, so it still lists it.
        """
        self._before_write()
        validate_name(project, "project")
        if client is not None:
            validate_name(client, "client")
        if not self._ids.create(project, client):
            return False
        row = {"client": client, "created_at": now_us(), "writer": self.writer_id}
        data = pa.Table.from_pylist([row], schema=table_schema("catalog"))
        with self._writing.mutex:
            self._writing.log.write_part("catalog", (project,), data)
        return True

    def list_names(self, project: str | None = None) -> list[str]:
        if project is not None:
            validate_name(project, "project")
        return self._ids.list_names(project)

    def list_ids(self, project: str, client: str, round: int | None = None) -> list[int]:
        _check_parent(project, client, round)
        return self._ids.list_ids(project, client, round)

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        _check_parent(project, client, round)
        return self._ids.allocate(project, client, round)

    def claim(self, project: str, client: str, round: int | None, number: int) -> bool:
        _check_parent(project, client, round)
        return self._ids.claim(project, client, round, number)

    # -- writing -------------------------------------------------------------
    def metric_buffer(
        self,
        key: RoundKey,
        trial: int,
        split: int,
        metric: str,
        offsets: tuple[int, int] = (0, 0),
        attempt: int = 0,
    ) -> MetricBuffer:
        self._before_write()
        self._check_key(key)
        writing = self._writing
        writing.start()
        with deferred_signals(), writing.mutex:
            buffer = MetricBuffer(trial, split, metric, *offsets, attempt)
            return writing.staging.open_buffer(key, buffer)

    def release_buffer(self, key: RoundKey, buffer: MetricBuffer) -> None:
        writing = self._writing
        with deferred_signals():
            with writing.mutex:
                wrote = buffer.has_pending()
                if wrote:
                    writing.write(key)
                writing.staging.close_buffer(key, buffer)
            if wrote:
                writing.settle()

    def append_event(self, key: RoundKey, **fields: Any) -> None:
        self._before_write()
        self._check_key(key)
        writing = self._writing
        writing.start()
        with deferred_signals(), writing.mutex:
            writing.staging.append_event(key, fields)

    def observe_clock(self, stamp: int | None) -> None:
        self._writing.staging.clock.observe(stamp)

    def flush(self, key: RoundKey | None = None) -> None:
        """Append the staged rows of ``key`` (every partition when None) to the log.

        Raises:
            StorageWriteError: the append failed (no space, file too large,
                read-only); the rows stay staged for the next flush.
        """
        self._writing.start()
        with deferred_signals():
            self._writing.flush(key)

    def checkpoint(self) -> None:
        """Turn this writer's log segments into Parquet parts (rows still staged stay there).

        A failure is reported as a ``HousekeepingWarning``; the rows stay in the log.
        """
        with deferred_signals():
            self._writing.checkpoint()

    def close(self) -> None:
        """Write out, checkpoint, wait for compaction, drop the writer lock.

        Raises:
            StorageWriteError: the last write-out failed; the rows stay staged
                (the next ``flush`` or the exit handler tries again).
        """
        with deferred_signals():
            self._writing.close()
        self._ids.close()

    # -- reading -------------------------------------------------------------
    def parquet_files(self, table: str) -> list[str]:
        """The visible parts of ``table``.

        ``parquet_files`` and ``pending`` called one after the other on the
        same table (in either order) answer from one snapshot, so a
        checkpoint running in between cannot make rows vanish or appear
        twice. A listed part may still be deleted by a concurrent compaction
        before it is read: on a missing file, read both again.
        """
        return list(self._paired(table, "files")[0])

    def pending(self, table: str) -> pa.Table:
        """Rows in log segments without a part yet, and rows still buffered here.

        See ``parquet_files`` for how the two calls pair up.
        """
        return concat(table, self._paired(table, "pending")[1])

    def snapshot(self, table: str) -> tuple[list[str], pa.Table]:
        """``(parquet_files, pending)`` of ``table`` at one moment, in one call."""
        files, batches = self._read(table)
        return files, concat(table, batches)

    def compact(self) -> int:
        """Merge every writer's parts per partition, as far as they go; see ``store.compact``.

        Raises:
            CorruptFileError: a foreign or unreadable file in the data directory.
        """
        return compact(self._root, self._writing.log.lock, fsync=self._fsync)

    # -- internals -----------------------------------------------------------
    def _abort_orphans(self, dead: WriterInfo) -> None:
        """End ABORTED the trials and splits ``dead`` left running; in Parquet on return."""
        events = read_partitions(self._root, "events", self.writer_id, self._checker, dead.writer)
        orphans = orphaned_scopes(events, dead.writer)
        if not orphans:
            return
        metrics = read_partitions(self._root, "metrics", self.writer_id, self._checker, dead.writer)
        me = WriterInfo(self.writer_id, os.getpid(), socket.gethostname())
        writing = self._writing
        keys = set()
        with writing.mutex:
            for scope in orphans:
                writing.staging.clock.observe(scope["order_clock"])
                key = (scope["project"], scope["client"], scope["round"])
                if scope["level"] == "split":
                    in_round = _same_round(metrics, key)
                    for fields in summary_fields(scope, _same_round(events, key), in_round):
                        writing.staging.append_event(key, fields)
                writing.staging.append_event(key, abort_fields(scope, dead, me))
                keys.add(key)
        for key in sorted(keys):
            writing.write(key)
        writing.checkpoint()  # plain Parquet readers see them at once too
        logger.warning(
            "%s died with %d trials and splits unfinished in %s; they are now ABORTED",
            dead.describe(),
            len(orphans),
            self._root,
        )

    def _paired(self, table: str, side: str) -> tuple[list[str], list[pa.RecordBatch]]:
        stashed = self._stash.pop(table, None)
        if stashed is not None and stashed[0] != side:
            return stashed[1]
        snapshot = self._read(table)
        self._stash[table] = (side, snapshot)
        return snapshot

    def _before_write(self) -> None:
        """Called as ``create``, ``metric_buffer`` and ``append_event`` begin (a subclass hook)."""

    def _read(self, table: str) -> tuple[list[str], list[pa.RecordBatch]]:
        return self._writing.read(table, self._checker)

    def _check_key(self, key: RoundKey) -> None:
        if key not in self._keys:
            _check_parent(*key)
            self._keys.add(key)


def _same_round(table: pa.Table, key: RoundKey) -> pa.Table:
    """The rows of ``table`` in the round partition ``key``."""
    project, client, round_ = key
    mask = pc.and_(
        pc.and_(pc.equal(table["project"], project), pc.equal(table["client"], client)),
        pc.equal(table["round"], round_),
    )
    return table.filter(mask)


def _check_parent(project: str, client: str, round: int | None) -> None:
    """Names and round numbers become directory names: refuse what could escape."""
    validate_name(project, "project")
    validate_name(client, "client")
    if round is not None and (isinstance(round, bool) or not isinstance(round, int) or round < 0):
        raise ValueError(f"a round number is an int >= 0, got {round!r}")
