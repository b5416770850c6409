"""A process killed outright leaves its running trials and splits ABORTED, once found dead."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import arrowscope as asc
from conftest import hanging_writer


def _latest_status_in_plain_duckdb(runs: Path) -> list[tuple[str, int, int | None, str]]:
    """Each trial's and split's latest event, by the documented order, with plain DuckDB."""
    return duckdb.sql(
        f"""
        SELECT level, trial, split, arg_max(status, (clock, writer, seq)) AS status
        FROM read_parquet('{runs}/events/**/*.parquet', hive_partitioning = true)
        WHERE level IN ('trial', 'split')
        GROUP BY level, trial, split ORDER BY level DESC, trial, split
        """
    ).fetchall()


def test_the_next_process_ends_a_dead_writers_scopes_aborted(
    killed_writer: tuple[Path, int],
) -> None:
    runs, pid = killed_writer
    con = asc.connect(runs)  # opening the directory finds the writer dead
    trials = con.sql("select trial, status, error from trials order by trial").fetchall()
    assert [t[:2] for t in trials] == [(0, "SUCCESS"), (1, "ABORTED")]
    assert trials[1][2].startswith("WriterDied: ") and f"pid {pid}" in trials[1][2]
    splits = con.sql("select trial, split, status, score from splits order by trial").fetchall()
    assert splits == [(0, 0, "SUCCESS", 0.5), (1, 0, "ABORTED", 0.5)]
    values = con.sql("select count(*) from metrics where trial = 1").fetchall()
    assert values == [(5,)]  # logged before the kill, written by the background thread

    assert _latest_status_in_plain_duckdb(runs) == [
        ("trial", 0, None, "SUCCESS"),
        ("trial", 1, None, "ABORTED"),
        ("split", 0, 0, "SUCCESS"),
        ("split", 1, 0, "ABORTED"),
    ]
    root = asc.Root.at(runs)
    trial = root["p"]["c"][0][1]
    assert trial.get_status() is asc.TrialStatus.ABORTED
    assert trial[0].get_status() is asc.TrialStatus.ABORTED
    root.close()

    cli = subprocess.run(
        [sys.executable, "-m", "arrowscope.cli", "sql", str(runs),
         "select status from trials where trial = 1", "--csv"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert cli.stdout.split() == ["status", "ABORTED"]
    # The summary the killed split's exit would have written was written by the recovery.
    verify = subprocess.run(
        [sys.executable, "-m", "arrowscope.cli", "verify", str(runs)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout


def test_aborting_happens_once(killed_writer: tuple[Path, int]) -> None:
    runs, _pid = killed_writer
    for _ in range(3):
        asc.connect(runs).close()
    aborted = duckdb.sql(
        f"select count(*) from read_parquet('{runs}/events/**/*.parquet') where status = 'ABORTED'"
    ).fetchall()
    assert aborted == [(2,)]  # trial 1 and its split, once each


def test_a_reader_that_cannot_write_shows_the_state_as_left(
    killed_writer: tuple[Path, int], caplog: pytest.LogCaptureFixture
) -> None:
    runs, _pid = killed_writer
    subprocess.run(["chattr", "-R", "+i", str(runs)], check=True)
    try:
        con = asc.connect(runs)
        assert con.sql("select status from trials order by trial").fetchall() == [
            ("SUCCESS",),
            ("RUNNING",),
        ]
        assert "cannot be written here" in caplog.text
        con.close()
    finally:
        subprocess.run(["chattr", "-R", "-i", str(runs)], check=True)
    con = asc.connect(runs)
    assert con.sql("select status from trials order by trial").fetchall() == [
        ("SUCCESS",),
        ("ABORTED",),
    ]


def test_a_live_writer_is_never_aborted(tmp_path: Path) -> None:
    proc = hanging_writer(tmp_path / "runs")
    try:
        con = asc.connect(tmp_path / "runs")
        assert con.sql("select status from trials order by trial").fetchall() == [
            ("SUCCESS",),
            ("RUNNING",),
        ]
        time.sleep(0.1)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.communicate()
