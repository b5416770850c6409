"""``s3://`` stores written by real processes on a real S3 server (SeaweedFS).

A *machine* is a spool: processes given different spools share nothing but
the bucket, as on different hosts.

* A writer killed with ``kill -9`` mid-split: the next process on its machine
  recovers its log, uploads it and ends the trial ABORTED; other machines and
  plain polars see that.
* A machine that dies for good: its heartbeat goes stale, and a process on
  another machine ends its running trial ABORTED; what it had uploaded stays.
* 8 machines racing on one empty client: one round, dense distinct trials.
* AutoML on S3 with a Dask cluster and with a process pool.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl
import pytest

import arrowscope as asc
from _objectstore_workers import N_LOGGED
from _parallel import DATA, N_EPOCHS, N_FOLDS, automl, check_round
from _s3server import S3Bucket
from arrowscope import TrialStatus
from arrowscope.query import session_of
from arrowscope.readers import hive_schema
from arrowscope.store import open_repository
from test_objectstore import Later, later

__all__ = ["later"]  # a fixture

pytestmark = pytest.mark.slow  # a server process and real worker processes

ROOT_DIR = Path(__file__).resolve().parents[1]
WORKERS = Path(__file__).with_name("_objectstore_workers.py")


@pytest.fixture
def worker_env(s3_env: S3Bucket) -> dict[str, str]:
    """The environment of worker processes: the server's AWS_* variables, arrowscope's source."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT_DIR / "src"), env.get("PYTHONPATH")) if p
    )
    return env


@pytest.fixture
def start(worker_env: dict[str, str]) -> Iterator[object]:
    """Start ``python tests/_objectstore_workers.py <args>``; killed after the test."""
    started: list[subprocess.Popen[str]] = []

    def run(*args: object) -> subprocess.Popen[str]:
        command = [sys.executable, str(WORKERS), *map(str, args)]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env=worker_env, cwd=ROOT_DIR
        )
        started.append(proc)
        return proc

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _kill_when_logged(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the worker's ``logged <pid> <writer>`` line, then ``kill -9`` it."""
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[:1] == ["logged"], f"the worker did not log: {line}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return int(line[1]), line[2]


def _polars(bucket: S3Bucket, table: str = "metrics") -> pl.DataFrame:
    return pl.scan_parquet(
        f"{bucket.uri}/runs/{table}/**/*.parquet",
        hive_partitioning=True,
        hive_schema=hive_schema(table),
        storage_options=bucket.server.polars_options(),
    ).collect()


def _keys(bucket: S3Bucket, prefix: str) -> list[str]:
    listed = bucket.server.client().list_objects_v2(Bucket=bucket.name, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def _only_trial(uri: str, spool: Path, later: Later) -> asc.Trial:
    root = later(asc.Root.at(uri, spool=spool))
    rnd = root["p"]["c"][0]
    assert len(rnd) == 1
    return rnd[0]


EXPECTED = [epoch / 10 for epoch in range(1, N_LOGGED + 1)]


def test_a_killed_writer_is_recovered_by_the_next_process_on_its_machine(
    s3_env: S3Bucket, tmp_path: Path, start: object, later: Later
) -> None:
    uri = f"{s3_env.uri}/runs"
    spool = tmp_path / "machine-a"
    proc = start("log-then-hang", uri, spool, "log")  # type: ignore[operator]
    pid, writer = _kill_when_logged(proc)
    # What it logged is in its spool's log only: nothing reached the bucket.
    assert list(spool.glob("**/*.aslog"))
    assert not _keys(s3_env, "runs/metrics/")
    assert f"runs/_writers/{writer}.json" in _keys(s3_env, "runs/_writers/")

    # The next process on the same machine (same spool) opens the store: it
    # recovers the log, ends the trial ABORTED and uploads both.
    recovering = open_repository(uri, spool=spool)
    recovering.close()
    writers = _keys(s3_env, "runs/_writers/")
    assert f"runs/_writers/{writer}.aborted" in writers
    assert f"runs/_writers/{writer}.json" not in writers

    # Another machine sees it through arrowscope ...
    trial = _only_trial(uri, tmp_path / "machine-b", later)
    assert trial.get_status() is TrialStatus.ABORTED
    assert trial.error is not None and trial.error.startswith("WriterDied: ")
    assert f"writer {writer} (pid {pid} on host " in trial.error
    assert trial[0].get_status() is TrialStatus.ABORTED
    assert trial[0]["mse"].get_valid_scores() == EXPECTED
    db = asc.connect(uri, spool=tmp_path / "machine-c")
    later(session_of(db))
    assert db.sql("select status from trials").fetchall() == [("ABORTED",)]
    # ... and plain polars reads the bucket.
    frame = _polars(s3_env).sort("epoch")
    assert frame["value"].to_list() == EXPECTED
    assert frame.select("project", "client", "round").unique().rows() == [("p", "c", 0)]
    trials = _polars(s3_env, "events").filter(pl.col("level") == "trial")
    assert "ABORTED" in trials["status"].to_list()


def test_a_machine_that_dies_is_ended_by_another_machine(
    s3_env: S3Bucket, tmp_path: Path, start: object, later: Later
) -> None:
    uri = f"{s3_env.uri}/runs"
    proc = start("log-then-hang", uri, tmp_path / "machine-a", "uploaded")  # type: ignore[operator]
    pid, writer = _kill_when_logged(proc)
    # Its spool is never opened again. Before dead_after, it counts as alive.
    early = open_repository(
        uri, spool=tmp_path / "machine-b", heartbeat_interval=0.2, dead_after=30.0
    )
    early.close()
    assert f"runs/_writers/{writer}.aborted" not in _keys(s3_env, "runs/_writers/")
    time.sleep(2.2)  # > dead_after=1.0 below, in the server's whole seconds

    survivor = open_repository(
        uri, spool=tmp_path / "machine-b", heartbeat_interval=0.2, dead_after=1.0
    )
    survivor.close()
    trial = _only_trial(uri, tmp_path / "machine-c", later)
    assert trial.get_status() is TrialStatus.ABORTED
    assert trial.error is not None and trial.error.startswith("WriterDied: ")
    assert f"writer {writer} (pid {pid} on host " in trial.error
    assert trial[0].get_status() is TrialStatus.ABORTED
    assert trial[0]["mse"].get_valid_scores() == EXPECTED  # what it had uploaded
    writers = _keys(s3_env, "runs/_writers/")
    assert f"runs/_writers/{writer}.aborted" in writers
    assert f"runs/_writers/{writer}.json" not in writers
    # A later process does not end it again: one ABORTED event for the trial.
    again = open_repository(
        uri, spool=tmp_path / "machine-d", heartbeat_interval=0.2, dead_after=1.0
    )
    again.close()
    events = _polars(s3_env, "events").filter(pl.col("level") == "trial")
    assert events["status"].to_list().count("ABORTED") == 1
    assert _polars(s3_env)["value"].sort().to_list() == EXPECTED


RACERS = 8


def test_machines_racing_on_an_empty_client_share_one_round(
    s3_env: S3Bucket, tmp_path: Path, worker_env: dict[str, str], later: Later
) -> None:
    uri = f"{s3_env.uri}/runs"
    command = [sys.executable, str(WORKERS), "race", uri, tmp_path / "spools", RACERS]
    proc = subprocess.run(
        list(map(str, command)), capture_output=True, text=True, env=worker_env, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    lines = [tuple(map(int, line.split())) for line in proc.stdout.splitlines()]
    assert sorted(racer for racer, _, _ in lines) == list(range(RACERS))
    assert {rnd for _, rnd, _ in lines} == {0}
    trial_of = {racer: trial for racer, _, trial in lines}
    assert sorted(trial_of.values()) == list(range(RACERS))
    beating = [k for k in _keys(s3_env, "runs/_writers/") if k.endswith(".json")]
    assert not beating  # every racer closed cleanly, deleting its heartbeat

    db = asc.connect(uri, spool=tmp_path / "reader")
    later(session_of(db))
    assert db.sql("select project, client, round from rounds").fetchall() == [("p", "c", 0)]
    trials = db.sql("select trial, status from trials order by trial").fetchall()
    assert trials == [(t, "SUCCESS") for t in range(RACERS)]
    rows = db.sql("select trial, epoch, value from metrics where phase = 'valid'").fetchall()
    assert sorted(rows) == sorted(
        (trial_of[racer], epoch, racer + epoch / 10)
        for racer in range(RACERS)
        for epoch in range(1, N_LOGGED + 1)
    )
    assert _polars(s3_env).height == RACERS * N_LOGGED
    catalog = _polars(s3_env, "catalog")
    assert sorted(catalog["client"].to_list(), key=str) == [None, "c"]  # each name once


# -- AutoML on S3 ----------------------------------------------------------------------------
@pytest.fixture
def machine(s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The bucket's ``runs`` URI, with this machine's spool in $ARROWSCOPE_SPOOL."""
    monkeypatch.setenv("ARROWSCOPE_SPOOL", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)
    return f"{s3_env.uri}/runs"


def _check_elsewhere(
    uri: str, bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rounds: int
) -> list[int]:
    """``check_round`` on another machine (a new spool); returns each round's best trial."""
    monkeypatch.setenv("ARROWSCOPE_SPOOL", str(tmp_path / "reader"))
    reader = open_repository(uri)
    try:
        best = [check_round(reader, number, 8) for number in range(rounds)]  # type: ignore[arg-type]
    finally:
        reader.close()
    assert (
        _polars(bucket).filter(pl.col("split") >= 0).height == rounds * 8 * N_FOLDS * 2 * N_EPOCHS
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("s3")]
    return best


def test_automl_on_s3_with_a_dask_cluster(
    machine: str, s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: Later
) -> None:
    from distributed import Client, LocalCluster

    root = later(asc.Root.at(machine))  # the workers open the store from its URI

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",  # not 8787, which another cluster may hold
        host="127.0.0.1",
    )
    with cluster, Client(cluster) as client:
        search = automl(root, 8, executor=client.get_executor())  # type: ignore[arg-type]
        result = search.fit(DATA)
    (best,) = _check_elsewhere(machine, s3_env, tmp_path, monkeypatch, rounds=1)
    assert best == result.best_trial_number


def test_automl_on_s3_with_a_process_pool(
    machine: str, s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: Later
) -> None:
    root = later(asc.Root.at(machine))
    # spawn: the workers start now, with this test's AWS_* variables.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        result = automl(root, 8, executor=pool).fit(DATA)  # type: ignore[arg-type]
    (best,) = _check_elsewhere(machine, s3_env, tmp_path, monkeypatch, rounds=1)
    assert best == result.best_trial_number
