"""Trials of one round run in parallel through a ``concurrent.futures.Executor``.

The parent process submits one :class:`~arrowscope.automl.worker.TrialTask` per
trial; each worker opens the repository from its location, re-opens the round
by number and runs the trial there. Nothing open crosses a process boundary,
so any executor works: a ``ProcessPoolExecutor``, Dask's
``distributed.Client.get_executor()``, an executor over Ray tasks (see the
README), or a ``ThreadPoolExecutor`` (each thread opens its own repository).

Optimizers cross the boundary by pickling: a copy proposes in each worker, from
the round's stored history. An optimizer that keeps its own random generator
would repeat the same draws in every copy, so the parent hands each trial
``optimizer.spawn()`` when the optimizer has that method (``RandomSearch`` does:
a seeded parallel search proposes the same set of points on every run).
History-driven optimizers (``GridSearch``) see every trial claimed before they
propose, running ones included; trials that start at the same moment see the
same history and may get the same proposal.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait

from arrowscope.aggregates import Root
from arrowscope.automl.worker import TrialOutcome, TrialTask
from arrowscope.hyperparams import HyperparameterOptimizer

__all__ = ["check_n_jobs", "process_pool", "run_tasks", "spawned", "worker_location"]


def check_n_jobs(n_jobs: int | None) -> int | None:
    """``n_jobs`` checked: None, an int >= 1, or -1 for every core.

    Raises:
        ValueError: Any other value.
    """
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise ValueError(
            f"n_jobs={n_jobs!r}: expected None (one trial at a time, or all that the "
            "executor accepts), an int >= 1, or -1 for one worker per core"
        )
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def process_pool(n_jobs: int) -> ProcessPoolExecutor:
    """A pool of ``n_jobs`` fresh worker processes.

    Workers are started by ``forkserver`` (``spawn`` where it is missing), not
    ``fork``: a forked child would inherit the parent's open repository, its
    background writer thread and its locks mid-flight.
    """
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    return ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context(method))


def spawned(optimizer: HyperparameterOptimizer) -> HyperparameterOptimizer:
    """``optimizer.spawn()`` when it has one (an independent copy), else ``optimizer``."""
    spawn = getattr(optimizer, "spawn", None)
    if callable(spawn):
        child: HyperparameterOptimizer = spawn()
        return child
    return optimizer


def worker_location(root: Root) -> str:
    """Where workers open ``root``'s repository (its directory or URI).

    Raises:
        ValueError: The repository is in memory: other processes cannot reach it.
    """
    location = root.repository.location
    if location is None:
        raise ValueError(
            "AutoML(executor=..., n_jobs=...) runs trials in other processes, which open "
            "the repository from its location; an in-memory root has none: pass "
            "root=<directory> (or Root.at(<directory>))"
        )
    return location


def run_tasks(
    executor: Executor | None,
    n_jobs: int | None,
    make_task: Callable[[], TrialTask],
    n_trials: int,
    on_done: Callable[[TrialOutcome], None],
) -> None:
    """Run ``n_trials`` tasks through ``executor``, at most ``n_jobs`` at once.

    Without an executor, a :func:`process_pool` of ``n_jobs`` workers is made for
    the call and shut down after it. ``make_task`` is called in the parent just
    before each submission. Outcomes are handed to ``on_done`` as trials finish,
    in completion order. After the first task that raises, nothing more is
    submitted and tasks not started yet are cancelled; the ones running are
    waited for (their trials end as they would), then the first error is raised.

    Raises:
        BaseException: The first error a task raised, or an interrupt of the wait.
    """
    if executor is None:
        with process_pool(n_jobs or 1) as pool:
            _run(pool, make_task, n_trials, n_jobs, on_done)
    else:
        _run(executor, make_task, n_trials, n_jobs, on_done)


def _run(
    executor: Executor,
    make_task: Callable[[], TrialTask],
    n_trials: int,
    max_in_flight: int | None,
    on_done: Callable[[TrialOutcome], None],
) -> None:
    window = n_trials if max_in_flight is None else max(1, max_in_flight)
    pending: set[Future[TrialOutcome]] = set()
    submitted = 0
    error: BaseException | None = None
    try:
        while True:
            while error is None and submitted < n_trials and len(pending) < window:
                pending.add(executor.submit(make_task()))
                submitted += 1
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled():
                    continue
                failure = future.exception()
                if failure is None:
                    on_done(future.result())
                elif error is None:
                    error = failure
                    pending = _cancel_waiting(pending)
    except BaseException:
        _cancel_waiting(pending)
        raise
    if error is not None:
        raise error


def _cancel_waiting(pending: set[Future[TrialOutcome]]) -> set[Future[TrialOutcome]]:
    """Cancel what has not started; returns what is still running."""
    return {f for f in pending if not f.cancel()}
