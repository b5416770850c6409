"""A round's trials as stored, read incrementally: only what changed since the last read.

:class:`StoredTrials` follows one round of a repository. Each :meth:`StoredTrials.update`
reads the rows the repository holds that are not in a Parquet part yet (this process's
buffers and other live writers' logs), then the Parquet parts it has not read before,
and folds them into per-trial records; a trial's record is final once the trial is
SUCCESS, FAILED or ABORTED. Its cost follows what changed, not the size of the round.

The rules are those of the views (``schemas/views``): a scope's state is its latest
event (hybrid logical clock, then writer, then seq); a split's score for a metric is
its best finite validation value in the direction the split declared; a trial's score
is the mean over its SUCCESS validation splits that have one, defined only for a
SUCCESS trial; a trial's curve at an epoch is the mean over its validation splits that
reached that epoch (the ``curves`` view).

Reading a part twice (a compaction merges parts into a new file) changes nothing:
events keep the latest, values are keyed by their epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from arrowscope.location import TrialStatus
from arrowscope.reports._base import parse_hyperparams
from arrowscope.summaries import best_of

if TYPE_CHECKING:
    import pyarrow as pa

    from arrowscope.store import Repository

FINISHED = frozenset({TrialStatus.SUCCESS, TrialStatus.FAILED, TrialStatus.ABORTED})
_EVENT_COLUMNS = (
    "level",
    "trial",
    "split",
    "metric",
    "status",
    "main_metric_name",
    "higher_is_better",
    "hyperparams",
    "error",
    "clock",
    "writer",
    "seq",
)
_METRIC_COLUMNS = ("trial", "split", "metric", "epoch", "value")

Order = tuple[int, str, int]


@dataclass
class TrialRecord:
    """One trial as stored: its latest state and, once finished, its scores and curves.

    Attributes:
        number: The trial number.
        status: Its latest status.
        hyperparams: Flat hyperparameters.
        error: Its latest error text (``"Pruned: …"`` for a pruned trial).
        scores: Once finished: per metric, the trial's score (None when undefined).
        curves: Once finished: per metric, the mean validation value at each epoch
            (index 0 is epoch 1) over the validation splits that reached it.
        split_curves: Once finished: per metric, each validation split's values by
            epoch, in split order.
    """

    number: int
    status: TrialStatus = TrialStatus.PLANNED
    hyperparams: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    split_curves: dict[str, list[dict[int, float]]] = field(default_factory=dict)
    order: Order = (-1, "", -1)
    hyperparams_text: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def pruned(self) -> bool:
        return self.status is TrialStatus.FAILED and (self.error or "").startswith("Pruned")


@dataclass
class _Split:
    status: TrialStatus = TrialStatus.PLANNED
    order: Order = (-1, "", -1)
    # metric -> (direction, its order); metric -> epoch -> value
    directions: dict[str, tuple[bool, Order]] = field(default_factory=dict)
    values: dict[str, dict[int, float]] = field(default_factory=dict)


class StoredTrials:
    """The trials of one round, kept up to date from its repository.

    Args:
        repository: Where the round is stored.
        project: The round's project.
        client: The round's client.
        round: The round number.
    """

    def __init__(self, repository: Repository, project: str, client: str, round: int) -> None:
        self.repository = repository
        self.key = {"project": project, "client": client, "round": round}
        self._partition = (project, client, str(round))
        self._reset()

    def _reset(self) -> None:
        self.trials: dict[int, TrialRecord] = {}
        self.main_metric_name: str | None = None
        self._main_order: Order = (-1, "", -1)
        # metric -> (trial that declared it, direction): the highest trial wins.
        self._directions: dict[str, tuple[int, bool]] = {}
        self._splits: dict[tuple[int, int], _Split] = {}
        self._read_files: set[str] = set()
        self._reopened = False

    def running_split_values(self, trial: int, split: int, metric: str) -> dict[int, float]:
        """The stored validation values, by epoch, of a split of an unfinished trial."""
        entry = self._splits.get((trial, split))
        return {} if entry is None else dict(entry.values.get(metric, {}))

    def direction(self, metric: str) -> bool | None:
        """Whether higher is better for ``metric``, as the highest trial declared it."""
        found = self._directions.get(metric)
        return None if found is None else found[1]

    def update(self) -> set[int]:
        """Read what changed since the last call; returns the trials whose record changed."""
        # Unpublished rows first, parts second: a checkpoint moving rows in between
        # makes them seen twice (harmless), never zero times.
        pending = {t: self.repository.pending(t) for t in ("events", "metrics")}
        new_files = {t: self._new_files(t) for t in ("events", "metrics")}
        changed: set[int] = set()
        for row in self._rows("metrics", pending["metrics"], new_files["metrics"]):
            self._value(*row)
        for row in self._rows("events", pending["events"], new_files["events"]):
            changed |= self._event(*row)
        for files in new_files.values():
            self._read_files.update(files)
        if self._reopened:
            # A finished trial was re-opened (last_trial()): its dropped split values
            # are needed again, so read the round from the start.
            self._reset()
            return self.update() | changed
        for number in changed:
            self._finalize(self.trials[number])
        return changed

    # -- reading ------------------------------------------------------------
    def _new_files(self, table: str) -> list[str]:
        """The parts of this round's partition not read yet (by their path)."""
        out = []
        for path in self.repository.parquet_files(table):
            if path not in self._read_files:
                if _partition_of(path) == self._partition:
                    out.append(path)
                else:
                    self._read_files.add(path)
        return out

    def _rows(self, table: str, pending: pa.Table, files: list[str]) -> list[tuple[Any, ...]]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        mask = pc.and_(
            pc.and_(
                pc.equal(pending["project"], self.key["project"]),
                pc.equal(pending["client"], self.key["client"]),
            ),
            pc.equal(pending["round"], self.key["round"]),
        )
        tables = [pending.filter(mask)] if len(pending) else []
        tables += [pq.read_table(path) for path in files]
        rows: list[tuple[Any, ...]] = []
        for found in tables:
            rows.extend(_events(found) if table == "events" else _metrics(found))
        return rows

    def _value(self, trial: int, split: int, metric: str, epoch: int, value: float) -> None:
        record = self.trials.get(trial)
        if record is not None and record.finished:
            return
        entry = self._splits.setdefault((trial, split), _Split())
        entry.values.setdefault(metric, {})[epoch] = value

    def _event(
        self,
        level: str,
        trial: int | None,
        split: int | None,
        metric: str | None,
        status: str | None,
        main_metric_name: str | None,
        higher_is_better: bool | None,
        hyperparams: str | None,
        error: str | None,
        clock: int,
        writer: str,
        seq: int,
    ) -> set[int]:
        order: Order = (clock, writer, seq)
        if level == "round":
            if order > self._main_order:
                self.main_metric_name, self._main_order = main_metric_name, order
            return set()
        assert trial is not None
        if level == "trial":
            return self._trial_event(trial, order, status, hyperparams, error)
        if split is None or split < 0:
            return set()
        entry = self._splits.setdefault((trial, split), _Split())
        if level == "split" and order > entry.order and status is not None:
            entry.status, entry.order = TrialStatus(status), order
        elif level == "metric" and metric is not None and higher_is_better is not None:
            known = entry.directions.get(metric)
            if known is None or order > known[1]:
                entry.directions[metric] = (higher_is_better, order)
            best = self._directions.get(metric)
            if best is None or trial >= best[0]:
                self._directions[metric] = (trial, higher_is_better)
        return set()

    def _trial_event(
        self,
        trial: int,
        order: Order,
        status: str | None,
        hyperparams: str | None,
        error: str | None,
    ) -> set[int]:
        record = self.trials.get(trial)
        if record is None:
            record = self.trials[trial] = TrialRecord(trial)
        if order <= record.order:
            return set()
        if record.finished and TrialStatus(status or "PLANNED") not in FINISHED:
            self._reopened = True
        if hyperparams is not None and hyperparams != record.hyperparams_text:
            record.hyperparams = parse_hyperparams(hyperparams).to_flat_dict()
            record.hyperparams_text = hyperparams
        record.status = TrialStatus(status) if status else TrialStatus.PLANNED
        record.error, record.order = error, order
        return {trial}

    def _finalize(self, record: TrialRecord) -> None:
        """Compute a finished trial's scores and curves, then drop its split values."""
        if not record.finished:
            return
        splits = sorted(
            (number, entry)
            for (trial, number), entry in self._splits.items()
            if trial == record.number
        )
        metrics = sorted({m for _n, entry in splits for m in entry.directions})
        for metric in metrics:
            record.scores[metric] = _trial_score(record, [e for _n, e in splits], metric)
            record.split_curves[metric] = [e.values.get(metric, {}) for _n, e in splits]
            record.curves[metric] = mean_curve(record.split_curves[metric])
        for number, _entry in splits:
            del self._splits[(record.number, number)]


def _trial_score(record: TrialRecord, splits: list[_Split], metric: str) -> float | None:
    if record.status is not TrialStatus.SUCCESS:
        return None
    bests = []
    for entry in splits:
        if entry.status is not TrialStatus.SUCCESS or metric not in entry.directions:
            continue
        values = entry.values.get(metric, {})
        found = best_of([values[e] for e in sorted(values)], entry.directions[metric][0])
        if found is not None:
            bests.append(found[0])
    return math.fsum(bests) / len(bests) if bests else None


def mean_curve(curves: list[dict[int, float]]) -> list[float]:
    """The mean at each epoch (from 1) over the curves that reached it (NaN where none)."""
    last = max((max(c) for c in curves if c), default=0)
    out = []
    for epoch in range(1, last + 1):
        values = [c[epoch] for c in curves if epoch in c]
        out.append(sum(values) / len(values) if values else math.nan)
    return out


def _partition_of(path: str) -> tuple[str, ...]:
    """The (project, client, round) directory names of a part, decoded as hive readers do."""
    values = {}
    for segment in path.replace("\\", "/").split("/"):
        name, sep, value = segment.partition("=")
        if sep and name in ("project", "client", "round"):
            values[name] = unquote(value)
    return tuple(values.get(k, "") for k in ("project", "client", "round"))


def _column(table: pa.Table, name: str) -> list[Any]:
    return table[name].to_pylist() if name in table.column_names else [None] * len(table)


def _events(table: pa.Table) -> list[tuple[Any, ...]]:
    """Event rows as ``_EVENT_COLUMNS``; format 1 rows (no clock) order by ``at``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    at = pc.cast(table["at"], pa.timestamp("us", tz="UTC")).cast(pa.int64())
    clock = pc.coalesce(table["clock"], at) if "clock" in table.column_names else at
    columns = [_column(table, c) for c in _EVENT_COLUMNS if c != "clock"]
    columns.insert(_EVENT_COLUMNS.index("clock"), clock.to_pylist())
    return list(zip(*columns, strict=True))


def _metrics(table: pa.Table) -> list[tuple[Any, ...]]:
    """Validation values of validation splits, as ``_METRIC_COLUMNS``."""
    import pyarrow.compute as pc

    kept = table.filter(
        pc.and_(pc.equal(table["phase"], "valid"), pc.greater_equal(table["split"], 0))
    )
    return list(zip(*[_column(kept, c) for c in _METRIC_COLUMNS], strict=True))
