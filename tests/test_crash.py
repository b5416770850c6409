"""Crashes and damage: kill -9 mid-logging, torn logs, leftovers, foreign and corrupt files.

The kill times are drawn from a seeded generator; set ``CRASH_SEED`` to try others.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests._workers import (
    CLIENT,
    METRICS,
    N_EPOCHS,
    N_SPLITS,
    PROJECT,
    expected_value,
    read_table,
)

from arrowscope.errors import CorruptFileError
from arrowscope.schema import table_schema
from arrowscope.store import ParquetRepository
from arrowscope.store._files import check_part

pytestmark = pytest.mark.slow  # real subprocesses

Spawn = Callable[..., subprocess.Popen[str]]
RUNS = 4
KEY_COLUMNS = ["round", "trial", "split", "metric", "phase", "epoch"]
ROW_COLUMNS = [*KEY_COLUMNS, "value", "logged_at"]
HIVE = "hive_partitioning = true, hive_types = {'project': 'VARCHAR', 'client': 'VARCHAR'}"


def rows_of(table: pa.Table) -> list[tuple[object, ...]]:
    return sorted(zip(*(table[c].to_pylist() for c in ROW_COLUMNS), strict=True))


def run_and_kill(spawn: Spawn, root: Path, rng: random.Random) -> tuple[int, set[int]]:
    """Start a logging worker, SIGKILL it after a random time; its round and exited trials."""
    proc = spawn("crash-log", root)
    assert proc.stdout is not None
    round_ = int(proc.stdout.readline().split()[1])
    time.sleep(rng.uniform(0.05, 1.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    exited = {int(line.split()[2]) for line in proc.stdout if line.startswith("exited trial")}
    return round_, exited


def test_kill_9_keeps_every_exited_trial_and_plain_duckdb_agrees(
    data_dir: Path, spawn: Spawn
) -> None:
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20240611")))
    exited: dict[int, set[int]] = {}
    for _ in range(RUNS):
        round_, trials = run_and_kill(spawn, data_dir, rng)
        assert round_ not in exited, "a round number was handed out twice"
        exited[round_] = trials
    assert sum(map(len, exited.values())) > 0, "the workers were killed before logging"

    for path in data_dir.rglob("*.parquet"):  # every part readable, even before recovery
        check_part(str(path), path.relative_to(data_dir).parts[0])
        pq.read_table(path, partitioning=None)

    repo = ParquetRepository(data_dir)  # recovers the killed writers' log segments
    assert not list(data_dir.rglob("log-*")) and not list(data_dir.rglob("*.tmp"))
    metrics = read_table(repo)
    per_curve: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for row in rows_of(metrics):
        round_, trial, split, metric, phase, epoch, value, _ = row
        assert value == expected_value(trial, split, metric, phase, epoch)  # type: ignore[arg-type]
        per_curve[(round_, trial, split, metric, phase)].append(epoch)  # type: ignore[arg-type]
    for curve, epochs in per_curve.items():
        assert epochs == list(range(1, len(epochs) + 1)), f"{curve}: {epochs}"
    for round_, trials in exited.items():
        for trial in trials:
            for split in range(N_SPLITS):
                for metric in METRICS:
                    for phase in ("train", "valid"):
                        assert len(per_curve[(round_, trial, split, metric, phase)]) == N_EPOCHS
    events = read_table(repo, "events")
    done = {
        (r, t)
        for r, t, level, status in zip(
            *(events[c].to_pylist() for c in ["round", "trial", "level", "status"]), strict=True
        )
        if level == "trial" and status == "SUCCESS"
    }
    assert {(r, t) for r, ts in exited.items() for t in ts} <= done

    new_round = repo.allocate(PROJECT, CLIENT)
    assert new_round not in exited and new_round > max(exited)

    assert repo.pending("metrics").num_rows == 0
    with duckdb.connect() as con:
        glob = str(data_dir / "metrics" / "**" / "*.parquet")
        plain = con.sql(f"SELECT * FROM read_parquet($glob, {HIVE})", params={"glob": glob})
        assert rows_of(plain.to_arrow_table()) == rows_of(metrics)
    repo.close()


def test_interpreter_exit_checkpoints_what_was_not_closed(data_dir: Path, spawn: Spawn) -> None:
    proc = spawn("exit-without-close", data_dir)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "exiting"
    assert not list(data_dir.rglob("log-*")), "exit left log segments"
    assert not list((data_dir / "_writers").iterdir()), "exit left the writer lock"
    with duckdb.connect() as con:
        glob = str(data_dir / "metrics" / "**" / "*.parquet")
        plain = con.sql(
            f"SELECT trial, count(*) FROM read_parquet($glob, {HIVE}) GROUP BY ALL",
            params={"glob": glob},
        ).fetchall()
    assert sorted(plain) == [(0, N_SPLITS * len(METRICS) * 2 * N_EPOCHS), (1, 1)]


def _stream_bytes(batches: list[pa.RecordBatch]) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table_schema("metrics")) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _batch(trial: int, n: int) -> pa.RecordBatch:
    epochs = list(range(1, n + 1))
    columns = {
        "trial": [trial] * n,
        "split": [0] * n,
        "attempt": [0] * n,
        "metric": ["acc"] * n,
        "phase": ["valid"] * n,
        "epoch": epochs,
        "value": [expected_value(trial, 0, "acc", "valid", e) for e in epochs],
        "logged_at": [1_700_000_000_000_000 + e for e in epochs],
    }
    return pa.RecordBatch.from_pydict(columns, schema=table_schema("metrics"))


def _partition(root: Path) -> Path:
    path = root / "metrics" / "project=p" / "client=c" / "round=0"
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def _live_writer(root: Path, writer: str) -> Iterator[None]:
    """Hold ``writer``'s lock, as that writer does while it is alive."""
    (root / "_writers").mkdir(exist_ok=True)
    with open(root / "_writers" / f"{writer}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def test_a_torn_log_is_read_up_to_its_last_batch_then_recovered(data_dir: Path) -> None:
    """A segment of earlier versions (an Arrow IPC stream) is still read and recovered."""
    whole = _stream_bytes([_batch(0, 3), _batch(1, 4)])
    torn = whole[: len(whole) - 30]  # killed while appending the second batch
    segment = _partition(data_dir) / "log-deadbeef-00000000.arrows"
    segment.write_bytes(torn)
    with _live_writer(data_dir, "deadbeef"):
        reader = ParquetRepository(data_dir)
        assert reader.pending("metrics")["trial"].to_pylist() == [0, 0, 0]
        assert segment.exists()
    repo = ParquetRepository(data_dir)  # its writer is gone now
    assert sorted(read_table(repo)["trial"].to_pylist()) == [0, 0, 0]
    assert [Path(f).name for f in repo.parquet_files("metrics")] == [
        "part-deadbeef-00000000-00000000.parquet"
    ]
    assert not segment.exists()
    repo.close()
    reader.close()


def test_a_segment_whose_part_exists_is_not_counted_twice(data_dir: Path) -> None:
    partition = _partition(data_dir)
    (partition / "log-deadbeef-00000003.arrows").write_bytes(_stream_bytes([_batch(0, 5)]))
    pq.write_table(
        pa.Table.from_batches([_batch(0, 5)]), partition / "part-deadbeef-00000000-00000003.parquet"
    )
    with _live_writer(data_dir, "deadbeef"):  # recovery must leave the segment alone
        repo = ParquetRepository(data_dir)
        assert len(read_table(repo)) == 5
        assert list(partition.glob("log-*"))
    again = ParquetRepository(data_dir)  # the writer is gone now
    assert len(read_table(again)) == 5
    assert not list(partition.glob("log-*"))
    repo.close()
    again.close()


def test_leftovers_of_a_killed_compaction_are_cleaned_without_double_counting(
    data_dir: Path,
) -> None:
    partition = _partition(data_dir)
    for seg in range(3):
        pq.write_table(
            pa.Table.from_batches([_batch(seg, 2)]),
            partition / f"part-deadbeef-{seg:08d}-{seg:08d}.parquet",
        )
    merged = pa.Table.from_batches([_batch(seg, 2) for seg in range(3)])
    pq.write_table(merged, partition / "part-deadbeef-00000000-00000002.parquet")
    (partition / "part-deadbeef-00000000-00000005.parquet.deadbeef.tmp").write_bytes(b"half")
    repo = ParquetRepository(data_dir)
    assert sorted(p.name for p in partition.iterdir() if not p.name.startswith(".")) == [
        "part-deadbeef-00000000-00000002.parquet"
    ]
    assert len(read_table(repo)) == 6
    repo.close()


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("part-x-1-1.parquet", b"not parquet at all", "not a readable Parquet file"),
        ("part-x-00000001-00000001.parquet", None, "without arrowscope metadata"),
        ("data.parquet", None, "not written by arrowscope"),
    ],
)
def test_a_foreign_or_corrupt_file_fails_reads_naming_it_and_is_never_touched(
    data_dir: Path, name: str, content: bytes | None, reason: str
) -> None:
    repo = ParquetRepository(data_dir)
    key = ("p", "c", 0)
    buffer = repo.metric_buffer(key, 0, 0, "acc")
    buffer.valid.append(1.0)
    buffer.valid_at.append(time.time_ns())
    repo.release_buffer(key, buffer)
    repo.close()
    foreign = data_dir / "metrics" / "project=p" / "client=c" / "round=0" / name
    if content is None:
        pq.write_table(pa.table({"x": [1, 2]}), foreign)
    else:
        foreign.write_bytes(content)
    before = _digest(data_dir)
    again = ParquetRepository(data_dir)
    for read in (again.parquet_files, again.pending, again.snapshot):
        with pytest.raises(CorruptFileError, match=reason) as caught:
            read("metrics")
        assert caught.value.path == str(foreign)
    with pytest.raises(CorruptFileError):
        again.compact()
    assert read_table(again, "events").num_rows == 0  # other tables still read
    again.close()
    assert _digest(data_dir) == before


def test_other_foreign_files_are_ignored_and_left_alone(data_dir: Path) -> None:
    partition = _partition(data_dir)
    pq.write_table(
        pa.Table.from_batches([_batch(0, 2)]), partition / "part-w-00000000-00000000.parquet"
    )
    foreign = ["notes.txt", "my.notes.tmp", ".DS_Store", "log-notes.arrows.bak"]
    for name in foreign:
        (partition / name).write_text("mine, not arrowscope's")
    (data_dir / "README.md").write_text("mine too")
    before = _digest(data_dir)
    repo = ParquetRepository(data_dir)
    assert len(read_table(repo)) == 2
    assert repo.compact() == 0
    repo.close()
    assert _digest(data_dir) == before


def test_a_part_of_a_newer_format_asks_for_an_upgrade(data_dir: Path) -> None:
    partition = _partition(data_dir)
    schema = table_schema("metrics").with_metadata({b"arrowscope.format_version": b"3"})
    pq.write_table(
        pa.Table.from_batches([_batch(0, 1)]).cast(schema), partition / "part-x-1-1.parquet"
    )
    repo = ParquetRepository(data_dir)
    with pytest.raises(CorruptFileError, match=r"format version 3.*upgrade arrowscope"):
        repo.parquet_files("metrics")
    repo.close()


@pytest.mark.parametrize("link", ["directory", "part"])
def test_a_symbolic_link_inside_a_table_fails_reads_but_not_recovery(
    data_dir: Path, link: str
) -> None:
    partition = _partition(data_dir)
    part = partition / "part-w-00000000-00000000.parquet"
    pq.write_table(pa.Table.from_batches([_batch(0, 2)]).cast(table_schema("metrics")), part)
    if link == "directory":
        linked = partition.parent / "round=7"
        linked.symlink_to("round=0")  # polars would read round 0's rows twice
    else:
        linked = partition / "part-w-00000001-00000001.parquet"
        linked.symlink_to(part.name)
    repo = ParquetRepository(data_dir)  # recovery lists leniently: it opens
    for read in (repo.parquet_files, repo.pending):
        with pytest.raises(CorruptFileError, match="symbolic link") as caught:
            read("metrics")
        assert caught.value.path == str(linked)
    with pytest.raises(CorruptFileError, match="symbolic link"):
        repo.compact()
    linked.unlink()
    assert len(read_table(repo)) == 2
    repo.close()
