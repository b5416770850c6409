"""Worker processes for the signal and race tests, driven through the scope API.

Run as ``python tests/_scope_workers.py <command> <args>``. Each command
prints progress lines on stdout, flushed at once, for the test to follow.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from types import FrameType

import duckdb

import arrowscope as asc
from arrowscope.store import ParquetRepository


def _stub(rnd: asc.Round) -> asc.Round:
    return rnd.with_optimizer(
        asc.HyperparameterSamplerStub({"lr": 0.5}), asc.HyperparameterSpace({})
    )


def log_until_stopped(root_dir: str, mode: str) -> None:
    """Log one value per epoch into one split until a signal ends it, or ``<root_dir>.stop``.

    ``mode`` is how SIGTERM is handled before arrowscope is imported into use:
    ``default`` (nothing installed), ``chained`` (a handler that returns the
    first time and calls ``sys.exit(7)`` the second) or ``ignored`` (SIG_IGN).
    Prints ``logged 3`` once three values are logged, ``handled N`` from the
    chained handler, and ``done`` when the blocks exit normally.
    """
    calls: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)
        print(f"handled {len(calls)}", flush=True)
        if len(calls) >= 2:
            sys.exit(7)

    if mode == "chained":
        signal.signal(signal.SIGTERM, handler)
    elif mode == "ignored":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stop = Path(f"{root_dir}.stop")
    root = asc.Root.at(root_dir, flush_interval=0.2)
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        with _stub(r).new_rvs_trial() as t, t.new_validation_split() as s:
            s.with_n_epochs(10_000)
            for epoch in range(1, 10_001):
                s.next_epoch()
                with s.managed_metric("mse", higher_score_is_better=False) as m:
                    m.add_valid_result(float(epoch))
                if epoch == 3:
                    print("logged 3", flush=True)
                if epoch > 3 and stop.exists():
                    break
                time.sleep(0.005)
    print("done", flush=True)


def query_until_terminated(root_dir: str) -> None:
    """Run a DuckDB query calling a slow Python function inside a split, until SIGTERM.

    The ``Terminated`` raised inside the function reaches the caller as
    DuckDB's ``InvalidInputException``: the scopes must still end ABORTED.
    """
    con = duckdb.connect()
    con.execute("SET threads = 1")  # the function runs in the main thread, which gets signals
    con.create_function("slow", _slow)
    root = asc.Root.at(root_dir, flush_interval=0.2)
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        with _stub(r).new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("mse", higher_score_is_better=False) as m:
                m.add_valid_result(0.5)
            print("querying", flush=True)
            con.sql("select sum(slow(range::BIGINT)) from range(1000000)").fetchall()
    print("done", flush=True)


def _slow(x: int) -> int:
    time.sleep(0.001)
    return x


def flush_until_terminated(root_dir: str) -> None:
    """Append a value and flush, in a loop, until SIGTERM; print how many were appended.

    The signal lands, most of the time, while the repository moves rows from
    its buffers to its log: none of them may be lost.
    """
    repo = ParquetRepository(root_dir, flush_interval=0.2)
    asc.Root.from_repo(None, repo)  # a Root installs the SIGTERM handler
    key = ("p", "c", repo.allocate("p", "c"))
    buffer = repo.metric_buffer(key, 0, 0, "mse")
    print("running", flush=True)
    try:
        epoch = 0
        while True:
            epoch += 1
            buffer.valid.append(float(epoch))
            buffer.valid_at.append(time.time_ns())
            repo.append_event(key, level="split", trial=0, split=0, status="RUNNING")
            repo.flush(key)
    finally:
        print(f"logged {len(buffer.valid_at)}", flush=True)


def race(root_dir: str, attempts: str, racers: str) -> None:
    """Fork ``racers`` processes that race ``attempts`` times; exit non-zero if one failed.

    Forked from this process, which imported arrowscope once but opened
    nothing, so they start at once. Per attempt every racer waits at a
    barrier, opens project ``p<attempt>`` and client ``c``, waits again, then
    resumes the client's last round and prints ``round <attempt> <number>``.
    """
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(int(racers))
    procs = [
        context.Process(target=_racer, args=(root_dir, int(attempts), barrier))
        for _ in range(int(racers))
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    sys.exit(max(abs(proc.exitcode or 0) for proc in procs))


def _racer(root_dir: str, attempts: int, barrier: Barrier) -> None:
    root = asc.Root.at(root_dir, flush_interval=0)
    for attempt in range(attempts):
        barrier.wait(timeout=60)
        with root.get_project(f"p{attempt}") as p, p.get_client("c") as c:
            barrier.wait(timeout=60)
            with c.resume_last_round() as r:
                # one write per line: the racers share the pipe
                os.write(sys.stdout.fileno(), f"round {attempt} {r.round_number}\n".encode())
    root.close()


def hang_in_trial_1(root_dir: str) -> None:
    """Trial 0 succeeds; trial 1 logs 5 values in split 0, prints ``ready``, then hangs."""
    root = asc.Root.at(root_dir, flush_interval=0.05)
    space = asc.HyperparameterSpace({"lr": asc.Uniform(0.0, 1.0)})
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round("acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), space)
            for trial_number in range(2):
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("acc", higher_score_is_better=True) as m:
                        for epoch in range(5):
                            m.add_valid_result(0.1 * (epoch + 1))
                    if trial_number == 1:
                        time.sleep(0.3)  # the background writer logs the values
                        print("ready", flush=True)
                        time.sleep(3600)


COMMANDS = {
    "hang-in-trial-1": hang_in_trial_1,
    "log-until-stopped": log_until_stopped,
    "flush-until-terminated": flush_until_terminated,
    "query-until-terminated": query_until_terminated,
    "race": race,
}

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
