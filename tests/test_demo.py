"""The demo search: run in a subprocess, read back with plain DuckDB, and its subcommand."""

from __future__ import annotations

import doctest
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import arrowscope
import arrowscope.demo
from arrowscope import cli
from arrowscope.demo import EPOCHS, FOLDS, run_demo

SRC = str(Path(arrowscope.__file__).resolve().parents[1])
METRICS_PER_EPOCH = 2  # log_loss and accuracy


def _env() -> dict[str, str]:
    """The environment of a child Python that imports this source tree."""
    path = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path)


def expected_rows(n_trials: int) -> int:
    """Train and valid values of every validation split, plus the refit's train values."""
    return n_trials * FOLDS * EPOCHS * METRICS_PER_EPOCH * 2 + EPOCHS * METRICS_PER_EPOCH


def test_demo_in_a_subprocess_writes_a_dataset_plain_duckdb_reads(tmp_path: Path) -> None:
    directory = tmp_path / "demo runs"
    code = "import sys; from arrowscope.demo import run_demo; run_demo(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress line: stderr is not a terminal
    out = done.stdout
    assert "Best trials of round 0" in out and str(directory) in out
    assert "arrowscope sql" in out and "from trials" in out
    assert len([line for line in out.splitlines() if line[:1].isdigit()]) == 5

    glob = str(directory / "metrics" / "**" / "*.parquet").replace("'", "''")
    source = f"read_parquet('{glob}', hive_partitioning = true)"
    con = duckdb.connect()
    try:
        assert con.sql(f"select count(*), count(distinct trial) from {source}").fetchall() == [
            (expected_rows(20), 20)
        ]
        refit = con.sql(
            f"select metric, phase, count(*) from {source} where split = -1 group by all "
            "order by metric"
        ).fetchall()
        projects = con.sql(f"select distinct project, client, round from {source}").fetchall()
    finally:
        con.close()
    assert refit == [("accuracy", "train", EPOCHS), ("log_loss", "train", EPOCHS)]
    assert projects == [("demo", "logistic_regression", 0)]


def test_demo_subcommand_runs_and_appends_a_round(tmp_path: Path) -> None:
    assert cli.main(["demo", "--dir", str(tmp_path), "--trials", "2", "--seed", "3"]) == 0
    out = io.StringIO()
    run_demo(tmp_path, n_trials=2, seed=3, out=out)
    assert "Best trials of round 1" in out.getvalue()
    con = arrowscope.connect(tmp_path)
    try:
        counts = con.sql("select round, count(*) from trials group by round order by round")
        assert counts.fetchall() == [(0, 2), (1, 2)]
    finally:
        con.close()


def test_demo_options_are_checked(tmp_path: Path) -> None:
    parser = cli.build_parser()
    defaults = parser.parse_args(["demo"])
    assert (defaults.dir, defaults.trials, defaults.seed) == ("./arrowscope-runs", 20, 0)
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--trials", "0"])
    with pytest.raises(ValueError, match="n_trials=0"):
        run_demo(tmp_path, n_trials=0)


def test_without_numpy_the_command_registers_and_the_demo_names_the_extra() -> None:
    code = (
        "import sys, argparse; sys.modules['numpy'] = None\n"
        "from arrowscope.cli import build_parser\n"
        "from arrowscope.demo import run_demo\n"
        "build_parser().parse_args(['demo'])\n"
        "run_demo('unused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "ImportError: the demo needs numpy: pip install 'arrowscope[demo]'" in done.stderr


def test_demo_docstring_example_runs() -> None:
    assert doctest.testmod(arrowscope.demo, verbose=False).failed == 0
