"""Worker processes for the crash, concurrency and compaction tests, and a shared reader.

Run as ``python tests/_workers.py <command> <args>`` (or ``python -m
tests._workers`` from the repository root). Each command prints progress
lines on stdout, flushed at once, for the test to follow.

Metric values are a function of where they were logged (``expected_value``),
so readers can check every row they get back.
"""

from __future__ import annotations

import json
import random
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from arrowscope.schema import partition_columns, table_schema
from arrowscope.store import ParquetRepository, Repository
from arrowscope.store._locks import WriterLock
from arrowscope.store._log import LogSegment

PROJECT = "crash test"
CLIENT = "client %1"
METRICS = ("acc", "loss")
N_SPLITS = 3
N_EPOCHS = 10

_HIVE_TYPES = {"project": "VARCHAR", "client": "VARCHAR", "round": "INTEGER"}


def expected_value(trial: int, split: int, metric: str, phase: str, epoch: int) -> float:
    """The value the workers log at this place (exact in binary)."""
    sign = 1.0 if phase == "train" else -1.0
    return sign * (trial * 1000 + split * 100 + epoch + (0.5 if metric == "loss" else 0.0))


def read_table(repo: Repository, table: str = "metrics") -> pa.Table:
    """Every row of ``table`` as DuckDB reads it: the visible parts plus the pending rows.

    A part deleted by a concurrent compaction between listing and reading
    makes DuckDB fail; the read then starts over, as readers must.
    """
    types = ", ".join(f"'{c}': '{_HIVE_TYPES[c]}'" for c in partition_columns(table))
    for _ in range(100):
        files = repo.parquet_files(table)
        pending = repo.pending(table)
        with duckdb.connect() as con:
            con.register("pending_rows", pending)
            query = "SELECT * FROM pending_rows"
            if files:
                query = (
                    f"SELECT * FROM read_parquet($files, hive_partitioning = true, "
                    f"hive_types = {{{types}}}) UNION ALL BY NAME {query}"
                )
            try:
                params = {"files": files} if files else None
                return con.sql(query, params=params).to_arrow_table()
            except duckdb.IOException:
                continue
    raise RuntimeError("the data directory kept changing under 100 reads")


def log_trial(repo: Repository, key: tuple[str, str, int], trial: int) -> int:
    """Log one trial: splits × metrics × train/valid × epochs, flushed at each split exit."""
    repo.append_event(key, level="trial", trial=trial, status="RUNNING")
    rows = 0
    for split in range(N_SPLITS):
        buffers = [repo.metric_buffer(key, trial, split, metric) for metric in METRICS]
        for epoch in range(1, N_EPOCHS + 1):
            for buffer in buffers:
                buffer.train.append(expected_value(trial, split, buffer.metric, "train", epoch))
                buffer.train_at.append(time.time_ns())
                buffer.valid.append(expected_value(trial, split, buffer.metric, "valid", epoch))
                buffer.valid_at.append(time.time_ns())
                rows += 2
        repo.append_event(key, level="split", trial=trial, split=split, status="SUCCESS")
        for buffer in buffers:
            repo.release_buffer(key, buffer)  # the split's exit: flushed to the log
    repo.append_event(key, level="trial", trial=trial, status="SUCCESS")
    repo.flush(key)
    return rows


def crash_log(root: str) -> None:
    """Log trials into a new round until killed; print ``exited trial N`` after each."""
    repo = ParquetRepository(root, flush_interval=0.2, auto_compact_parts=2)
    key = (PROJECT, CLIENT, repo.allocate(PROJECT, CLIENT))
    print(f"round {key[2]}", flush=True)
    while True:
        trial = repo.allocate(*key)
        log_trial(repo, key, trial)
        print(f"exited trial {trial}", flush=True)


def allocate_and_log(
    root: str, round_: str, n_trials: str, start_file: str, pause: str = "0"
) -> None:
    """Wait for ``start_file``, then allocate and log ``n_trials`` trials of ``round_``.

    ``pause`` seconds pass after each trial, so that a reader sees the round grow.
    """
    repo = ParquetRepository(root, flush_interval=0.05, auto_compact_parts=3)
    key = (PROJECT, CLIENT, int(round_))
    print("ready", flush=True)
    while not Path(start_file).exists():
        time.sleep(0.001)
    for _ in range(int(n_trials)):
        trial = repo.allocate(*key)
        rows = log_trial(repo, key, trial)
        print(f"trial {trial} rows {rows}", flush=True)
        time.sleep(float(pause))
    repo.close()
    print("done", flush=True)


def count_loop(root: str, stop_file: str) -> None:
    """Print ``count <rows> <distinct rows>`` of the metrics table until ``stop_file`` exists."""
    repo = ParquetRepository(root)
    while True:
        stop = Path(stop_file).exists()
        table = read_table(repo)
        keys = table.select(["round", "trial", "split", "metric", "phase", "epoch"])
        distinct = len(set(zip(*(c.to_pylist() for c in keys.columns), strict=True)))
        print(f"count {table.num_rows} {distinct}", flush=True)
        if stop:
            break
    repo.close()


def exit_without_close(root: str) -> None:
    """Flush one trial to the log, leave a second one staged, and exit without ``close``."""
    repo = ParquetRepository(root, flush_interval=3600)
    key = (PROJECT, CLIENT, repo.allocate(PROJECT, CLIENT))
    log_trial(repo, key, 0)  # in the log only: flush_interval is an hour
    buffer = repo.metric_buffer(key, 1, 0, METRICS[0])
    buffer.valid.append(expected_value(1, 0, METRICS[0], "valid", 1))
    buffer.valid_at.append(time.time_ns())  # staged, never flushed
    print("exiting", flush=True)


SEGMENT_ROWS = 20_000


def append_forever(root: str) -> None:
    """Append batches of ``SEGMENT_ROWS`` rows to one log segment until killed.

    Epochs count up from 0 across batches, so readers can check they see a prefix.
    """
    path = Path(root) / "metrics" / "project=p" / "client=c" / "round=0" / "log-dead-00000000.aslog"
    WriterLock(Path(root), "dead").ensure()  # alive, as writers are: recovery leaves it alone
    segment = LogSegment(path, table_schema("metrics"), fsync=False)
    rng = random.Random(0)
    start = 0
    while True:
        n = SEGMENT_ROWS
        batch = pa.RecordBatch.from_pydict(
            {
                "trial": [0] * n,
                "split": [0] * n,
                "attempt": [0] * n,
                "metric": ["acc"] * n,
                "phase": ["valid"] * n,
                "epoch": range(start, start + n),
                "value": [rng.random() for _ in range(n)],
                "logged_at": [time.time_ns() // 1000] * n,
            },
            schema=table_schema("metrics"),
        )
        segment.append([batch])
        segment.records.clear()  # this worker never checkpoints: keep its memory flat
        if start == 0:
            print(f"segment {path}", flush=True)
        start += n
        time.sleep(0.02)


def _log_scope_trial(
    rnd: Any, n_splits: int, counter: list[int], started: Callable[[], None] = lambda: None
) -> None:
    """One trial through the scope API; values follow ``expected_value``, counted in ``counter``.

    ``started`` is called once the trial has its number, before its splits.
    """
    with rnd.new_rvs_trial() as trial:
        started()
        number = trial.trial_number
        for split_number in range(n_splits):
            with trial.new_validation_split() as split:
                for epoch in range(1, N_EPOCHS + 1):
                    with split.managed_metric("acc", higher_score_is_better=True) as metric:
                        metric.add_train_result(
                            expected_value(number, split_number, "acc", "train", epoch)
                        )
                        metric.add_valid_result(
                            expected_value(number, split_number, "acc", "valid", epoch)
                        )
                        counter[0] += 2


def write_errors(root: str) -> None:
    """Log trials through the scopes while every file write fails with EFBIG, then not.

    ``RLIMIT_FSIZE`` 0 makes every write to a regular file fail with EFBIG,
    even as root (SIGXFSZ ignored); raising the limit again is "space is back".
    Prints ``error <json>`` for the error raised, ``logged <n>`` at the end.
    """
    import arrowscope as asc
    from arrowscope.errors import StorageWriteError

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    logged = [0]
    root_scope = asc.Root.at(root, flush_interval=0.05)
    with root_scope.get_project(PROJECT) as project, project.get_client(CLIENT) as client:
        with client.new_round(main_metric_name="acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
            _log_scope_trial(rnd, N_SPLITS, logged)
            try:  # the trial's number is claimed before the disk "fills"
                _log_scope_trial(
                    rnd,
                    N_SPLITS,
                    logged,
                    lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard)),
                )
            except StorageWriteError as exc:
                report = {"message": str(exc), "errno": exc.errno, "path": exc.path}
                print("error", json.dumps(report), flush=True)
            time.sleep(0.4)  # the background writer fails at several ticks meanwhile
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            _log_scope_trial(rnd, N_SPLITS, logged)
    root_scope.close()
    print(f"logged {logged[0]}", flush=True)


COMMANDS = {
    "crash-log": crash_log,
    "allocate-and-log": allocate_and_log,
    "count": count_loop,
    "exit-without-close": exit_without_close,
    "append-forever": append_forever,
    "write-errors": write_errors,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
