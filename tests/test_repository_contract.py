"""The repository contract (``store/_base.py``), run against every backend.

Rows are read back the way the query layer reads them: DuckDB over
``parquet_files`` with hive partitioning, UNION ALL BY NAME ``pending``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pyarrow as pa
import pytest
from tests._workers import read_table

from arrowscope.store import (
    InMemoryRepository,
    ParquetRepository,
    Repository,
    RoundKey,
    open_repository,
)

KEY: RoundKey = ("vision", "resnet", 0)
METRIC_COLUMNS = ["project", "client", "round", "trial", "split", "metric", "phase", "epoch"]


def log_values(
    repo: Repository, key: RoundKey, trial: int, split: int, metric: str, n: int, offsets=(0, 0)
) -> list[tuple[object, ...]]:
    """Append ``n`` train and ``n`` valid values; return the rows they must read back as."""
    buffer = repo.metric_buffer(key, trial, split, metric, offsets)
    expected = []
    for i in range(n):
        stamp = time.time_ns()
        buffer.train.append(i / 4)
        buffer.train_at.append(stamp)
        buffer.valid.append(-i / 4)
        buffer.valid_at.append(stamp + 1000)
        expected.append((*key, trial, split, metric, "train", offsets[0] + i + 1, i / 4, stamp))
        expected.append(
            (*key, trial, split, metric, "valid", offsets[1] + i + 1, -i / 4, stamp + 1000)
        )
    return expected


def metric_rows(repo: Repository) -> list[tuple[object, ...]]:
    table = read_table(repo, "metrics")
    stamps = table["logged_at"].cast(pa.int64()).to_pylist()
    rows = zip(*(table[c].to_pylist() for c in [*METRIC_COLUMNS, "value"]), stamps, strict=True)
    return sorted((*row[:-1], row[-1] * 1000) for row in rows)


def as_us(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Timestamps are stored in microseconds: truncate the expected ns stamps."""
    return sorted((*r[:-1], int(r[-1]) // 1000 * 1000) for r in rows)  # type: ignore[call-overload]


def test_metric_rows_read_back_exactly_before_and_after_flush(repository: Repository) -> None:
    assert isinstance(repository, Repository)
    expected = log_values(repository, KEY, trial=0, split=0, metric="acc", n=5)
    expected += log_values(repository, KEY, trial=0, split=1, metric="loss", n=3)
    assert metric_rows(repository) == as_us(expected)  # read your writes, unflushed
    repository.flush(KEY)
    assert metric_rows(repository) == as_us(expected)
    repository.checkpoint()
    assert metric_rows(repository) == as_us(expected)
    if isinstance(repository, ParquetRepository):
        assert repository.parquet_files("metrics")
        assert repository.pending("metrics").num_rows == 0


def test_epochs_are_contiguous_and_continue_after_offsets(repository: Repository) -> None:
    first = log_values(repository, KEY, 1, 0, "acc", n=2)
    repository.flush()
    more = log_values(repository, KEY, 1, 0, "acc", n=3, offsets=(2, 2))
    repository.flush()
    rows = metric_rows(repository)
    assert [r[7] for r in rows if r[6] == "train"] == [1, 2, 3, 4, 5]
    assert [r[7] for r in rows if r[6] == "valid"] == [1, 2, 3, 4, 5]
    assert rows == as_us(first + more)  # values and stamps too, each row once


def test_rows_of_an_open_buffer_appear_once_across_flushes(repository: Repository) -> None:
    buffer = repository.metric_buffer(KEY, 0, 0, "acc")
    for step in range(4):
        buffer.valid.append(float(step))
        buffer.valid_at.append(time.time_ns())
        assert [r[8] for r in metric_rows(repository)] == [float(s) for s in range(step + 1)]
        if step % 2:
            repository.flush(KEY)
        if step == 2:
            repository.checkpoint()
    repository.release_buffer(KEY, buffer)
    assert len(metric_rows(repository)) == 4


def test_nan_and_infinities_are_stored_as_given(repository: Repository) -> None:
    buffer = repository.metric_buffer(KEY, 0, 0, "loss")
    for value in (math.nan, math.inf, -math.inf):
        buffer.valid.append(value)
        buffer.valid_at.append(time.time_ns())
    repository.release_buffer(KEY, buffer)
    repository.checkpoint()
    table = read_table(repository).sort_by("epoch")
    assert table["epoch"].to_pylist() == [1, 2, 3]
    nan, inf, minus_inf = table["value"].to_pylist()
    assert math.isnan(nan) and inf == math.inf and minus_inf == -math.inf


def test_events_get_time_writer_and_increasing_seq(repository: Repository) -> None:
    other: RoundKey = ("vision", "vit", 2)
    repository.append_event(KEY, level="round", main_metric_name="acc")
    repository.append_event(KEY, level="trial", trial=0, status="RUNNING", hyperparams='{"lr": 1}')
    repository.append_event(other, level="trial", trial=0, status="FAILED", error="ValueError: x")
    repository.flush()
    events = read_table(repository, "events").sort_by("seq")
    assert events["seq"].to_pylist() == [1, 2, 3]
    assert set(events["writer"].to_pylist()) == {repository.writer_id}
    assert events["client"].to_pylist() == ["resnet", "resnet", "vit"]
    assert events["round"].to_pylist() == [0, 0, 2]
    assert events["status"].to_pylist() == [None, "RUNNING", "FAILED"]
    assert events["at"].null_count == 0


def test_ids_are_dense_from_zero_per_parent(repository: Repository) -> None:
    assert repository.list_ids("p", "c") == []
    assert [repository.allocate("p", "c") for _ in range(3)] == [0, 1, 2]
    assert [repository.allocate("p", "c", 1) for _ in range(4)] == [0, 1, 2, 3]
    assert repository.allocate("p", "other") == 0
    assert repository.list_ids("p", "c") == [0, 1, 2]
    assert repository.list_ids("p", "c", 1) == [0, 1, 2, 3]
    assert repository.list_ids("p", "c", 0) == []


def test_create_is_idempotent_and_names_are_listed_sorted(repository: Repository) -> None:
    assert repository.create("zeta") is True
    assert repository.create("alpha") is True
    assert repository.create("alpha") is False
    assert repository.create("alpha", "b client") is True
    assert repository.create("alpha", "a client") is True
    assert repository.create("alpha", "a client") is False
    assert repository.list_names() == ["alpha", "zeta"]
    assert repository.list_names("alpha") == ["a client", "b client"]
    assert repository.list_names("zeta") == []
    catalog = read_table(repository, "catalog")
    pairs = zip(catalog["project"].to_pylist(), catalog["client"].to_pylist(), strict=True)
    assert sorted(pairs, key=str) == [
        ("alpha", "a client"),
        ("alpha", "b client"),
        ("alpha", None),
        ("zeta", None),
    ]


def test_close_keeps_everything_readable(repository: Repository) -> None:
    expected = log_values(repository, KEY, 0, 0, "acc", n=4)
    repository.append_event(KEY, level="trial", trial=0, status="SUCCESS")
    repository.close()
    assert metric_rows(repository) == as_us(expected)
    assert read_table(repository, "events").num_rows == 1
    if isinstance(repository, ParquetRepository):
        assert repository.pending("metrics").num_rows == 0


def test_writing_after_close_still_works(repository: Repository) -> None:
    expected = log_values(repository, KEY, 0, 0, "acc", n=2)
    repository.close()
    expected += log_values(repository, KEY, 0, 1, "acc", n=2)
    repository.flush()
    repository.close()
    assert metric_rows(repository) == as_us(expected)


def test_a_reopened_parquet_repository_sees_everything(data_dir: Path) -> None:
    repo = ParquetRepository(data_dir)
    repo.create("vision", "resnet")
    key: RoundKey = ("vision", "resnet", repo.allocate("vision", "resnet"))
    trial = repo.allocate(*key)
    expected = log_values(repo, key, trial, 0, "acc", n=6)
    repo.append_event(key, level="trial", trial=trial, status="SUCCESS")
    repo.close()
    again = ParquetRepository(data_dir)
    assert metric_rows(again) == as_us(expected)
    assert read_table(again, "events")["status"].to_pylist() == ["SUCCESS"]
    assert again.list_names() == ["vision"] and again.list_names("vision") == ["resnet"]
    assert again.list_ids("vision", "resnet") == [0]
    assert again.allocate("vision", "resnet") == 1
    assert again.allocate(*key) == 1
    again.close()


def test_fsync_mode_stores_the_same_rows(data_dir: Path) -> None:
    repo = ParquetRepository(data_dir, flush_interval=0, fsync=True)
    expected = log_values(repo, KEY, 0, 0, "acc", n=3)
    repo.flush()  # flush_interval=0: every flush checkpoints
    assert repo.pending("metrics").num_rows == 0
    assert repo.allocate("p", "c") == 0 and repo.create("p")
    repo.close()
    again = ParquetRepository(data_dir)
    assert metric_rows(again) == as_us(expected)
    again.close()


def test_open_repository_dispatches_on_the_scheme(data_dir: Path) -> None:
    assert isinstance(open_repository("memory://"), InMemoryRepository)
    for target in (str(data_dir), data_dir, data_dir.as_uri()):
        repo = open_repository(target, flush_interval=0.5)
        assert isinstance(repo, ParquetRepository)
        assert repo.location == str(data_dir)
        repo.close()
    with pytest.raises(ValueError, match=r"'gs'.*file://, memory://, s3://"):
        open_repository("gs://bucket/runs")
    with pytest.raises(ValueError, match="s3:// URIs only"):
        open_repository(data_dir, dead_after=5.0)


def test_claim_takes_one_exact_number_once(repository: Repository) -> None:
    assert repository.claim("p", "c", None, 0)
    assert not repository.claim("p", "c", None, 0)
    assert repository.allocate("p", "c") == 1  # a claimed number is never allocated
    assert not repository.claim("p", "c", None, 1)
    assert repository.claim("p", "c", 0, 3) and repository.list_ids("p", "c", 0) == [3]
    assert repository.list_ids("p", "c") == [0, 1]
    for bad in (-1, True, 1.0):
        with pytest.raises(ValueError, match="int >= 0"):
            repository.claim("p", "c", None, bad)  # type: ignore[arg-type]
