"""Several processes on one round: real subprocesses sharing a Parquet directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

import arrowscope as asc
from _scopes import run_trial
from arrowscope import TrialStatus

pytestmark = pytest.mark.slow  # real subprocesses

ROOT_DIR = Path(__file__).resolve().parents[1]
SCOPE_WORKERS = Path(__file__).with_name("_scope_workers.py")

ONE_TRIAL = textwrap.dedent(
    """
    import sys, time
    import arrowscope as asc
    root = asc.Root.at(sys.argv[1])
    space = asc.HyperparameterSpace({"x": asc.Uniform(0, 1)})
    with root.default_project() as p, p.default_client() as c, c.resume_last_round() as r:
        r.with_optimizer(asc.RandomSearch(seed=None), space)
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            s.with_n_epochs(1)
            s.next_epoch()
            time.sleep(float(sys.argv[2]))
            with s.managed_metric("mse", False) as m:
                m.add_valid_result(t.get_id() / 10)
        print(t.get_id(), len(r))
    """
)


def _spawn(directory: Path, sleep: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ONE_TRIAL, str(directory), str(sleep)],
        cwd=ROOT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_s29_concurrent_trials_get_distinct_ids(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    with asc.Root.at(directory).default_project() as p, p.default_client() as c:
        with c.new_round("mse"):
            pass
    procs = [_spawn(directory, 0.5) for _ in range(3)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    ids = sorted(int(out.split()[0]) for out, _err in outputs)
    assert ids == [0, 1, 2]
    rnd = asc.Root.at(directory)["default_project"]["default_client"][0]
    assert len(rnd) == 3
    assert [t.get_status() for t in rnd] == [TrialStatus.SUCCESS] * 3
    assert sorted(t[0]["mse"].get_valid_scores()[0] for t in rnd) == [0.0, 0.1, 0.2]
    assert rnd.get_best_trial_id() == 0


def test_a_second_process_resumes_the_round_and_sees_the_first_ones_trials(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "runs"
    root = asc.Root.at(directory)
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"x": 0.5}, [0.75, 0.5])
        run_trial(r, {"x": 0.25}, [0.25])
    proc = _spawn(directory, 0.0)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    trial_id, seen = map(int, out.split())
    assert (trial_id, seen) == (2, 3)
    assert len(r) == 3
    assert r[2].get_status() is TrialStatus.SUCCESS
    assert r.get_best_trial_id() == 2
    assert r[0].get_hyperparams() == {"x": 0.5}
    with asc.Root.at(directory).default_project() as p, p.default_client() as c:
        with c.optim_round(False, "mae"):
            pass
    assert r.main_metric_name == "mse"  # this handle's view, until it refreshes
    assert r.refresh().main_metric_name == "mae"


LONG_SPLIT = textwrap.dedent(
    """
    import sys, time
    import arrowscope as asc
    root = asc.Root.at(sys.argv[1], flush_interval=0.2)
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        r.with_optimizer(asc.HyperparameterSamplerStub({}), asc.HyperparameterSpace({}))
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("mse", False) as m:
                m.add_valid_result(0.5)
                m.add_valid_result(0.25)
            print("logged", flush=True)
            time.sleep(60)
    """
)


def test_a_running_split_is_written_out_in_the_background(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-c", LONG_SPLIT, str(directory)],
        cwd=ROOT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "logged"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _plain_values(directory):
            time.sleep(0.1)
        # The writer is alive and idle, yet plain readers see what it logged.
        assert _plain_values(directory) == [0.5, 0.25]
    finally:
        proc.kill()
        proc.communicate()
    rnd = asc.Root.at(directory)["default_project"]["default_client"][0]
    # Killed inside its block: the next process to open the directory ends it ABORTED.
    assert rnd[0].get_status() is TrialStatus.ABORTED
    assert rnd[0][0].get_status() is TrialStatus.ABORTED  # it was PLANNED: no epoch started
    assert rnd[0].error is not None and rnd[0].error.startswith("WriterDied: ")
    assert rnd[0][0]["mse"].get_valid_scores() == [0.5, 0.25]


def _plain_values(directory: Path) -> list[float]:
    files = sorted(directory.glob("metrics/**/*.parquet"))
    if not files:
        return []
    table = duckdb.sql(
        "select value from read_parquet($files) order by epoch",
        params={"files": [str(f) for f in files]},
    )
    return [row[0] for row in table.fetchall()]


RACERS = 8
ATTEMPTS = 3


def test_racing_processes_resume_one_round_and_create_each_name_once(tmp_path: Path) -> None:
    """8 processes open the same new project and client, then resume its last round.

    Repeated 3 times (a new project each time): the name directories and
    round 0 are claimed by exactly one process, which alone writes their
    records; the others join.
    """
    directory = tmp_path / "runs"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT_DIR / "src"))
    command = [sys.executable, str(SCOPE_WORKERS), "race", str(directory), ATTEMPTS, RACERS]
    proc = subprocess.run(
        list(map(str, command)), capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    rounds: dict[int, list[int]] = {}
    for line in proc.stdout.splitlines():
        _, attempt, number = line.split()
        rounds.setdefault(int(attempt), []).append(int(number))
    assert rounds == {attempt: [0] * RACERS for attempt in range(ATTEMPTS)}
    root = asc.Root.at(directory)
    projects = [f"p{i}" for i in range(ATTEMPTS)]
    assert [p.get_id() for p in root] == sorted(["default_project", *projects])
    for name in projects:
        assert [c.get_id() for c in root[name]] == ["c"]
        assert [r.get_id() for r in root[name]["c"]] == [0]
    catalog = duckdb.sql(
        "select project, coalesce(client, ''), count(*) "
        "from read_parquet($files, hive_partitioning = true) group by all order by all",
        params={"files": [str(f) for f in directory.glob("catalog/**/*.parquet")]},
    ).fetchall()
    assert catalog == sorted([(p, "", 1) for p in projects] + [(p, "c", 1) for p in projects])
    events = asc.connect(directory).sql(
        "select project, count(*) from events where level = 'round' group by all order by all"
    )
    assert events.fetchall() == [(p, 1) for p in sorted(projects)]
