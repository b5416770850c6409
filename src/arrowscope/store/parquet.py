"""``ParquetRepository``: the repository contract over a local directory."""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
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
from arrowscope.store._reader import PartChecker, Snapshot, read_partitions, read_snapshot
from arrowscope.store._recovery import recover
from arrowscope.store._staging import RoundKey, Staging, concat, new_writer_id, with_partition
from arrowscope.store._ticker import Ticker, checkpoint_if_due, write_out
from arrowscope.store._writer import LogWriter
from arrowscope.store.compact import compact

logger = logging.getLogger(__name__)

_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class ParquetRepository:
    """Hive-partitioned Parquet files under one directory, written through a log.

    Layout (``<p>``/``<c>`` percent-encoded, see ``location.encode_partition_value``)::

        <root>/metrics/project=<p>/client=<c>/round=<n>/part-<writer>-<first>-<last>.parquet
        <root>/metrics/project=<p>/client=<c>/round=<n>/log-<writer>-<segment>.arrows
        <root>/events/...                          (same as metrics)
        <root>/catalog/project=<p>/part-<writer>-<k>-<k>.parquet
        <root>/_ids/..., <root>/_names/...         round/trial numbers, namespaces
        <root>/_writers/<writer>.lock              held by each live writer

    ``flush`` appends the buffered rows to this writer's Arrow IPC log segment
    of the partition (a ``write`` to the kernel: it survives ``kill -9``;
    ``fsync=True`` also survives a power loss). A daemon thread does the same
    every ``flush_interval`` seconds for scopes that are still running, so a
    crash loses at most that much of what they logged. Checkpoints turn
    segments into Parquet parts, atomically; they run once ``flush_interval``
    seconds have passed since the last one (from that thread or a ``flush``),
    when a segment grows large, on ``close`` and at interpreter exit. Opening
    a repository recovers the segments of writers that are gone. Plain
    readers of ``**/*.parquet`` are at most about ``flush_interval`` behind a
    live writer.

    A foreign or unreadable file in the data tree -- a ``.parquet`` file that
    is not a readable arrowscope part, or a log segment that is not an Arrow
    stream of the table -- makes reads raise ``CorruptFileError`` naming it,
    rather than be skipped: plain DuckDB over ``**/*.parquet`` would read such
    a file, so silently skipping it would make arrowscope and DuckDB disagree.
    arrowscope never rewrites or deletes a file it did not write. Other files
    (not ``.parquet``, not named like a log) are ignored.

    Locks use ``fcntl.flock``: POSIX systems only.

    Args:
        path: The directory (created if missing).
        flush_interval: Seconds between background write-outs and checkpoints
            (0: only at scope exits, ``flush`` and ``close``).
        fsync: fsync log appends, parts and id claims (slower; survives power loss).
        auto_compact_parts: Compact a partition once this writer wrote more
            parts than this into it (0 disables automatic compaction).

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
        auto_compact_parts: int = 32,
    ) -> None:
        if flush_interval < 0:
            raise ValueError(f"flush_interval must be >= 0 seconds, got {flush_interval!r}")
        if auto_compact_parts < 0:
            raise ValueError(
                f"auto_compact_parts must be >= 0 (0: never), got {auto_compact_parts!r}"
            )
        self._root = Path(path).absolute()
        if self._root.exists() and not self._root.is_dir():
            raise NotADirectoryError(
                f"{str(path)!r} is a file: a ParquetRepository needs a directory "
                "(it is created if missing)"
            )
        self._root.mkdir(parents=True, exist_ok=True)
        self.flush_interval = flush_interval
        self._fsync = fsync
        self._staging = Staging(new_writer_id())
        self._log = LogWriter(self._root, self.writer_id, fsync, auto_compact_parts)
        self._ids = IdAllocator(self._root, fsync)
        self._checker = PartChecker()
        self._keys: set[RoundKey] = set()
        self._stash: dict[str, tuple[str, Snapshot]] = {}
        self._lock = threading.RLock()
        self._ticker = (
            Ticker(self._staging, self._log, self._lock, flush_interval) if flush_interval else None
        )
        # At exit (or when garbage-collected) flush and checkpoint; the
        # finalizer holds the writer state, not the repository.
        self._finalizer = weakref.finalize(
            self, _shutdown_quietly, self._staging, self._log, self._lock, self._ticker
        )
        try:
            recover(self._root, self._log.lock, fsync, on_dead=self._abort_orphans)
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

    @property
    def writer_id(self) -> str:
        return self._staging.writer_id

    @property
    def location(self) -> str | None:
        return str(self._root)

    def __repr__(self) -> str:
        return f"ParquetRepository({str(self._root)!r}, writer_id={self.writer_id!r})"

    # -- namespace and ids -------------------------------------------------
    def create(self, project: str, client: str | None = None) -> bool:
        """Claim the name's directory (``mkdir``, which one process wins), then write its row.

        A process killed between the two leaves the name listed without a
        catalog row; ``list_names`` reads the directories, so it still lists it.
        """
        validate_name(project, "project")
        if client is not None:
            validate_name(client, "client")
        if not self._ids.create(project, client):
            return False
        row = {"client": client, "created_at": now_us(), "writer": self.writer_id}
        data = pa.Table.from_pylist([row], schema=table_schema("catalog"))
        with deferred_signals(), self._lock:
            self._log.write_part("catalog", (project,), data)
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
        self._check_key(key)
        with deferred_signals(), self._lock:
            buffer = MetricBuffer(trial, split, metric, *offsets, attempt)
            return self._staging.open_buffer(key, buffer)

    def release_buffer(self, key: RoundKey, buffer: MetricBuffer) -> None:
        with deferred_signals(), self._lock:
            if buffer.has_pending():
                self.flush(key)
            self._staging.close_buffer(key, buffer)

    def append_event(self, key: RoundKey, **fields: Any) -> None:
        self._check_key(key)
        with deferred_signals(), self._lock:
            self._staging.append_event(key, fields)

    def observe_clock(self, stamp: int | None) -> None:
        self._staging.clock.observe(stamp)

    def flush(self, key: RoundKey | None = None) -> None:
        with deferred_signals(), self._lock:
            write_out(self._staging, self._log, None if key is None else [key])
            checkpoint_if_due(self._log, self.flush_interval)

    def checkpoint(self) -> None:
        """Turn this writer's log segments into Parquet parts (rows still staged stay there)."""
        with deferred_signals(), self._lock:
            self._log.checkpoint()

    def close(self) -> None:
        _shutdown(self._staging, self._log, self._lock, self._ticker)

    # -- reading -------------------------------------------------------------
    def parquet_files(self, table: str) -> list[str]:
        """The visible parts of ``table``.

        ``parquet_files`` and ``pending`` called one after the other on the
        same table (in either order) answer from one snapshot, so a
        checkpoint running in between cannot make rows vanish or appear
        twice. A listed part may still be deleted by a concurrent compaction
        before it is read: on a missing file, read both again.
        """
        return list(self._paired(table, "files").files)

    def pending(self, table: str) -> pa.Table:
        """Rows in log segments without a part yet, and rows still buffered here.

        See ``parquet_files`` for how the two calls pair up.
        """
        return concat(table, self._paired(table, "pending").batches)

    def snapshot(self, table: str) -> tuple[list[str], pa.Table]:
        """``(parquet_files, pending)`` of ``table`` at one moment, in one call."""
        snapshot = self._read(table)
        return snapshot.files, concat(table, snapshot.batches)

    def compact(self) -> int:
        """Merge the parts of every writer per partition; see ``store.compact``."""
        with deferred_signals(), self._lock:
            return compact(self._root, self._log.lock, fsync=self._fsync)

    # -- internals -----------------------------------------------------------
    def _abort_orphans(self, dead: WriterInfo) -> None:
        """End ABORTED the trials and splits ``dead`` left running; durable on return."""
        events = read_partitions(self._root, "events", self.writer_id, self._checker, dead.writer)
        orphans = orphaned_scopes(events, dead.writer)
        if not orphans:
            return
        metrics = read_partitions(self._root, "metrics", self.writer_id, self._checker, dead.writer)
        me = WriterInfo(self.writer_id, os.getpid(), socket.gethostname())
        keys = set()
        with self._lock:
            for scope in orphans:
                self._staging.clock.observe(scope["order_clock"])
                key = (scope["project"], scope["client"], scope["round"])
                if scope["level"] == "split":
                    in_round = _same_round(metrics, key)
                    for fields in summary_fields(scope, _same_round(events, key), in_round):
                        self._staging.append_event(key, fields)
                self._staging.append_event(key, abort_fields(scope, dead, me))
                keys.add(key)
            write_out(self._staging, self._log, sorted(keys))
            self._log.checkpoint()
        logger.warning(
            "%s died with %d trials and splits unfinished in %s; they are now ABORTED",
            dead.describe(),
            len(orphans),
            self._root,
        )

    def _paired(self, table: str, side: str) -> Snapshot:
        stashed = self._stash.pop(table, None)
        if stashed is not None and stashed[0] != side:
            return stashed[1]
        snapshot = self._read(table)
        self._stash[table] = (side, snapshot)
        return snapshot

    def _read(self, table: str) -> Snapshot:
        """The parts and the rows outside them, this writer's own rows included.

        Under the lock, so that no checkpoint of this writer (the background
        thread's) moves rows from its log into a part between the listing of
        the parts and the taking of its rows: they would be in neither.
        """
        with deferred_signals(), self._lock:
            snapshot = read_snapshot(self._root, table, self.writer_id, self._checker)
            own = [*self._log.rows(table), *self._staging.peek(table)]
        rows = [with_partition(table, k, b) for k, b in own]
        return Snapshot(snapshot.files, snapshot.batches + rows)

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


def _shutdown(
    staging: Staging, log: LogWriter, lock: threading.RLock, ticker: Ticker | None
) -> None:
    """Stop the background writer, flush everything staged, checkpoint, drop the writer lock."""
    if ticker is not None:
        ticker.stop()
    with deferred_signals(), lock:
        try:
            write_out(staging, log)
            log.checkpoint()
        finally:
            log.release()


def _shutdown_quietly(
    staging: Staging, log: LogWriter, lock: threading.RLock, ticker: Ticker | None
) -> None:
    # Runs at interpreter exit or garbage collection, where nobody can catch.
    try:
        _shutdown(staging, log, lock, ticker)
    except Exception:
        logger.exception("could not checkpoint %s at exit; the next writer recovers it", log.root)
