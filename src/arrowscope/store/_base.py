"""The repository contract: what every storage backend guarantees.

A repository stores three tables (``metrics``, ``events``, ``catalog``; see
``schemas/``) partitioned by project › client › round, and hands out round
and trial numbers. ``ParquetRepository`` keeps them in a directory,
``InMemoryRepository`` in memory; both pass the same contract tests.

Guarantees, for every implementation:

* **Appends only.** Rows are never rewritten or deleted; the state of a scope
  is its latest event: greatest ``clock`` (a hybrid logical clock stamped by
  ``append_event``, see ``observe_clock``), then ``writer``, then ``seq``.
* **Logging is an append.** ``MetricBuffer`` values cost no I/O; they reach
  the backend on ``flush``.
* **Durability.** After ``flush()`` returns, the flushed rows survive the
  process being killed (``kill -9``); with ``fsync=True`` also a power loss.
  ``checkpoint()`` turns them into Parquet parts that plain readers see.
* **Write errors lose nothing.** A failed ``flush`` raises
  ``StorageWriteError`` (naming the path, the cause and a remedy) and keeps
  the unwritten rows; the next successful ``flush`` writes them exactly once.
  ``checkpoint()`` and compaction never raise for I/O: they warn once with
  ``HousekeepingWarning`` and leave the rows in the log, where readers still
  find them. Creating the catalog entry (``create``) raises the plain
  ``OSError``: nothing was recorded yet.
* **Read your writes.** ``pending(table)`` plus ``parquet_files(table)`` hold
  every row this process appended, flushed or not, and every row other
  processes flushed; no row is seen twice, whatever compaction or
  checkpoints run concurrently.
* **Unique ids.** ``allocate`` never returns the same number twice for the
  same parent, across processes sharing a directory; numbers are dense from
  0 with one writer. ``claim`` takes one exact number, and of several
  processes claiming it at once at most one gets True (exactly one, but for
  a trial number claimed just as its block of 1,000 is packed: see
  ``_ids``); a number that ``allocate`` or ``claim`` handed out is never
  handed out again.
* **Signals.** Sections that move rows between the staging area and the
  backend run inside ``arrowscope._signals.deferred_signals()``, so a
  SIGTERM raised as an exception never loses rows half-way.
* **Threads.** The writing methods (``create``, ``allocate``, ``claim``,
  ``metric_buffer``, ``release_buffer``, ``append_event``, ``flush``,
  ``checkpoint``) may be called from several threads at once; each
  ``MetricBuffer`` is appended to by one thread. A ``parquet_files`` /
  ``pending`` pair is one thread's at a time: in-process readers share one
  ``reports.Reader``, which serializes them.
* **Fork.** A forked child never writes through its parent's repository
  object: the first write in the child opens its own writer (new id, new log,
  new locks); rows the parent had not flushed stay the parent's.
* **Symlinks.** Part files are opened through file descriptors pinned at
  listing time, so a reader's answer survives a concurrent compaction.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from arrowscope.store._buffer import MetricBuffer

RoundKey = tuple[str, str, int]


@runtime_checkable
class Repository(Protocol):
    """Storage for the metrics, events and catalog tables, and the id allocator."""

    @property
    def writer_id(self) -> str:
        """The id of this writing process, stamped in every event row and part name."""
        ...

    @property
    def location(self) -> str | None:
        """The directory the data lives in, or ``None`` in memory."""
        ...

    # -- namespace and ids -------------------------------------------------
    def create(self, project: str, client: str | None = None) -> bool:
        """Record that a project (or a client of it) exists; False if it already did."""
        ...

    def list_names(self, project: str | None = None) -> list[str]:
        """Projects (no argument) or the clients of ``project``, sorted by name."""
        ...

    def list_ids(self, project: str, client: str, round: int | None = None) -> list[int]:
        """Round numbers of a client, or trial numbers of a round, ascending."""
        ...

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        """Claim the next round number (``round=None``) or trial number of ``round``."""
        ...

    def claim(self, project: str, client: str, round: int | None, number: int) -> bool:
        """Claim exactly ``number`` as a round (``round=None``) or a trial of ``round``.

        Returns:
            True if this call took it; False if it was taken before (by any
            process). Processes use it to agree: the one that gets True
            creates the scope, the others join it.

        Raises:
            ValueError: ``number`` is not an int >= 0.
        """
        ...

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
        """Open a buffer for the values of one (trial, split, metric).

        ``offsets`` are the train and valid values already stored, so epochs
        continue after them; ``attempt`` is the split's record the values
        belong to (``events.attempt``). The buffer stays registered (its pending rows are
        flushed and visible to readers) until ``release_buffer``.
        """
        ...

    def release_buffer(self, key: RoundKey, buffer: MetricBuffer) -> None:
        """Stop tracking ``buffer``; rows it still holds unflushed are flushed first."""
        ...

    def append_event(self, key: RoundKey, **fields: Any) -> None:
        """Buffer one ``events`` row (``at``, ``clock``, ``writer`` and ``seq`` are filled in)."""
        ...

    def observe_clock(self, stamp: int | None) -> None:
        """Make every later event's ``clock`` greater than ``stamp`` (a stamp read back)."""
        ...

    def flush(self, key: RoundKey | None = None) -> None:
        """Make every buffered row of ``key`` (all partitions when None) durable."""
        ...

    def checkpoint(self) -> None:
        """Turn what was flushed into Parquet parts visible to plain readers."""
        ...

    def close(self) -> None:
        """Flush, checkpoint and release locks; the repository stays readable."""
        ...

    # -- reading -------------------------------------------------------------
    def parquet_files(self, table: str) -> list[str]:
        """The visible Parquet parts of ``table`` (never two covering the same rows)."""
        ...

    def pending(self, table: str) -> pa.Table:
        """Rows not in ``parquet_files`` yet, with the partition columns first."""
        ...

    def compact(self) -> int:
        """Merge small parts; returns the number of parts merged away."""
        ...
