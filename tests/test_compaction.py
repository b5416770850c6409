"""Compaction: fewer files, same rows, and concurrent readers never notice."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from tests._workers import CLIENT, PROJECT, log_trial, read_table

from arrowscope.store import ParquetRepository
from arrowscope.store._files import parse_part
from arrowscope.store.compact import stats

Spawn = Callable[..., subprocess.Popen[str]]


def _write_parts(root: Path, rounds: int, parts_per_round: int) -> int:
    """One part per trial (checkpointed one by one); returns the rows written."""
    repo = ParquetRepository(root, flush_interval=3600, auto_compact_parts=0)
    rows = 0
    for _ in range(rounds):
        key = (PROJECT, CLIENT, repo.allocate(PROJECT, CLIENT))
        for _ in range(parts_per_round):
            rows += log_trial(repo, key, repo.allocate(*key))
            repo.checkpoint()
    repo.close()
    return rows


def _parts_per_partition(root: Path) -> Counter[tuple[str, str]]:
    return Counter(
        (str(p.parent.relative_to(root)), parse_part(p.name).writer)  # type: ignore[union-attr]
        for p in root.rglob("part-*.parquet")
    )


def test_compaction_while_another_process_reads_never_changes_the_count(
    data_dir: Path, spawn: Spawn, record_property: Callable[[str, object], None]
) -> None:
    rows = _write_parts(data_dir, rounds=6, parts_per_round=12)
    before = stats(data_dir, "metrics")
    n_files = sum(_parts_per_partition(data_dir).values())
    stop = data_dir.parent / "stop"
    reader = spawn("count", data_dir, stop)
    assert reader.stdout is not None
    seen = [reader.stdout.readline()]  # the reader is reading

    repo = ParquetRepository(data_dir)
    merged = repo.compact()
    seen.append(reader.stdout.readline())
    stop.touch()
    out, _ = reader.communicate(timeout=60)
    seen += out.splitlines()
    assert reader.returncode == 0
    assert {line.strip() for line in seen} == {f"count {rows} {rows}"}, "a reader saw a change"

    partitions = _parts_per_partition(data_dir)
    assert set(partitions.values()) == {1}, "covered parts were left behind"
    assert merged == n_files - len(partitions)
    assert read_table(repo).num_rows == rows
    after = stats(data_dir, "metrics")
    assert after.rows == before.rows == rows
    assert after.files == len([k for k in partitions if k[0].startswith("metrics")])
    assert after.bytes_per_row < before.bytes_per_row / 4
    record_property("bytes_per_value_before", round(before.bytes_per_row, 2))
    record_property("bytes_per_value_after", round(after.bytes_per_row, 2))
    print(f"bytes/value: {before.bytes_per_row:.1f} before, {after.bytes_per_row:.2f} after")
    assert repo.compact() == 0  # nothing left to merge
    repo.close()


@pytest.mark.parametrize("threshold", [2, 4])
def test_auto_compaction_triggers_past_the_threshold(data_dir: Path, threshold: int) -> None:
    repo = ParquetRepository(data_dir, flush_interval=3600, auto_compact_parts=threshold)
    key = (PROJECT, CLIENT, 0)
    rows = 0
    for trial in range(11):
        rows += log_trial(repo, key, trial)
        repo.checkpoint()
        counts = _parts_per_partition(data_dir)
        assert max(counts.values()) <= threshold, counts
    names = sorted(p.name for p in (data_dir / "metrics").rglob("part-*.parquet"))
    assert any(parse_part(n).first < parse_part(n).last for n in names)  # type: ignore[union-attr]
    assert read_table(repo).num_rows == rows
    repo.close()


def test_another_process_may_compact_a_live_writers_parts(data_dir: Path) -> None:
    writer = ParquetRepository(data_dir, flush_interval=3600, auto_compact_parts=0)
    key = (PROJECT, CLIENT, 0)
    rows = 0
    for trial in range(5):
        rows += log_trial(writer, key, trial)
        writer.checkpoint()
    rows += log_trial(writer, key, 5)  # left in the live writer's log segment
    compactor = ParquetRepository(data_dir)
    assert compactor.compact() == 8  # 5 metrics and 5 events parts become 1 each
    assert len(list(data_dir.rglob("log-*.arrows"))) == 2  # segments are never compacted
    assert read_table(compactor).num_rows == rows
    writer.checkpoint()  # segment 5: outside the merged range 0-4, so visible
    assert read_table(compactor).num_rows == rows
    assert compactor.compact() == 2  # 0-4 and 5-5 are consecutive: merged again
    assert read_table(compactor).num_rows == rows
    writer.close()
    compactor.close()
