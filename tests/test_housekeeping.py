"""Checkpoints and compaction that fail are reported, never raised into the user's scopes."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import arrowscope as asc
from arrowscope.errors import CorruptFileError, HousekeepingWarning
from arrowscope.location import TrialStatus
from arrowscope.store import ParquetRepository

HIVE = "hive_partitioning = true, hive_types = {'project': 'VARCHAR', 'client': 'VARCHAR'}"
PARTITION = Path("project=p", "client=c", "round=0")
HOUSEKEEPING_LOGGER = "arrowscope.store._housekeeping"


def _trial(rnd: Any, number_of_values: int = 5) -> TrialStatus:
    """A trial of two splits of ``number_of_values`` train and valid values each."""
    with rnd.new_rvs_trial() as trial:
        for _ in range(2):
            with trial.new_validation_split() as split:
                with split.managed_metric("acc", higher_score_is_better=True) as metric:
                    for i in range(number_of_values):
                        metric.add_train_result(float(i))
                        metric.add_valid_result(float(i) / 2)
    status: TrialStatus = trial.get_status()
    return status


def _plain_count(root: Path) -> int:
    """Values in the Parquet parts, as plain DuckDB counts them."""
    if not list((root / "metrics").rglob("part-*.parquet")):
        return 0
    with duckdb.connect() as con:
        glob = str(root / "metrics" / "**" / "part-*.parquet")
        [(count,)] = con.execute(
            f"SELECT count(*) FROM read_parquet($glob, {HIVE})", {"glob": glob}
        ).fetchall()
    return int(count)


def _warnings_about(caught: list[Any], text: str) -> list[str]:
    return [str(w.message) for w in caught if text in str(w.message)]


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(
        1 for r in caplog.records if r.name == HOUSEKEEPING_LOGGER and text in r.getMessage()
    )


def test_a_foreign_file_fails_compaction_but_never_a_trial(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = ParquetRepository(data_dir, flush_interval=0, auto_compact_parts=2)
    root = asc.Root.from_repo(None, repo)
    statuses = []
    with pytest.warns(HousekeepingWarning, match=r"notes\.parquet") as caught:
        with root.get_project("p") as project, project.get_client("c") as client:
            with client.new_round(main_metric_name="acc") as rnd:
                rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
                statuses.append(_trial(rnd))
                notes = data_dir / "metrics" / PARTITION / "notes.parquet"
                pq.write_table(pa.table({"note": ["mine"]}), notes)
                statuses += [_trial(rnd) for _ in range(4)]
        repo.close()
    assert statuses == [TrialStatus.SUCCESS] * 5
    assert len(_warnings_about(caught, "notes.parquet")) == 1, "reported once per cause"
    assert _logged(caplog, "notes.parquet") == 1
    assert pq.read_table(notes).to_pylist() == [{"note": "mine"}], "never touched"
    with pytest.raises(CorruptFileError, match=r"notes\.parquet"):
        asc.connect(data_dir)  # reads stay strict
    notes.unlink()
    assert _plain_count(data_dir) == 5 * 2 * 5 * 2


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


def test_an_unwritable_partition_fails_checkpoints_but_never_a_trial(
    data_dir: Path, immutable: Callable[[Path, bool], None], caplog: pytest.LogCaptureFixture
) -> None:
    repo = ParquetRepository(data_dir, flush_interval=3600, auto_compact_parts=2)
    root = asc.Root.from_repo(None, repo)
    partition = data_dir / "metrics" / PARTITION
    with pytest.warns(HousekeepingWarning, match="checkpoint") as caught:
        with root.get_project("p") as project, project.get_client("c") as client:
            with client.new_round(main_metric_name="acc") as rnd:
                rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
                statuses = [_trial(rnd)]  # its segment is open: appends need no new file
                immutable(partition, True)
                for _ in range(4):
                    # As the background writer would: the checkpoint fails, and the
                    # next appends go on in the segment it could not turn into a part.
                    repo.checkpoint()
                    statuses.append(_trial(rnd))
            # The round's exit checkpointed: it failed, quietly.
        repo.checkpoint()
        repo.close()  # fails the same way: not reported again
    assert statuses == [TrialStatus.SUCCESS] * 5
    assert len(_warnings_about(caught, str(partition))) == 1
    assert _logged(caplog, str(partition)) == 1
    assert _plain_count(data_dir) == 0
    assert len(list(partition.glob("log-*.aslog"))) == 1, "the rows stay in the log"
    assert repo.pending("metrics").num_rows == 5 * 2 * 5 * 2
    immutable(partition, False)
    repo.close()
    assert _plain_count(data_dir) == 5 * 2 * 5 * 2
    assert not list(partition.glob("log-*"))


def test_a_checkpoint_failing_at_every_split_exit_fails_no_split(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    repo = ParquetRepository(data_dir, flush_interval=0, auto_compact_parts=0)
    root = asc.Root.from_repo(None, repo)
    partition = data_dir / "metrics" / PARTITION
    with pytest.warns(HousekeepingWarning, match="IsADirectoryError") as caught:
        with root.get_project("p") as project, project.get_client("c") as client:
            with client.new_round(main_metric_name="acc") as rnd:
                rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
                statuses = [_trial(rnd)]
                # Where the next part's temporary file goes, a directory: part writes
                # fail while log appends (into the open segment) work.
                number = len(list(partition.glob("part-*.parquet")))
                name = f"part-{repo.writer_id}-{number:08d}-{number:08d}.parquet"
                obstacle = partition / f"{name}.{repo.writer_id}.tmp"
                obstacle.mkdir()
                statuses += [_trial(rnd) for _ in range(3)]
    assert statuses == [TrialStatus.SUCCESS] * 4
    assert len(_warnings_about(caught, "IsADirectoryError")) == 1
    # Only the segment of that part waits in the log; later segments got their parts.
    assert [p.name for p in partition.glob("log-*")] == [f"log-{repo.writer_id}-{number:08d}.aslog"]
    assert _plain_count(data_dir) == 4 * 2 * 5 * 2 - 5 * 2
    obstacle.rmdir()
    repo.close()
    assert _plain_count(data_dir) == 4 * 2 * 5 * 2
