"""A settled round's first questions, answered from its events in Python, without DuckDB.

Resuming a round and asking for its best trial -- ``resume_last_round()``
then ``get_best_trial_id()`` -- runs three report queries: ``round_state``,
``metric_direction`` and ``trial_best``. Through DuckDB they cost its import
and the building of the views, about 0.2 s, for what is, on a round of a few
hundred events, a few milliseconds of reading and grouping. So, until a
process first needs DuckDB, these three are answered here from the round's
event rows read with pyarrow.

Only a *settled* round is answered here: every event is in Parquet parts of
storage format 2 (no log segment, nothing buffered in this process, no
format 1 row, whose scores come from values), and there are at most
``MAX_EVENTS`` of them; any other round goes to DuckDB.

The rules are those of ``schemas/views`` -- ``_scope_state``,
``_metric_scope``, ``_split_summary``, ``_split_metric``, ``_trial_metric``,
``_metric_direction``, ``_round_state`` -- and of the queries of the same
names in ``schemas/queries``, restricted to what the three queries read. A
change to one of those files needs the same change here:
``tests/test_settled_answers.py`` runs both on rounds of every shape and
fails when they differ. Means add the split bests in split order, as the
oracle of SPEC §3 does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrowscope.store import Repository, partition_of

#: The report queries answered here.
QUERIES: Final = frozenset({"round_state", "metric_direction", "trial_best"})
#: Rounds with more events go to DuckDB: grouping them in Python would cost more.
MAX_EVENTS: Final = 50_000

_COLUMNS: Final = (
    "level",
    "trial",
    "split",
    "metric",
    "attempt",
    "status",
    "main_metric_name",
    "higher_is_better",
    "hyperparams",
    "valid_count",
    "valid_best",
    "valid_best_epoch",
    "at",
    "writer",
    "seq",
    "clock",
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[Any, ...]
# (level, trial, split, metric, metric record): one scope of _scope_state.
_ScopeKey = tuple[str, int | None, int | None, str | None, int | None]
_Order = tuple[int, str, int]


@dataclass
class _Scope:
    """One scope's state: its latest event and its lifecycle marks (``_scope_state``)."""

    latest: _Order
    status: str | None
    main_metric_name: str | None
    higher_is_better: bool | None
    record: int
    hyperparams: str | None
    hyperparams_order: _Order | None
    first: _Order
    first_at: int


class SettledRound:
    """The events of one settled round, and the three answers computed from them.

    Build one with ``from_parts(settled_parts(...))``; ``answer`` then takes
    a query name of ``QUERIES`` and its parameters, and returns DuckDB's rows.
    """

    def __init__(self, events: pa.Table) -> None:
        self._scopes: dict[_ScopeKey, _Scope] = {}
        self._chunks: list[Row] = []  # (trial, split, metric, record, best, best_epoch)
        self._min_at: int | None = None
        self._max_clock: int | None = None
        self._scores: dict[str, dict[int, tuple[bool | None, float | None]]] = {}
        if events.num_rows:
            self._group(events)

    @classmethod
    def from_parts(cls, paths: Sequence[str]) -> SettledRound | None:
        """The round whose events are the parts ``paths``; None when it must go to DuckDB.

        None for more than ``MAX_EVENTS`` events or rows of storage format 1,
        and when a part vanished meanwhile (a compaction): DuckDB, which
        retries, answers then.
        """
        tables = []
        rows = 0
        try:
            for path in paths:
                with pq.ParquetFile(path) as part:
                    rows += part.metadata.num_rows
                    if rows > MAX_EVENTS or not set(_COLUMNS) <= set(part.schema_arrow.names):
                        return None
                    tables.append(part.read(columns=list(_COLUMNS)))
        except FileNotFoundError:
            return None
        if not tables:
            return cls(pa.table({}))
        events = pa.concat_tables(tables)
        if events["clock"].null_count:
            return None  # format 1 rows
        return cls(events)

    def answer(self, query: str, params: dict[str, Any]) -> list[Row]:
        """The rows of report query ``query`` (one of ``QUERIES``) with ``params``."""
        if query == "round_state":
            return self._round_state()
        if query == "metric_direction":
            return self._metric_direction(params["metric"])
        if query == "trial_best":
            return self._trial_best(params["metric"], bool(params["higher"]))
        raise ValueError(f"{query!r} is not answered without DuckDB; these are: {sorted(QUERIES)}")

    # -- _scope_state and the summaries ---------------------------------------------------
    def _group(self, events: pa.Table) -> None:
        at = pc.cast(events["at"], pa.int64()).to_pylist()
        columns = [events[name].to_pylist() for name in _COLUMNS if name != "at"]
        self._min_at = min(at)
        self._max_clock = pc.max(events["clock"]).as_py()
        for row, at_us in zip(zip(*columns, strict=True), at, strict=True):
            (
                level,
                trial,
                split,
                metric,
                attempt,
                status,
                main_metric,
                higher,
                hyperparams,
                valid_count,
                valid_best,
                valid_best_epoch,
                writer,
                seq,
                clock,
            ) = row
            record = attempt or 0
            order = (clock, writer, seq)
            key = (level, trial, split, metric, record if level == "metric" else None)
            scope = self._scopes.get(key)
            if scope is None:
                scope = self._scopes[key] = _Scope(
                    order, status, main_metric, higher, record, None, None, order, at_us
                )
            elif order > scope.latest:
                scope.latest, scope.status, scope.record = order, status, record
                scope.main_metric_name, scope.higher_is_better = main_metric, higher
            if order < scope.first:
                scope.first, scope.first_at = order, at_us
            if hyperparams is not None and (
                scope.hyperparams_order is None or order > scope.hyperparams_order
            ):
                scope.hyperparams, scope.hyperparams_order = hyperparams, order
            if level == "metric" and valid_count is not None:
                self._chunks.append((trial, split, metric, record, valid_best, valid_best_epoch))

    def _state(
        self, level: str, trial: int | None = None, split: int | None = None
    ) -> _Scope | None:
        return self._scopes.get((level, trial, split, None, None))

    def _split_bests(self) -> dict[tuple[int, int, str], float | None]:
        """``_split_metric.best`` of every split x metric of its current record."""
        declared: dict[tuple[int, int, str], tuple[int, bool | None]] = {}
        for (level, trial, split, metric, record), scope in self._scopes.items():
            if level != "metric":
                continue
            assert trial is not None and split is not None and metric is not None
            split_state = self._state("split", trial, split)
            if record == (split_state.record if split_state else 0):
                declared[(trial, split, metric)] = (record or 0, scope.higher_is_better)
        chosen: dict[tuple[int, int, str], tuple[tuple[float, int], float]] = {}
        for trial, split, metric, record, best, epoch in self._chunks:
            found = declared.get((trial, split, metric))
            if found is None or found[0] != record or best is None:
                continue
            rank = (-best if found[1] else best, epoch)
            current = chosen.get((trial, split, metric))
            if current is None or rank < current[0]:
                chosen[(trial, split, metric)] = (rank, best)
        return {key: (c[1] if (c := chosen.get(key)) else None) for key in declared}

    def _trial_metrics(self, metric: str) -> dict[int, tuple[bool | None, float | None]]:
        """``_trial_metric`` of ``metric``: per trial, its direction and its score."""
        if metric in self._scores:
            return self._scores[metric]
        per_trial: dict[int, list[tuple[int, bool | None, float | None, str | None]]] = {}
        for (trial, split, name), best in self._split_bests().items():
            split_state = self._state("split", trial, split)
            if name != metric or split < 0 or split_state is None:
                continue
            higher = self._metric_direction_of(trial, split, name)
            per_trial.setdefault(trial, []).append((split, higher, best, split_state.status))
        out: dict[int, tuple[bool | None, float | None]] = {}
        for trial, splits in per_trial.items():
            splits.sort(key=lambda s: s[0])
            directions = [s[1] for s in splits if s[1] is not None]
            trial_state = self._state("trial", trial)
            score = None
            if trial_state is not None and trial_state.status == "SUCCESS":
                bests = [s[2] for s in splits if s[3] == "SUCCESS" and s[2] is not None]
                score = _mean(bests)
            out[trial] = (directions[-1] if directions else None, score)
        self._scores[metric] = out
        return out

    def _metric_direction_of(self, trial: int, split: int, metric: str) -> bool | None:
        split_state = self._state("split", trial, split)
        record = split_state.record if split_state else 0
        scope = self._scopes.get(("metric", trial, split, metric, record))
        return None if scope is None else scope.higher_is_better

    # -- the three queries ----------------------------------------------------------------
    def _round_state(self) -> list[Row]:
        if self._min_at is None:
            return []
        state = self._state("round")
        created = state.first_at if state is not None else self._min_at
        main = state.main_metric_name if state is not None else None
        return [(main, _datetime(created), self._max_clock)]

    def _metric_direction(self, metric: str) -> list[Row]:
        trials = self._trial_metrics(metric)
        if not trials:
            return []
        directed = [(trial, higher) for trial, (higher, _) in trials.items() if higher is not None]
        return [(max(directed)[1] if directed else None,)]

    def _trial_best(self, metric: str, higher: bool) -> list[Row]:
        eligible = []
        for trial, (_, score) in self._trial_metrics(metric).items():
            state = self._state("trial", trial)
            if state is not None and state.status == "SUCCESS" and score is not None:
                eligible.append(((-score if higher else score), trial, state, score))
        if not eligible:
            return []
        _, trial, state, score = min(eligible, key=lambda e: (e[0], e[1]))
        return [(trial, state.status, state.hyperparams, score)]


def settled_parts(
    repository: Repository, project: str, client: str, round: int
) -> tuple[str, ...] | None:
    """The event parts of a settled round (see the module docstring); None if it is not."""
    files = repository.parquet_files("events")
    pending = repository.pending("events")  # the same snapshot (see parquet_files)
    if pending.num_rows and _has_round(pending, project, client, round):
        return None
    return tuple(sorted(f for f in files if partition_of(f, "events") == (project, client, round)))


def _has_round(pending: pa.Table, project: str, client: str, round: int) -> bool:
    mask = pc.and_(
        pc.and_(pc.equal(pending["project"], project), pc.equal(pending["client"], client)),
        pc.equal(pending["round"], round),
    )
    return bool(pc.any(mask).as_py())


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _datetime(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)
