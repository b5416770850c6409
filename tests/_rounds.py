"""Tiny rounds written through a repository, event by event, for the query tests.

``RoundWriter`` writes exactly what the scope layer writes (the protocol the
views are built on): round events, trial and split lifecycles (PLANNED,
RUNNING, a terminal status), one metric event per metric created in a split,
and values through ``MetricBuffer``. ``PartsRepository`` is a small
repository whose flushed rows land in Parquet parts laid out as DESIGN.md
says, so the same tests read real files.

Example:
    >>> repo = InMemoryRepository()
    >>> rnd = RoundWriter(repo, main_metric="mse")
    >>> rnd.trial(0, {"lr": 0.5}, [split([0.5, 0.25])])
    >>> rnd.trial(1, {"lr": 0.1}, [split([1.0], status="FAILED")], status="FAILED")
    >>> repo.flush()
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrowscope.location import encode_partition_value
from arrowscope.schema import parquet_metadata, partition_columns, table_schema
from arrowscope.store import InMemoryRepository, MetricBuffer, Repository, RoundKey

KEY: RoundKey = ("p", "c", 0)
TERMINAL = ("SUCCESS", "FAILED", "ABORTED")


class Clock:
    """Strictly increasing UTC microseconds, so event order never depends on luck."""

    def __init__(self) -> None:
        self._last = 0

    def us(self) -> int:
        self._last = max(time.time_ns() // 1000, self._last + 1)
        return self._last


@dataclass
class Split:
    """What one split logs: values per metric and phase, its direction per metric, its end."""

    valid: dict[str, list[float]] = field(default_factory=dict)
    train: dict[str, list[float]] = field(default_factory=dict)
    hib: dict[str, bool] = field(default_factory=dict)
    status: str | None = "SUCCESS"
    error: str | None = None
    number: int | None = None


def split(
    valid: Sequence[float] = (),
    *,
    metric: str = "mse",
    hib: bool = False,
    train: Sequence[float] | None = None,
    status: str | None = "SUCCESS",
    error: str | None = None,
    number: int | None = None,
    more: Mapping[str, tuple[Sequence[float], bool]] | None = None,
) -> Split:
    """One split logging ``valid`` (and ``train``, by default the same) for ``metric``.

    ``more`` adds metrics: ``{"acc": ([0.5, 0.75], True)}`` logs acc (HIB) too.
    ``status=None`` leaves the split RUNNING.
    """
    out = Split(status=status, error=error, number=number)
    metrics = {metric: (valid, hib), **(more or {})}
    for name, (values, direction) in metrics.items():
        out.valid[name] = list(values)
        out.train[name] = list(values if train is None or name != metric else train)
        out.hib[name] = direction
    return out


class RoundWriter:
    """Writes one round's events and values through ``repo``, in protocol order."""

    def __init__(
        self,
        repo: Repository,
        key: RoundKey = KEY,
        main_metric: str | None = "mse",
        clock: Clock | None = None,
    ) -> None:
        self.repo = repo
        self.key = key
        self.clock = clock or Clock()
        self.records: dict[int, int] = {}
        repo.create(key[0])
        repo.create(key[0], key[1])
        self.set_main_metric(main_metric)

    def set_main_metric(self, name: str | None) -> None:
        self.event("round", main_metric_name=name)

    def event(self, level: str, **fields: Any) -> None:
        self.repo.append_event(self.key, level=level, at=self.clock.us(), **fields)

    def trial(
        self,
        number: int,
        hyperparams: Mapping[str, Any] | None = None,
        splits: Sequence[Split] = (),
        *,
        status: str | None = "SUCCESS",
        error: str | None = None,
        retrain: Split | None = None,
        planned: bool = True,
    ) -> None:
        """Plan (unless ``planned=False``: a re-entry), run ``splits``, end with ``status``.

        Validation splits are numbered from 0 unless a ``Split.number`` says
        otherwise; ``status=None`` leaves the trial RUNNING.
        """
        hp = json.dumps(dict(hyperparams or {}), sort_keys=True)
        if planned:
            self.event("trial", trial=number, status="PLANNED", hyperparams=hp)
        self.event("trial", trial=number, status="RUNNING", hyperparams=hp)
        for index, spec in enumerate(splits):
            self.split(number, spec.number if spec.number is not None else index, spec, hp)
        if retrain is not None:
            self.split(number, -1, retrain, hp)
        if status is not None:
            traceback = "Traceback (most recent call last): ..." if status != "SUCCESS" else None
            self.event(
                "trial", trial=number, status=status, hyperparams=hp, error=error,
                traceback=traceback,
            )  # fmt: skip

    def split(self, trial: int, number: int, spec: Split, hyperparams: str = "{}") -> None:
        """One split's lifecycle: PLANNED, RUNNING, metric events and values, its end.

        Each call for the retrain split (-1) of a trial starts a new record of it.
        """
        record = 0
        if number == -1:
            record = self.records[trial] = self.records.get(trial, -1) + 1
        common = {"trial": trial, "split": number, "attempt": record, "hyperparams": hyperparams}
        self.event("split", status="PLANNED", **common)
        self.event("split", status="RUNNING", **common)
        for metric in sorted(set(spec.valid) | set(spec.train)):
            self.event(
                "metric", trial=trial, split=number, attempt=record, metric=metric,
                higher_is_better=spec.hib.get(metric, True),
            )  # fmt: skip
            self.values(
                trial, number, metric, spec.train.get(metric, []), spec.valid.get(metric, []),
                record,
            )  # fmt: skip
        if spec.status is not None:
            self.event("split", status=spec.status, error=spec.error, **common)

    def values(
        self,
        trial: int,
        split: int,
        metric: str,
        train: Sequence[float],
        valid: Sequence[float],
        record: int = 0,
    ) -> None:
        """Log values the way ``MetricResults`` does: value first, then its time stamp."""
        buf: MetricBuffer = self.repo.metric_buffer(self.key, trial, split, metric, attempt=record)
        for value in train:
            buf.train.append(value)
            buf.train_at.append(self.clock.us() * 1000)
        for value in valid:
            buf.valid.append(value)
            buf.valid_at.append(self.clock.us() * 1000)
        self.repo.release_buffer(self.key, buf)


class PartsRepository:
    """A repository whose flushed rows become Parquet parts in ``root``.

    Writing goes through an ``InMemoryRepository``; ``flush`` writes every row
    not yet in a part to ``<root>/<table>/project=<p>/client=<c>/round=<r>/
    part-<writer>-<a:08d>-<b:08d>.parquet`` (the layout of DESIGN.md);
    ``compact`` merges each partition's parts into one file and deletes them.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._inner = InMemoryRepository()
        self._written: dict[str, int] = {"metrics": 0, "events": 0, "catalog": 0}
        self._parts: dict[str, list[str]] = {"metrics": [], "events": [], "catalog": []}
        self._part_seq = 0

    def __getattr__(self, name: str) -> Any:
        # writer_id, location-independent namespace and id methods, buffers, events
        return getattr(self._inner, name)

    @property
    def location(self) -> str | None:
        return str(self.root)

    def release_buffer(self, key: RoundKey, buffer: MetricBuffer) -> None:
        self._inner.release_buffer(key, buffer)

    def flush(self, key: RoundKey | None = None) -> None:
        self._inner.flush()
        for table in self._written:
            rows = self._inner.pending(table).slice(self._written[table])
            self._written[table] += rows.num_rows
            self._write_parts(table, rows)

    def checkpoint(self) -> None:
        self.flush()

    def close(self) -> None:
        self.flush()

    def parquet_files(self, table: str) -> list[str]:
        return list(self._parts[table])

    def pending(self, table: str) -> pa.Table:
        return self._inner.pending(table).slice(self._written[table])

    def compact(self) -> int:
        merged = 0
        for table, parts in self._parts.items():
            by_dir: dict[Path, list[str]] = {}
            for part in parts:
                by_dir.setdefault(Path(part).parent, []).append(part)
            kept: list[str] = []
            for directory, group in by_dir.items():
                if len(group) == 1:
                    kept.extend(group)
                    continue
                merged_table = pa.concat_tables([pq.read_table(p) for p in group])
                kept.append(self._write_part(directory, merged_table.cast(table_schema(table))))
                for part in group:
                    Path(part).unlink()
                merged += len(group)
            self._parts[table] = kept
        return merged

    def _write_parts(self, table: str, rows: pa.Table) -> None:
        keys = partition_columns(table)
        if rows.num_rows == 0:
            return
        for values in rows.select(list(keys)).group_by(list(keys)).aggregate([]).to_pylist():
            mask = None
            for k in keys:
                cond = pc.equal(rows[k], pa.scalar(values[k], rows.schema.field(k).type))
                mask = cond if mask is None else pc.and_(mask, cond)
            part = rows.filter(mask).drop_columns(list(keys)).cast(table_schema(table))
            directory = self.root / table
            for k in keys:
                directory /= f"{k}={encode_partition_value(str(values[k]))}"
            self._parts[table].append(self._write_part(directory, part))

    def _write_part(self, directory: Path, rows: pa.Table) -> str:
        self._part_seq += 1
        directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{self.writer_id}-{self._part_seq:08d}-{self._part_seq:08d}.parquet"
        path = directory / name
        table = rows.replace_schema_metadata(parquet_metadata(_table_of(directory, self.root)))
        pq.write_table(table, path)
        return str(path)


def _table_of(directory: Path, root: Path) -> str:
    return directory.relative_to(root).parts[0]


def _parquet_repository(root: Path) -> Repository:
    from arrowscope.store.parquet import ParquetRepository

    repository: Repository = ParquetRepository(root)
    return repository


def _has_parquet_repository() -> bool:
    try:
        import arrowscope.store.parquet  # noqa: F401
    except ImportError:
        return False
    return True


#: Repository factories by name, for ``pytest.fixture(params=...)``. The root
#: directory names hold a quote, blanks and glob characters on purpose.
REPOSITORIES: dict[str, Any] = {
    "memory": lambda tmp: InMemoryRepository(),
    "parts": lambda tmp: PartsRepository(tmp / "it's [runs]*?"),
}
if _has_parquet_repository():
    REPOSITORIES["parquet"] = lambda tmp: _parquet_repository(tmp / "it's [runs]*?")


def publish(repo: Repository) -> None:
    """Make everything written so far durable and, where the backend has files, a Parquet part."""
    repo.flush()
    repo.checkpoint()
