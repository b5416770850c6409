"""Compaction: fewer files, same rows, and concurrent readers never notice."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests._workers import CLIENT, METRICS, N_EPOCHS, N_SPLITS, PROJECT, log_trial, read_table

from arrowscope import cli
from arrowscope.store import ParquetRepository
from arrowscope.store import compact as compact_module
from arrowscope.store._files import PartName, parse_part, sort_rows
from arrowscope.store._listing import Part
from arrowscope.store.compact import MAX_MERGED_ROWS, plan_everything, plan_tiered, stats

SORT_KEYS = ("metric", "phase", "trial", "split", "epoch")

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


@pytest.mark.parametrize("fan_in", [2, 4])
def test_auto_compaction_merges_size_tiers_in_the_background(data_dir: Path, fan_in: int) -> None:
    repo = ParquetRepository(data_dir, flush_interval=3600, auto_compact_parts=fan_in)
    key = (PROJECT, CLIENT, 0)
    rows = 0
    n_parts = 24
    for trial in range(n_parts):
        rows += log_trial(repo, key, trial)
        repo.checkpoint()
        assert read_table(repo).num_rows == rows  # readers never notice the merges
    repo.close()  # waits for the background compaction
    counts = _parts_per_partition(data_dir)
    tiers = math.ceil(math.log(n_parts, fan_in))
    assert max(counts.values()) <= (fan_in - 1) * (tiers + 1), counts
    names = [parse_part(p.name) for p in (data_dir / "metrics").rglob("part-*.parquet")]
    assert any(n is not None and n.first < n.last for n in names)
    assert read_table(ParquetRepository(data_dir)).num_rows == rows


def _sized(rows: list[int]) -> list[tuple[Part, int]]:
    parts = [
        Part(Path(f"part-w-{i:08d}-{i:08d}.parquet"), PartName("w", i, i)) for i in range(len(rows))
    ]
    return list(zip(parts, rows, strict=True))


def _merged(plan: list[list[tuple[Part, int]]]) -> list[list[int]]:
    return [[part.name.first for part, _ in chunk] for chunk in plan]


def test_tiers_never_rewrite_a_big_part_for_a_few_new_rows() -> None:
    assert plan_tiered(_sized([100_000, 100, 100, 100]), 4, MAX_MERGED_ROWS) == []
    assert _merged(plan_tiered(_sized([100_000, 100, 90, 120, 100]), 4, MAX_MERGED_ROWS)) == [
        [1, 2, 3, 4]
    ]
    # Four merged parts of about 400 rows make the next tier; the big one stays.
    sizes = [100_000, 400, 390, 410, 400, 100]
    assert _merged(plan_tiered(_sized(sizes), 4, MAX_MERGED_ROWS)) == [[1, 2, 3, 4]]
    # Sizes on both sides of a tier boundary (8**3 = 512) still form one tier.
    assert len(plan_tiered(_sized([500, 520] * 8), 8, MAX_MERGED_ROWS)) == 2
    # Parts over max_rows / fan_in are final: never merged, and they split runs.
    assert plan_tiered(_sized([300, 300, 300, 300]), 4, 1000) == []


def test_everything_merges_runs_up_to_max_rows() -> None:
    assert _merged(plan_everything(_sized([5, 5, 5, 5, 5]), 10)) == [[0, 1], [2, 3]]
    assert _merged(plan_everything(_sized([100, 1, 1]), 50)) == [[1, 2]]


def test_large_merges_stream_row_groups(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _write_parts(data_dir, rounds=1, parts_per_round=6)
    monkeypatch.setattr(compact_module, "ROW_GROUP_ROWS", 150)  # a part holds 120 rows
    repo = ParquetRepository(data_dir)
    assert repo.compact() == 10
    [merged] = list((data_dir / "metrics").rglob("part-*.parquet"))
    meta = pq.read_metadata(merged)
    assert meta.num_row_groups == 3 and meta.num_rows == rows
    for group in range(meta.num_row_groups):
        table = pq.ParquetFile(merged).read_row_group(group)
        keys = list(zip(*(table[c].to_pylist() for c in SORT_KEYS), strict=True))
        assert keys == sorted(keys), "a row group is not sorted"
    assert read_table(repo).num_rows == rows
    repo.close()


def test_compact_command_while_writers_work_always_succeeds(data_dir: Path, spawn: Spawn) -> None:
    go = data_dir.parent / "go"
    go.touch()
    writer = spawn("allocate-and-log", data_dir, 0, 200, go)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    runs = 0
    while writer.poll() is None or runs < 3:
        assert cli.main(["compact", str(data_dir), "--json"]) == 0
        runs += 1
    assert writer.returncode == 0
    assert cli.main(["compact", str(data_dir)]) == 0
    table = read_table(ParquetRepository(data_dir))
    assert table.num_rows == 200 * N_SPLITS * len(METRICS) * 2 * N_EPOCHS


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
    assert len(list(data_dir.rglob("log-*.aslog"))) == 2  # segments are never compacted
    assert read_table(compactor).num_rows == rows
    writer.checkpoint()  # segment 5: outside the merged range 0-4, so visible
    assert read_table(compactor).num_rows == rows
    assert compactor.compact() == 2  # 0-4 and 5-5 are consecutive: merged again
    assert read_table(compactor).num_rows == rows
    writer.close()
    compactor.close()


def test_parts_are_sorted_as_a_plain_sort_would() -> None:
    rng = random.Random(7)
    n = 2000
    data = pa.table(
        {
            "metric": [rng.choice(["loss", "acc", "zé", "a b"]) for _ in range(n)],
            "phase": [rng.choice(["train", "valid"]) for _ in range(n)],
            "trial": [rng.randrange(50) for _ in range(n)],
            "split": [rng.randrange(-1, 3) for _ in range(n)],
            "epoch": list(range(n)),
        }
    )
    expected = data.sort_by([(k, "ascending") for k in SORT_KEYS])
    assert sort_rows("metrics", data).equals(expected)


HOLD_PARTITION_LOCK = """
import sys, time
from pathlib import Path
from arrowscope.store._locks import partition_lock
with partition_lock(Path(sys.argv[1])) as acquired:
    print("locked" if acquired else "busy", flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.01)
"""


def test_a_partition_another_process_compacts_is_compacted_once_it_is_free(
    data_dir: Path, tmp_path: Path
) -> None:
    repo = ParquetRepository(data_dir, flush_interval=3600, auto_compact_parts=2)
    key = (PROJECT, CLIENT, 0)
    rows = log_trial(repo, key, 0)
    repo.checkpoint()
    partition = next((data_dir / "metrics").rglob("round=0"))
    release = tmp_path / "release"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PARTITION_LOCK, str(partition), str(release)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        rows += log_trial(repo, key, 1)
        repo.checkpoint()  # the second part asks for a merge: the partition is busy
        time.sleep(0.3)
        assert _merged_parts(partition) == [], "merged while another process held the lock"
        release.touch()
        assert holder.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while not _merged_parts(partition) and time.monotonic() < deadline:
            time.sleep(0.05)  # no new part is written: only a retry can merge
        assert _merged_parts(partition) == [(0, 1)]
    finally:
        release.touch()
        holder.communicate(timeout=30)  # and close its pipe
        repo.close()
    assert read_table(ParquetRepository(data_dir)).num_rows == rows


def _merged_parts(partition: Path) -> list[tuple[int, int]]:
    names = [parse_part(p.name) for p in partition.glob("part-*.parquet")]
    return [(n.first, n.last) for n in names if n is not None and n.first < n.last]
