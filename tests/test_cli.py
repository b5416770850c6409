"""The ``arrowscope`` command.

Error exits and help run in a real subprocess (``python -m arrowscope.cli``).
The data commands run in-process (``cli.main``) over a data directory written
through the scope API, and a few of them again in a subprocess, which must
print the same.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import arrowscope
import arrowscope as asc
from _rounds import RoundWriter, publish, split
from arrowscope import cli

SRC = Path(arrowscope.__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

Run = Callable[..., tuple[int, str, str]]


def run_subprocess(*args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "arrowscope.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arrowscope: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]


# -- without data ---------------------------------------------------------------------------
def test_help_lists_every_command() -> None:
    code, out, _ = run_subprocess("--help")
    assert code == 0
    for name in cli.COMMANDS:
        assert name in out


def test_best_help_documents_the_default_round() -> None:
    code, out, _ = run_subprocess("best", "--help")
    assert code == 0 and "latest round of each client" in " ".join(out.split())


def test_no_command_is_an_error() -> None:
    code, _, err = run_subprocess()
    assert code == 2 and "usage" in err


def test_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no runs here")
    for args in (["summary", missing], ["sql", missing, "select 1"], ["compact", missing]):
        code, out, err = run_subprocess(*args)
        assert_one_line_error(code, err, "no runs here", "Root.at(")
        assert out == ""


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    code, _, err = run_subprocess("best", str(tmp_path), "--top", "0")
    assert code == 2 and "at least 1" in err
    code, _, err = run_subprocess("curves", str(tmp_path))
    assert code == 2 and "--trial" in err


def test_format_table_aligns_wide_characters() -> None:
    text = cli.format_table(
        ["name", "score", "ok"], [("é 漢", 0.5, True), ("it's", None, False), ("x", 12.25, None)]
    )
    lines = text.splitlines()
    assert lines[0] == "name  score  ok"
    assert lines[2] == "é 漢    0.5  true"
    assert lines[3] == "it's         false"
    assert lines[4] == "x     12.25"
    assert lines[-1] == "(3 rows)"


# -- with data ----------------------------------------------------------------------------------
def write_rounds(path: Path) -> None:
    """Three rounds of two clients through the scope API, and an empty project.

    A part is published after each trial of the first round, so that
    compaction has parts to merge.
    """
    root = asc.Root.at(path, flush_interval=3600)
    rnd = RoundWriter(root, ("it's", "é 漢"), "mse")
    rnd.trial({"lr": 0.5, "act": "relu"}, [split([0.5, 0.25]), split([0.75, 0.5])])
    publish(root.repository)
    rnd.trial({"lr": 0.125}, [split([1.0], error=ValueError("x"))])  # FAILED
    publish(root.repository)
    rnd.trial({"lr": 0.25}, [split([0.25, 0.5, 0.125]), split([0.5])])
    rnd.close()
    rnd = RoundWriter(root, ("it's", "é 漢"), "acc")
    rnd.trial({"lr": 0.5}, [split([0.5, 0.75], metric="acc", hib=True)])
    rnd.close()
    rnd = RoundWriter(root, ("vision", "resnet"), "mse")
    rnd.trial({"lr": 0.5}, [split([0.5, NAN_VALUE], more={"acc": ([0.25], True)})])
    rnd.close()
    with root.get_project("empty"):
        pass
    root.close()


NAN_VALUE = math.nan


@pytest.fixture
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    """``run(*args)``; a ``DATA`` argument stands for a directory holding ``write_rounds``."""
    data = tmp_path / "it's runs"
    write_rounds(data)

    def arguments(args: tuple[str, ...]) -> list[str]:
        return [str(data) if a == "DATA" else a for a in args]

    capsys = request.getfixturevalue("capsys")

    def run_in_process(*args: str) -> tuple[int, str, str]:
        code = cli.main(arguments(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run_in_process


def test_the_entry_point_prints_what_main_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "it's runs"
    write_rounds(data)
    for args in (
        ["summary", str(data), "--json"],
        ["best", str(data), "--csv"],
        ["sql", str(data), "select count(*) as n from metrics"],
        ["sql", str(data), "select nonsense"],
    ):
        code, out, err = run_subprocess(*args)
        expected = cli.main(args)
        expected_out, expected_err = capsys.readouterr()
        assert (code, out, err) == (expected, expected_out, expected_err), args


def test_summary(run: Run) -> None:
    code, out, _ = run("summary", "DATA")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["project", "client", "round", "main_metric_name"]
    assert lines[2].split() == ["empty"]
    assert lines[3].split() == ["it's", "é", "漢", "0", "mse", "false", "3", "2", "2", "0.3125"]
    assert lines[-1] == "(4 rows)"


def test_summary_json_and_csv(run: Run) -> None:
    code, out, _ = run("summary", "DATA", "--json")
    assert code == 0
    records = json.loads(out)
    assert [(r["project"], r["client"], r["round"], r["best_score"]) for r in records] == [
        ("empty", None, None, None),
        ("it's", "é 漢", 0, 0.3125),
        ("it's", "é 漢", 1, 0.75),
        ("vision", "resnet", 0, 0.5),
    ]
    code, out, _ = run("summary", "DATA", "--csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert table[1]["client"] == "é 漢" and table[1]["n_trials"] == "3"
    assert table[0]["client"] == ""


def test_best_defaults_to_the_latest_round_of_each_client(run: Run) -> None:
    code, out, _ = run("best", "DATA", "--json")
    assert code == 0
    found = [(r["project"], r["round"], r["rank"], r["trial"], r["score"]) for r in json.loads(out)]
    assert found == [("it's", 1, 1, 0, 0.75), ("vision", 0, 1, 0, 0.5)]


def test_best_of_one_round(run: Run) -> None:
    code, out, _ = run("best", "DATA", "--project", "it's", "--round", "0", "--top", "5", "--csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert [(r["rank"], r["trial"], r["score"]) for r in table] == [
        ("1", "2", "0.3125"),
        ("2", "0", "0.375"),
    ]
    code, out, _ = run("best", "DATA", "--project", "it's", "--round", "0", "--top", "1")
    assert code == 0 and len(out.splitlines()) == 4  # header, rule, one row, count


def test_best_of_an_unknown_round(run: Run) -> None:
    code, out, err = run("best", "DATA", "--project", "it's", "--round", "7")
    assert_one_line_error(code, err, "no round matches", "round=7")
    assert out == ""


def test_curves_of_one_trial(run: Run) -> None:
    code, out, _ = run("curves", "DATA", "--trial", "0", "--project", "it's", "--round", "0")
    assert code == 0
    assert out.splitlines()[0].split() == ["trial", "metric", "phase", "epoch", "value", "n_splits"]
    code, out, _ = run("curves", "DATA", "--trial", "0", "--project", "vision", "--json")
    assert code == 0
    records = json.loads(out)
    valid = [(r["metric"], r["epoch"], r["value"]) for r in records if r["phase"] == "valid"]
    assert valid == [("acc", 1, 0.25), ("mse", 1, 0.5), ("mse", 2, None)]  # NaN -> null


def test_curves_needs_one_round_and_an_existing_trial(run: Run) -> None:
    code, _, err = run("curves", "DATA", "--trial", "0")
    assert_one_line_error(code, err, "rounds match", "--project")
    code, _, err = run("curves", "DATA", "--trial", "9", "--project", "vision")
    assert_one_line_error(code, err, "no trial 9")
    code, _, err = run("curves", "DATA", "--trial", "0", "--project", "vision", "--metric", "f1")
    assert_one_line_error(code, err, "'f1'")


def test_curves_png(run: Run, tmp_path: Path) -> None:
    png = tmp_path / "curves é.png"
    code, out, _ = run(
        "curves", "DATA", "--trial", "0", "--project", "it's", "--round", "0", "--png", str(png)
    )
    assert code == 0 and str(png) in out
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_sql(run: Run) -> None:
    code, out, _ = run("sql", "DATA", "select count(*) as n from trials", "--json")
    assert code == 0 and json.loads(out) == [{"n": 5}]
    name = "x'); drop view metrics; --"
    code, out, _ = run("sql", "DATA", f"select '{name.replace(chr(39), chr(39) * 2)}' as m")
    assert code == 0 and name in out
    code, out, _ = run("sql", "DATA", "select count(*) as n from metrics", "--csv")
    assert code == 0 and out.splitlines()[1] == "28"


def test_bad_sql_is_one_line(run: Run) -> None:
    code, _, err = run("sql", "DATA", "selec * from trials")
    assert_one_line_error(code, err, "syntax error")
    code, _, err = run("sql", "DATA", "select * from no_such_view")
    assert_one_line_error(code, err, "no_such_view")


def test_compact(run: Run) -> None:
    code, out, _ = run("compact", "DATA", "--json")
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"parts_merged", "files_before", "files_after", "bytes_before",
                           "bytes_after"}  # fmt: skip
    assert report["parts_merged"] > 0
    assert report["files_after"] < report["files_before"]
    code, out, _ = run("compact", "DATA", "--json")
    assert code == 0 and json.loads(out)["parts_merged"] == 0  # nothing left to merge
    code, out, _ = run("compact", "DATA")
    assert code == 0 and out.startswith("merged 0")
    code, out, _ = run("sql", "DATA", "select count(*) from trials", "--csv")
    assert out.splitlines()[1] == "5"  # nothing lost or doubled
    code, out, _ = run("sql", "DATA", "select count(*), sum(value) from metrics", "--csv")
    assert out.splitlines()[1].startswith("28,")
