"""Scopes and reports used from several threads, and reports in a forked child."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import arrowscope as asc
from _scopes import open_root, run_split, stub
from arrowscope import TrialStatus
from arrowscope.reports._base import Reader


@pytest.fixture(params=["memory", "parquet"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> asc.Root:
    return open_root(str(request.param), tmp_path / "runs")


def _in_threads(*targets: Callable[[], Any]) -> list[BaseException]:
    """Run each target in its own thread; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], Any]) -> None:
        try:
            target()
        except BaseException as exc:  # collected for the assertion, with its traceback
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


class HistoryReader:
    """An optimizer that reads the round's history (as model-based samplers do)."""

    def find_next_best_hyperparams(self, round_report: Any, space: Any) -> dict[str, Any]:
        n_seen = len(round_report.summary("mse"))
        round_report.get_best_trial_id("mse")
        return {"n_seen": n_seen}


def test_two_threads_log_into_two_trials_of_one_round(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {"x": 1})

        def run(offset: float) -> None:
            for _ in range(2):
                with r.new_rvs_trial() as trial:
                    run_split(trial, [offset + 0.5, offset + 0.25])
                    run_split(trial, [offset + 0.75])
                assert trial.get_avg_validation_score("mse") == offset + 0.5

        errors = _in_threads(lambda: run(0.0), lambda: run(10.0))
        assert errors == []
        assert len(r) == 4
        assert [t.get_status() for t in r] == [TrialStatus.SUCCESS] * 4
        scores = sorted(r[i].get_avg_validation_score("mse") for i in range(4))
        assert scores == [0.5] * 2 + [10.5] * 2
        assert (
            r.get_best_trial_id() is not None
            and r[r.get_best_trial_id()].get_avg_validation_score("mse") == 0.5
        )


def test_a_report_thread_beside_a_search_that_reads_its_history(root: asc.Root) -> None:
    done = threading.Event()
    answers: list[int | None] = []
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        r.with_optimizer(HistoryReader(), asc.HyperparameterSpace({}))

        def search() -> None:
            try:
                for i in range(6):
                    with r.new_rvs_trial() as trial:
                        run_split(trial, [1.0 / (i + 1)])
            finally:
                done.set()

        def report() -> None:
            while not done.is_set():
                answers.append(r.get_best_trial_id())
                r.summary()
                done.wait(0.005)

        errors = _in_threads(search, report)
        assert errors == []
        assert [t.get_status() for t in r] == [TrialStatus.SUCCESS] * 6
        assert [t.get_hyperparams()["n_seen"] for t in r] == list(range(6))
        assert r.get_best_trial_id() == 5 and len(answers) > 0
        assert all(a is None or 0 <= a <= 5 for a in answers)


def test_one_reader_answers_two_threads_at_once(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {"x": 1})
        for values in ([0.5], [0.25], [0.75]):
            with r.new_rvs_trial() as trial:
                run_split(trial, values)
    seen: list[int | None] = []

    def ask() -> None:
        for _ in range(10):
            # a fresh handle every time: no answer cached by the Round object itself
            seen.append(root["default_project"]["default_client"][0].get_best_trial_id())

    assert _in_threads(ask, ask, ask) == []
    assert seen == [1] * 30


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    root = asc.Root.at(tmp_path / "runs", flush_interval=0)
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with r.new_rvs_trial() as trial:
            run_split(trial, [0.5])
    reader: Reader = root._reader

    def best() -> int:  # a question DuckDB answers (``summary`` ranks every trial)
        return int(r.summary()[0][1])

    assert best() == 0
    parent_session = reader._session
    assert parent_session is not None
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # forking with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into pytest
        code = 1
        try:
            dropped = reader._session is None
            found = best()
            fresh = reader._session is not None and reader._session is not parent_session
            os.write(write_end, f"{dropped} {found} {fresh}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    status = _wait_or_kill(pid, timeout=60)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == "True 0 True"
    assert reader._session is parent_session and best() == 0


def _wait_or_kill(pid: int, timeout: float) -> int:
    """The child's wait status; a child still running after ``timeout`` is killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child hung for {timeout} s")


def test_rows_never_vanish_for_a_reader_while_the_writer_checkpoints(tmp_path: Path) -> None:
    """A reader thread pairs ``parquet_files`` and ``pending`` while the background thread
    moves this writer's rows from its log into parts: the row count only grows."""
    repo = asc.ParquetRepository(tmp_path / "runs", flush_interval=0.005, auto_compact_parts=0)
    key = ("p", "c", 0)
    stop = threading.Event()

    def write() -> None:
        trial = 0
        while not stop.is_set():
            repo.append_event(key, level="trial", trial=trial, status="PLANNED")
            repo.flush(key)
            trial += 1
            stop.wait(0.0005)

    counts: list[int] = []

    def read() -> None:
        deadline = time.monotonic() + 2.5
        try:
            while time.monotonic() < deadline:
                files = repo.parquet_files("events")
                pending = repo.pending("events").num_rows
                counts.append(sum(pq.ParquetFile(f).metadata.num_rows for f in files) + pending)
        finally:
            stop.set()

    assert _in_threads(write, read) == []
    repo.close()
    drops = [(a, b) for a, b in itertools.pairwise(counts) if b < a]
    assert drops == [] and counts[-1] > 0
