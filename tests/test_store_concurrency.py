"""Several processes on one directory: unique trial numbers, no row lost or seen twice."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests._workers import CLIENT, METRICS, N_EPOCHS, N_SPLITS, PROJECT, read_table

from arrowscope.store import ParquetRepository, RoundKey

pytestmark = pytest.mark.slow  # real subprocesses

Spawn = Callable[..., subprocess.Popen[str]]
ROWS_PER_TRIAL = N_SPLITS * len(METRICS) * 2 * N_EPOCHS
N_TRIALS = 300
KEYS = ["trial", "split", "metric", "phase", "epoch"]


def _finish(proc: subprocess.Popen[str]) -> list[str]:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out.splitlines()


def test_four_processes_get_distinct_trial_numbers_and_lose_no_row(
    data_dir: Path, spawn: Spawn
) -> None:
    repo = ParquetRepository(data_dir)
    round_ = repo.allocate(PROJECT, CLIENT)
    go = data_dir.parent / "go"
    procs = [spawn("allocate-and-log", data_dir, round_, 15, go) for _ in range(4)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()  # all start allocating at once
    trials: list[int] = []
    for proc in procs:
        lines = _finish(proc)
        assert lines[-1] == "done"
        trials += [int(line.split()[1]) for line in lines if line.startswith("trial")]
    assert sorted(trials) == list(range(60)), "numbers collided or left gaps"
    assert repo.list_ids(PROJECT, CLIENT, round_) == list(range(60))

    table = read_table(repo)
    assert Counter(table["trial"].to_pylist()) == dict.fromkeys(range(60), ROWS_PER_TRIAL)
    keys = zip(*(table[c].to_pylist() for c in KEYS), strict=True)
    assert len(set(keys)) == table.num_rows
    assert repo.pending("metrics").num_rows == 0  # every writer closed: all in parts
    repo.close()


def test_a_reader_never_sees_rows_vanish_or_repeat_during_checkpoints(
    data_dir: Path, spawn: Spawn
) -> None:
    go = data_dir.parent / "go"
    go.touch()
    writer = spawn("allocate-and-log", data_dir, 0, N_TRIALS, go, 0.005)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    reader = ParquetRepository(data_dir)
    counts = []
    while writer.poll() is None or not counts or counts[-1] < N_TRIALS * ROWS_PER_TRIAL:
        table = read_table(reader)
        keys = zip(*(table[c].to_pylist() for c in KEYS), strict=True)
        assert len(set(keys)) == table.num_rows, "a row was seen twice"
        assert not counts or table.num_rows >= counts[-1], "rows vanished"
        counts.append(table.num_rows)
        if writer.poll() is not None and writer.returncode != 0:
            break
    assert _finish(writer)[-1] == "done"
    assert counts[-1] == N_TRIALS * ROWS_PER_TRIAL
    assert len(set(counts)) > 3, f"the reader saw too few states to mean anything: {counts}"
    reader.close()


def _log_one_flushed_value(repo: ParquetRepository, key: RoundKey) -> None:
    buffer = repo.metric_buffer(key, 0, 0, "acc")
    buffer.valid.append(0.5)
    buffer.valid_at.append(time.time_ns())
    repo.release_buffer(key, buffer)


def test_parquet_files_and_pending_pair_up_around_another_writers_checkpoint(
    data_dir: Path,
) -> None:
    writer = ParquetRepository(data_dir, flush_interval=3600)
    reader = ParquetRepository(data_dir)
    key: RoundKey = ("p", "c", 0)
    for files_first in (True, False):
        _log_one_flushed_value(writer, key)  # in the writer's log segment
        if files_first:
            files = reader.parquet_files("metrics")
            writer.checkpoint()  # the segment becomes a part in between
            pending = reader.pending("metrics")
        else:
            pending = reader.pending("metrics")
            writer.checkpoint()
            files = reader.parquet_files("metrics")
        seen = len(read_table_of(files)) + pending.num_rows
        assert seen == (1 if files_first else 2), (files_first, files, pending.num_rows)
    # Unpaired calls read afresh.
    assert len(read_table_of(reader.parquet_files("metrics"))) == 2
    assert len(read_table_of(reader.parquet_files("metrics"))) == 2
    writer.close()
    reader.close()


def read_table_of(files: list[str]) -> list[object]:
    return [row for path in files for row in pq.read_table(path, partitioning=None).to_pylist()]
