"""Worker processes writing to an ``s3://`` store, for ``test_objectstore_processes``.

Run as ``python tests/_objectstore_workers.py <command> <args>`` with the S3
server's AWS_* variables in the environment. Each command prints progress
lines on stdout, flushed at once, for the test to follow.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from multiprocessing.synchronize import Barrier

import arrowscope as asc
from arrowscope.store import open_repository

N_LOGGED = 3


def _stub(rnd: asc.Round) -> asc.Round:
    return rnd.with_optimizer(
        asc.HyperparameterSamplerStub({"lr": 0.5}), asc.HyperparameterSpace({})
    )


def log_then_hang(uri: str, spool: str, mode: str) -> None:
    """Log ``N_LOGGED`` values into a running split, print ``logged``, then sleep until killed.

    ``mode`` says how far those values get before ``logged`` is printed:
    ``log`` -- into the spool's log only (no background write-out before the
    kill: ``flush_interval`` is an hour); ``uploaded`` -- checkpointed, so
    uploaded to the bucket with the RUNNING trial and split. The heartbeat
    beats every 0.2 s.
    """
    repo = open_repository(
        uri, spool=spool, flush_interval=3600, heartbeat_interval=0.2, dead_after=1.0
    )
    root = asc.Root.from_repo(None, repo)
    with root.get_project("p") as p, p.get_client("c") as c, c.new_round("mse") as r:
        with _stub(r).new_rvs_trial() as t, t.new_validation_split() as s:
            s.with_n_epochs(100)
            for epoch in range(1, N_LOGGED + 1):
                s.next_epoch()
                with s.managed_metric("mse", higher_score_is_better=False) as m:
                    m.add_valid_result(epoch / 10)
            repo.flush()  # into the spool's log, durable there
            if mode == "uploaded":
                repo.checkpoint()  # into parts, uploaded
            print(f"logged {os.getpid()} {repo.writer_id}", flush=True)
            time.sleep(120)


def race(uri: str, spools: str, racers: str) -> None:
    """Fork ``racers`` processes, each with its own spool (a machine), on one empty client.

    Forked from this process, which imported arrowscope but opened nothing,
    so they start at once. Each racer waits at a barrier, opens project ``p``
    and client ``c``, waits again, resumes the client's last round, starts a
    trial, logs ``N_LOGGED`` values ``racer + epoch / 10`` and prints
    ``<racer> <round> <trial>``. Exits non-zero if a racer failed.
    """
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(int(racers))
    procs = [
        context.Process(target=_racer, args=(uri, f"{spools}/{i}", i, barrier))
        for i in range(int(racers))
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    sys.exit(max(abs(proc.exitcode or 0) for proc in procs))


def _racer(uri: str, spool: str, racer: int, barrier: Barrier) -> None:
    root = asc.Root.at(uri, spool=spool, flush_interval=0.5)
    barrier.wait(timeout=60)
    with root.get_project("p") as p, p.get_client("c") as c:
        barrier.wait(timeout=60)
        with c.resume_last_round() as r, _stub(r).new_rvs_trial() as t:
            with t.new_validation_split() as s:
                s.with_n_epochs(N_LOGGED)
                for epoch in range(1, N_LOGGED + 1):
                    s.next_epoch()
                    with s.managed_metric("mse", higher_score_is_better=False) as m:
                        m.add_valid_result(racer + epoch / 10)
            # one write per line: the racers share the pipe
            line = f"{racer} {r.round_number} {t.get_id()}\n"
    os.write(sys.stdout.fileno(), line.encode())
    root.close()


COMMANDS = {"log-then-hang": log_then_hang, "race": race}

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
