"""Failed log writes: a clear error, a consistent log, every row written once later."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from tests._workers import expected_value
from tests.conftest import WORKERS

import arrowscope
from arrowscope.errors import StorageWriteError
from arrowscope.schema import table_schema
from arrowscope.store import ParquetRepository
from arrowscope.store._log import read_log

HIVE = "hive_partitioning = true, hive_types = {'project': 'VARCHAR', 'client': 'VARCHAR'}"


def _plain_rows(root: Path) -> list[tuple[int, int, str, int, float]]:
    """Every metrics row as plain DuckDB reads the Parquet files."""
    with duckdb.connect() as con:
        return con.execute(
            f"SELECT trial, split, phase, epoch, value FROM read_parquet($glob, {HIVE})",
            {"glob": str(root / "metrics" / "**" / "*.parquet")},
        ).fetchall()


def _run_worker(*args: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    src = str(Path(arrowscope.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    command = [sys.executable, str(WORKERS), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_file_too_large_raises_then_every_value_lands_once(data_dir: Path) -> None:
    done = _run_worker("write-errors", data_dir)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    error = json.loads(next(line for line in lines if line.startswith("error "))[6:])
    logged = int(next(line for line in lines if line.startswith("logged "))[7:])
    assert error["errno"] == errno.EFBIG
    assert error["path"].startswith(str(data_dir)) and error["path"].endswith(".aslog")
    assert error["path"] in error["message"] and "EFBIG" in error["message"]
    assert "nothing is lost" in error["message"]
    assert done.stderr.count("in the background failed") == 1, done.stderr
    assert done.stderr.count("works again") == 1, done.stderr

    rows = _plain_rows(data_dir)
    keys = [row[:4] for row in rows]
    assert len(set(keys)) == len(keys), "a value was written twice"
    assert len(rows) == logged
    for trial, split, phase, epoch, value in rows:
        assert value == expected_value(trial, split, "acc", phase, epoch)
    assert {row[0] for row in rows} == {0, 1, 2}, "the failed trial's values were lost"
    assert not list(data_dir.rglob("log-*")), "close left log segments"


@pytest.fixture
def immutable() -> Iterator[Callable[[Path, bool], None]]:
    """``set(path, True)`` makes a directory immutable (``chattr +i``); undone after the test."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    marked: list[Path] = []

    def set_flag(path: Path, on: bool) -> None:
        done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr does not work here: {done.stderr.decode().strip()}")
        if on:
            marked.append(path)

    yield set_flag
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_a_failed_append_keeps_the_rows_staged_and_the_log_consistent(
    data_dir: Path, immutable: Callable[[Path, bool], None]
) -> None:
    repo = ParquetRepository(data_dir, flush_interval=0, auto_compact_parts=0)
    key = ("p", "c", 0)
    first = repo.metric_buffer(key, 0, 0, "acc")
    first.valid.append(1.0)
    first.valid_at.append(time.time_ns())
    repo.flush(key)  # the segment exists and is checkpointed (flush_interval=0)
    partition = data_dir / "metrics" / "project=p" / "client=c" / "round=0"
    immutable(partition, True)  # no new segment can be created in it
    second = repo.metric_buffer(key, 0, 1, "acc")
    for value in (2.0, 3.0):
        second.valid.append(value)
        second.valid_at.append(time.time_ns())
    repo.append_event(key, level="split", trial=0, split=1, status="SUCCESS")
    for _ in range(2):  # failing again changes nothing
        with pytest.raises(StorageWriteError) as caught:
            repo.flush(key)
        assert caught.value.errno == errno.EPERM
        assert str(partition) in str(caught.value)
        assert repo.pending("metrics")["value"].to_pylist() == [2.0, 3.0]
        assert repo.pending("events").num_rows == 1
    events = data_dir / "events" / "project=p" / "client=c" / "round=0"
    assert not list(events.glob("log-*")), "the events append was not rolled back"
    immutable(partition, False)
    repo.flush(key)
    assert sorted(v for row in _plain_rows(data_dir) for v in [row[4]]) == [1.0, 2.0, 3.0]
    repo.close()
    assert sorted(row[4] for row in _plain_rows(data_dir)) == [1.0, 2.0, 3.0]


def test_a_failed_events_append_rolls_the_metrics_append_back(
    data_dir: Path, immutable: Callable[[Path, bool], None]
) -> None:
    repo = ParquetRepository(data_dir, flush_interval=3600, auto_compact_parts=0)
    key = ("p", "c", 0)
    buffer = repo.metric_buffer(key, 0, 0, "acc")
    buffer.valid.append(1.0)
    buffer.valid_at.append(time.time_ns())
    repo.flush(key)  # the metrics segment is open; the events one not yet
    events = data_dir / "events" / "project=p" / "client=c" / "round=0"
    events.mkdir(parents=True)
    immutable(events, True)
    buffer.valid.append(2.0)
    buffer.valid_at.append(time.time_ns())
    repo.append_event(key, level="split", trial=0, split=0, status="SUCCESS")
    with pytest.raises(StorageWriteError):
        repo.flush(key)
    segment = next((data_dir / "metrics").rglob("log-*.aslog"))
    batches = read_log(segment, table_schema("metrics")).batches
    on_disk = [v for batch in batches for v in batch["value"].to_pylist()]
    assert on_disk == [1.0], "the metrics append of the failed flush is still in the log"
    immutable(events, False)
    repo.close()
    assert sorted(row[4] for row in _plain_rows(data_dir)) == [1.0, 2.0]
