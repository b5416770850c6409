"""Several worker processes writing one round: aggregate values/s against one worker.

Run: ``python benchmarks/bench_parallel.py`` (with arrowscope importable); prints a
markdown table (``--json`` for one JSON object).

For each worker count (1, 2, 4, 8 by default) a ``ProcessPoolExecutor`` of that
many fresh processes (forkserver) is started and warmed up (every worker has
imported arrowscope), then ``AutoML(..., executor=pool).fit(data)`` writes one
new round of ``--trials`` trials into a fresh directory on local disk, each
trial ``--splits`` validation splits × ``--epochs`` epochs × ``--metrics``
metrics × train and valid, through the seed idiom (``next_epoch``, then one
``managed_metric`` block per metric). The objective computes nothing else, so
the figure is the tracker's own write throughput: opening the round in each
worker, proposing, claiming trial numbers, logging, and the durable log append
at every split exit. The timed span is the whole ``fit`` (the parent's round
creation and final report included; pool start-up excluded, reported apart).
Values per CPU-second (the parent's and every worker's CPU time during the
``fit``) say what the work costs whatever else runs on the machine: flat across
worker counts means the workers do not get in each other's way.

A row "in-process" runs the same ``fit`` with no executor (the sequential path).
Settings are interleaved within each repeat, so that drifting machine load hits
them alike; the table shows the median and the range over the repeats.

Object storage, side by side with local disk in the same run: ``--s3`` starts
a SeaweedFS server (``_seaweed.py``) and writes every S3 round into a bucket
on it; ``--uri s3://bucket/prefix`` uses an existing store instead (configured
by the ``AWS_*`` variables). Each S3 run writes under a new sub-prefix, with
its local spool under ``.scratch``; the same settings then run on local disk
and on S3, interleaved, and each store gets its table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import arrowscope as asc
from arrowscope.automl import AutoML, KFoldCrossValidationSplitter
from arrowscope.query import QuerySession
from arrowscope.store._mirror import spool_for

SPACE = {"lr": asc.LogUniform(1e-4, 1e-1), "depth": asc.RandInt(1, 8)}


def objective(split: asc.TrialSplit, hps: dict[str, Any], train: Any, valid: Any) -> None:
    """Logs ``hps["n_metrics"]`` metrics, train and valid, per epoch; nothing else."""
    names = [f"metric{m}" for m in range(hps["n_metrics"])]
    floor = hps["lr"] * 10
    for _ in range(split.n_epochs):
        epoch = split.next_epoch()
        for name in names:
            with split.managed_metric(name, higher_score_is_better=False) as metric:
                metric.add_train_result(floor + 1.0 / epoch)
                metric.add_valid_result(floor + 1.2 / epoch)


_barrier: Any = None  # in each worker: the pool's barrier, from the initializer


def _arrive(barrier: Any) -> None:
    """A worker's initializer (arrowscope was imported with this module)."""
    global _barrier
    _barrier = barrier


def _cpu_seconds(_: int) -> tuple[int, float]:
    """This worker's CPU seconds so far, once every worker has one of these tasks.

    A worker waiting at the barrier cannot take a second task, so ``n`` such tasks
    submitted at once land one on each of the ``n`` workers (starting them all).
    """
    _barrier.wait(timeout=600)
    return os.getpid(), time.process_time()


def _workers_cpu(pool: ProcessPoolExecutor, workers: int) -> dict[int, float]:
    return dict(pool.map(_cpu_seconds, range(workers)))


def _pool(workers: int) -> tuple[ProcessPoolExecutor, float, dict[int, float]]:
    """A started pool, every worker up; its start-up seconds and its workers' CPU seconds."""
    start = time.perf_counter()
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_arrive, initargs=(context.Barrier(workers),)
    )
    cpu = _workers_cpu(pool, workers)
    assert len(cpu) == workers, cpu
    return pool, time.perf_counter() - start, cpu


def one_run(
    workers: int | None, args: argparse.Namespace, scratch: Path, uri: str | None = None
) -> dict[str, Any]:
    """One fit into a fresh directory (or a fresh prefix under ``uri``); ``workers=None``
    is the in-process path.

    CPU seconds are the parent's plus every worker's during the ``fit``.
    """
    directory = Path(tempfile.mkdtemp(dir=scratch))
    location = f"{uri.rstrip('/')}/run-{uuid.uuid4().hex[:12]}" if uri else str(directory)
    pool, startup, cpu_before = _pool(workers) if workers else (None, 0.0, {})
    start, parent_cpu = time.perf_counter(), time.process_time()
    root = asc.Root.at(location)  # in the timed span, as when AutoML opens it itself
    automl = AutoML(
        objective,
        {**SPACE, "n_metrics": args.metrics},
        root=root,
        main_metric="metric0",
        n_trials=args.trials,
        epochs=args.epochs,
        optimizer=asc.RandomSearch(seed=0),
        splitter=KFoldCrossValidationSplitter(args.splits),
        refit_best_trial=False,
        show_progress=False,
        executor=pool,
    )
    data = list(range(args.splits * 2))
    try:
        result = automl.fit(data)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - parent_cpu
        if pool is not None:
            after = _workers_cpu(pool, len(cpu_before))
            cpu += sum(after[pid] - cpu_before[pid] for pid in cpu_before)
    finally:
        if pool is not None:
            pool.shutdown()
        root.close()  # an S3 repository left open would keep polling the store
    values = args.trials * args.splits * args.epochs * args.metrics * 2
    with QuerySession.open(location) as session:
        ((stored,),) = session.connection.sql("select count(*) from metrics").fetchall()
    assert stored == values, (stored, values)
    assert len(result.report) == args.trials
    shutil.rmtree(directory)
    if uri:
        shutil.rmtree(spool_for(location), ignore_errors=True)
    return {
        "seconds": seconds,
        "values_per_s": values / seconds,
        "startup_s": startup,
        "values_per_cpu_s": values / cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--append", type=Path, help="also append the table to this markdown file")
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--s3", action="store_true", help="also on S3: start SeaweedFS here")
    store.add_argument("--uri", help="also on this object store (s3://bucket/prefix)")
    args = parser.parse_args()
    started = time.perf_counter()
    with _stores(args, SCRATCH) as stores:
        rows = measure(args, stores)
    if args.json:
        output = {"args": {**vars(args), "append": None}, "rows": rows["local disk"]}
        print(json.dumps({**output, "stores": rows}))
        return
    seconds = time.perf_counter() - started
    text = "\n".join(_table(store_rows, args, seconds, name) for name, store_rows in rows.items())
    print(text)
    if args.append is not None:
        with args.append.open("a") as out:
            out.write(f"\n## Parallel workers: one round (`bench_parallel.py`)\n\n{text}")


SCRATCH = Path(__file__).resolve().parent / ".scratch"  # the repository's disk, not /tmp


@contextlib.contextmanager
def _stores(args: argparse.Namespace, scratch: Path) -> Iterator[dict[str, str | None]]:
    """Store name → base URI (None: local disk) for the stores the arguments ask for."""
    if args.s3:
        from _seaweed import new_bucket, seaweed

        with seaweed(scratch) as server:
            yield {"local disk": None, "S3 (SeaweedFS)": new_bucket(server)}
    elif args.uri:
        yield {"local disk": None, args.uri: args.uri}
    else:
        yield {"local disk": None}


def measure(
    args: argparse.Namespace, stores: dict[str, str | None]
) -> dict[str, list[dict[str, Any]]]:
    """Every worker count on every store, ``args.repeat`` times, interleaved; rows per store.

    An S3 store's spools go under ``.scratch`` (``ARROWSCOPE_SPOOL``, set before
    any pool starts: the forkserver's workers inherit the environment it had).
    """
    counts: list[int | None] = [None, *(int(w) for w in args.workers.split(","))]
    runs: dict[str, dict[int | None, list[dict[str, Any]]]] = {
        name: {c: [] for c in counts} for name in stores
    }
    SCRATCH.mkdir(exist_ok=True)
    spool = Path(tempfile.mkdtemp(prefix="spool-", dir=SCRATCH))
    saved = os.environ.get("ARROWSCOPE_SPOOL")
    os.environ["ARROWSCOPE_SPOOL"] = str(spool)
    try:
        for _ in range(args.repeat):
            for count in counts:
                for name, uri in stores.items():
                    runs[name][count].append(one_run(count, args, SCRATCH, uri))
    finally:
        if saved is None:
            os.environ.pop("ARROWSCOPE_SPOOL", None)
        else:
            os.environ["ARROWSCOPE_SPOOL"] = saved
        shutil.rmtree(spool, ignore_errors=True)
    return {name: _rows(store_runs) for name, store_runs in runs.items()}


def _rows(runs: dict[int | None, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    base = statistics.median(r["values_per_s"] for r in runs[min(c for c in runs if c)])
    rows = []
    for count, results in runs.items():
        rates = [r["values_per_s"] for r in results]
        rows.append(
            {
                "workers": count,
                "values_per_s": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "ratio": statistics.median(rates) / base,
                "fit_s": statistics.median(r["seconds"] for r in results),
                "startup_s": statistics.median(r["startup_s"] for r in results),
                "values_per_cpu_s": statistics.median(r["values_per_cpu_s"] for r in results),
            }
        )
    return rows


def _table(
    rows: list[dict[str, Any]], args: argparse.Namespace, total: float, store: str = "local disk"
) -> str:
    values = args.trials * args.splits * args.epochs * args.metrics * 2
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"One round of {args.trials} trials × {args.splits} splits × {args.epochs} epochs × "
        f"{args.metrics} metrics × train/valid = {values:,} values, written on {store} "
        f"through `AutoML(executor=ProcessPoolExecutor(n))`; medians of {args.repeat} runs "
        f"(range: min–max); {os.cpu_count()} cores, load average {load} at the end; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; took {total:.0f} s.",
        "",
        "| workers | values/s | range | ÷ 1 worker | fit s | pool start s | values/CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        name = "in-process (no executor)" if r["workers"] is None else str(r["workers"])
        lines.append(
            f"| {name} | {r['values_per_s']:,.0f} | {r['min']:,.0f}–{r['max']:,.0f} | "
            f"{r['ratio']:.2f}x | {r['fit_s']:.2f} | {r['startup_s']:.2f} | "
            f"{r['values_per_cpu_s']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
