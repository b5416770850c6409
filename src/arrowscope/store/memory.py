"""``InMemoryRepository``: the repository contract with nothing written to disk."""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa

from arrowscope._signals import deferred_signals
from arrowscope.schema import table_schema
from arrowscope.store._buffer import MetricBuffer, now_us
from arrowscope.store._staging import RoundKey, Staging, concat, new_writer_id, with_partition


class InMemoryRepository:
    """Keeps every flushed batch in memory; ids come from locked sets of taken numbers.

    Every method takes one lock (re-entrant), so threads may share it; logging
    a value appends to a ``MetricBuffer`` and takes no lock.

    Example:
        >>> repo = InMemoryRepository()
        >>> repo.allocate("p", "c"), repo.allocate("p", "c")
        (0, 1)
    """

    def __init__(self) -> None:
        self._staging = Staging(new_writer_id())
        self._lock = threading.RLock()
        self._stored: dict[str, list[pa.RecordBatch]] = {"metrics": [], "events": [], "catalog": []}
        self._names: dict[str, set[str]] = {}
        self._ids: dict[tuple[Any, ...], set[int]] = {}

    @property
    def writer_id(self) -> str:
        return self._staging.writer_id

    @property
    def location(self) -> str | None:
        return None

    def create(self, project: str, client: str | None = None) -> bool:
        with deferred_signals(), self._lock:
            created = project not in self._names
            clients = self._names.setdefault(project, set())
            if client is not None:
                created = client not in clients
                clients.add(client)
            if created:
                row = {"client": client, "created_at": now_us(), "writer": self.writer_id}
                batch = pa.RecordBatch.from_pylist([row], schema=table_schema("catalog"))
                self._stored["catalog"].append(with_partition("catalog", (project,), batch))
            return created

    def list_names(self, project: str | None = None) -> list[str]:
        with self._lock:
            if project is None:
                return sorted(self._names)
            return sorted(self._names.get(project, ()))

    def list_ids(self, project: str, client: str, round: int | None = None) -> list[int]:
        with self._lock:
            return sorted(self._ids.get((project, client, round), ()))

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        with self._lock:
            taken = self._ids.setdefault((project, client, round), set())
            number = max(taken) + 1 if taken else 0
            taken.add(number)
            return number

    def claim(self, project: str, client: str, round: int | None, number: int) -> bool:
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"an id to claim is an int >= 0, got {number!r}")
        with self._lock:
            taken = self._ids.setdefault((project, client, round), set())
            if number in taken:
                return False
            taken.add(number)
            return True

    def metric_buffer(
        self,
        key: RoundKey,
        trial: int,
        split: int,
        metric: str,
        offsets: tuple[int, int] = (0, 0),
        attempt: int = 0,
    ) -> MetricBuffer:
        with self._lock:
            buffer = MetricBuffer(trial, split, metric, *offsets, attempt)
            return self._staging.open_buffer(key, buffer)

    def release_buffer(self, key: RoundKey, buffer: MetricBuffer) -> None:
        with deferred_signals(), self._lock:
            if buffer.has_pending():
                self.flush(key)
            self._staging.close_buffer(key, buffer)

    def append_event(self, key: RoundKey, **fields: Any) -> None:
        with deferred_signals(), self._lock:
            self._staging.append_event(key, fields)

    def observe_clock(self, stamp: int | None) -> None:
        self._staging.clock.observe(stamp)

    def flush(self, key: RoundKey | None = None) -> None:
        # Rows taken from the staging area must reach the stored list: no
        # signal may raise in between.
        with deferred_signals(), self._lock:
            for k in [key] if key is not None else self._staging.keys():
                for table, batches in self._staging.take(k).items():
                    self._stored[table].extend(with_partition(table, k, b) for b in batches)

    def checkpoint(self) -> None:
        self.flush()

    def close(self) -> None:
        self.flush()

    def parquet_files(self, table: str) -> list[str]:
        return []

    def pending(self, table: str) -> pa.Table:
        with self._lock:
            staged = [with_partition(table, k, b) for k, b in self._staging.peek(table)]
            return concat(table, self._stored[table] + staged)

    def compact(self) -> int:
        return 0
