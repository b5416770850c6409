"""Processes forked after the repository was opened write as writers of their own."""

from __future__ import annotations

import gc
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests._workers import CLIENT, N_EPOCHS, PROJECT, expected_value

import arrowscope as asc
from arrowscope.store import ParquetRepository

HIVE = "hive_partitioning = true, hive_types = {'project': 'VARCHAR', 'client': 'VARCHAR'}"
N_CHILDREN = 4
TRIALS_PER_CHILD = 3
N_SPLITS = 2


def _log_split(trial: Any, number: int) -> None:
    with trial.new_validation_split() as split:
        split_number = split.split_number
        with split.managed_metric("acc", higher_score_is_better=True) as metric:
            for epoch in range(1, N_EPOCHS + 1):
                metric.add_train_result(expected_value(number, split_number, "acc", "train", epoch))
                metric.add_valid_result(expected_value(number, split_number, "acc", "valid", epoch))


def _child(rnd: Any, out: Any) -> None:
    """Runs in a forked child: log trials into the parent's round, report their numbers."""
    numbers = []
    for _ in range(TRIALS_PER_CHILD):
        with rnd.new_rvs_trial() as trial:
            for _ in range(N_SPLITS):
                _log_split(trial, trial.trial_number)
        numbers.append(trial.trial_number)
    out.put((numbers, rnd.repo.writer_id))


def _start_isolated(children: list[Any]) -> None:
    """Start forked children that never collect what they inherit.

    Earlier tests leave DuckDB and polars objects behind, which are not
    fork-safe: a child freeing them can hang or crash. Collecting first and
    freezing the survivors keeps this test about arrowscope's own state.
    """
    gc.collect()
    gc.freeze()
    try:
        for child in children:
            child.start()
    finally:
        gc.unfreeze()


def _plain(root: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        glob = str(root / "{table}" / "**" / "*.parquet")
        query = sql.format(
            metrics=f"read_parquet('{glob.format(table='metrics')}', {HIVE})",
            events=f"read_parquet('{glob.format(table='events')}', {HIVE})",
        )
        return con.execute(query).fetchall()


@pytest.mark.slow
def test_forked_children_become_writers_of_their_own(data_dir: Path) -> None:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    repo = ParquetRepository(data_dir, flush_interval=0.05, auto_compact_parts=2)
    root = asc.Root.from_repo(None, repo)
    with root.get_project(PROJECT) as project, project.get_client(CLIENT) as client:
        with client.new_round(main_metric_name="acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
            with rnd.new_rvs_trial() as trial:
                parent_trial = trial.trial_number
                _log_split(trial, parent_trial)  # written out: in the parent's log
                with trial.new_validation_split() as split:
                    with split.managed_metric("acc", higher_score_is_better=True) as metric:
                        metric.add_valid_result(expected_value(parent_trial, 1, "acc", "valid", 1))
                        # Staged in the parent, not written out yet, while the children fork.
                        children = [
                            context.Process(target=_child, args=(rnd, out))
                            for _ in range(N_CHILDREN)
                        ]
                        _start_isolated(children)
                        for child in children:
                            child.join(timeout=60)
                        assert [c.exitcode for c in children] == [0] * N_CHILDREN
                        results = [out.get(timeout=10) for _ in children]
    repo.close()

    numbers = [n for found, _ in results for n in found]
    assert len(set(numbers)) == len(numbers) == N_CHILDREN * TRIALS_PER_CHILD
    assert parent_trial not in numbers
    writers = {writer for _, writer in results} | {repo.writer_id}
    assert len(writers) == N_CHILDREN + 1, "a child kept its parent's writer id"
    assert not list(data_dir.rglob("log-*")), "the children's logs were not checkpointed at exit"

    rows = _plain(data_dir, "SELECT trial, split, phase, epoch, value FROM {metrics}")
    keys = Counter(row[:4] for row in rows)
    assert max(keys.values()) == 1, "a value was written twice"
    for trial, split, phase, epoch, value in rows:
        assert value == expected_value(trial, split, "acc", phase, epoch)
    per_trial = Counter(row[0] for row in rows)
    assert per_trial == {
        **dict.fromkeys(numbers, N_SPLITS * N_EPOCHS * 2),
        parent_trial: N_EPOCHS * 2 + 1,  # its first split, and the value staged at fork time
    }
    events = _plain(data_dir, "SELECT writer, seq FROM {events}")
    assert len(set(events)) == len(events), "an event was written twice"
    assert {writer for writer, _ in events} == writers
