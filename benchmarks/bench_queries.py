"""Report queries on a large round: DuckDB views cold and warm, before and after compaction.

Run: ``.venv/bin/python benchmarks/bench_queries.py [--trials N]``. Builds a
round of N trials × 5 splits × 20 epochs of one validation metric (10,000
trials: 1M values) through the public API, then times, in milliseconds:

* best trial: ``select best_trial from rounds`` and ``RoundReport.get_best_trial_id()``;
* per-trial scores: ``select trial, score from trials``;
* one trial's curve: ``select * from curves where trial = ?``.

*cold* is ``arrowscope.connect()`` plus the first query (listing the files,
creating the views and computing the aggregated ones, ``_cache/`` deleted
before); *warm* is the median
of 5 repeats on that connection. For ``RoundReport.get_best_trial_id()``,
cold is its first call on a fresh ``Root.at(path)``, warm a repeat.

``--scaling`` asks the other question: does a trial-level query cost the
same whatever the number of values? It builds rounds of a fixed number of
trials (``--scaling-trials``, default 100) × 5 splits whose splits log 20,
2,000 and 20,000 epochs (10k, 1M and 10M values, through
``add_valid_results``), then times, in a fresh process per run (``--repeat``
runs, median and range; DuckDB and arrowscope's modules imported before the clock
starts: their import costs the same at every size), a fresh
``Root.at(path)`` plus ``get_best_trial_id()`` and a fresh
``arrowscope.connect(path)`` plus ``select best_trial from rounds``, with
each size's ratio to the 10k-value round. Each is timed twice: with no
derived-table cache (``_cache/`` deleted before every run: the round is
computed from its events), and with the cache a connection stores.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arrowscope as asc

# On the work tree, not /tmp: file creation costs differ a lot between mounts.
SCRATCH = Path(__file__).resolve().parent / ".scratch"

SPLITS, EPOCHS = 5, 20


def build(directory: Path, n_trials: int, epochs: int = EPOCHS) -> float:
    """Log a round of ``n_trials`` × SPLITS splits of ``epochs`` valid values; returns seconds."""
    rng = random.Random(0)
    root = asc.Root.at(directory)
    space = asc.HyperparameterSpace({"lr": asc.LogUniform(1e-4, 1e-1), "depth": asc.RandInt(1, 8)})
    start = time.perf_counter()
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        rnd.with_optimizer(asc.RandomSearch(seed=0), space)
        for _ in range(n_trials):
            with rnd.new_rvs_trial() as trial:
                for _ in range(SPLITS):
                    with trial.new_validation_split() as split:
                        level = rng.random()
                        curve = array("d", (level + 1.0 / (e + 1) for e in range(epochs)))
                        with split.managed_metric("loss", higher_score_is_better=False) as m:
                            m.add_valid_results(curve)
    root.close()
    return time.perf_counter() - start


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1e3


def measure(directory: Path) -> dict[str, tuple[float, float]]:
    """(cold, warm) milliseconds per query."""
    queries: dict[str, Callable[[Any], Any]] = {
        "best trial (rounds view)": lambda con: con.sql(
            "select best_trial, best_score from rounds"
        ).fetchall(),
        "per-trial scores (trials view)": lambda con: con.sql(
            "select trial, score from trials"
        ).fetchall(),
        "one trial's curve (curves view)": lambda con: con.execute(
            "select * from curves where trial = ? order by epoch", [1234 % 10]
        ).fetchall(),
    }
    out = {}
    for name, query in queries.items():
        shutil.rmtree(directory / "_cache", ignore_errors=True)  # cold: nothing cached yet
        start = time.perf_counter()
        con = asc.connect(directory)
        query(con)
        cold = (time.perf_counter() - start) * 1e3
        warm = statistics.median(timed(lambda q=query, c=con: q(c)) for _ in range(5))
        out[name] = (cold, warm)
        con.close()
    root = asc.Root.at(directory)
    rnd = root["default_project"]["default_client"][0]
    cold = timed(rnd.get_best_trial_id)
    warm = statistics.median(timed(rnd.get_best_trial_id) for _ in range(5))
    out["RoundReport.get_best_trial_id()"] = (cold, warm)
    root.close()
    return out


_COLD_Q1 = """
import json, sys, time
# Imported before the clock starts: the same at every size.
import duckdb
import arrowscope as asc
import arrowscope.aggregates, arrowscope.query, arrowscope.reports
path, how = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if how == "api":
    root = asc.Root.at(path)
    with root.default_project() as p, p.default_client() as c, c.resume_last_round() as rnd:
        answer = rnd.get_best_trial_id()
    root.close()
else:
    con = asc.connect(path)
    answer = con.sql("select best_trial from rounds").fetchall()[0][0]
    con.close()
print(json.dumps({"ms": (time.perf_counter() - start) * 1e3, "answer": answer}))
"""


def cold_q1(directory: Path, how: str) -> tuple[float, Any]:
    """Milliseconds of one cold Q1 (``api`` or ``sql``) in a fresh process, and its answer."""
    done = subprocess.run(
        [sys.executable, "-c", _COLD_Q1, str(directory), how],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return float(report["ms"]), report["answer"]


def scaling(n_trials: int, repeat: int) -> None:
    """Print cold Q1 at 10k, 1M and 10M values of ``n_trials`` trials (see the docstring)."""
    sizes = [10_000, 1_000_000, 10_000_000]
    rows: list[tuple[int, str, list[float]]] = []
    SCRATCH.mkdir(exist_ok=True)
    for n_values in sizes:
        epochs = n_values // (n_trials * SPLITS)
        with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
            directory = Path(tmp)
            build(directory, n_trials, epochs)
            answers = set()
            for how in ("api", "sql", "api-cached", "sql-cached"):
                times = []
                for _ in range(repeat):
                    if not how.endswith("cached"):
                        shutil.rmtree(directory / "_cache", ignore_errors=True)
                    elif not (directory / "_cache").exists():
                        cold_q1(directory, "sql")  # a connection stores the cache
                    ms, answer = cold_q1(directory, how.removesuffix("-cached"))
                    times.append(ms)
                    answers.add(answer)
                rows.append((n_values, how, times))
            if len(answers) != 1:
                raise SystemExit(f"the two ways disagree on the best trial: {answers}")
    print(f"{n_trials} trials × {SPLITS} splits; cold Q1 in a fresh process, {repeat} runs\n")
    print("| values | query | median ms | range ms | ÷ 10k values |")
    print("|---:|---|---:|---:|---:|")
    base = {how: statistics.median(t) for n, how, t in rows if n == sizes[0]}
    labels = {
        "api": "`Root.at` + `get_best_trial_id()`",
        "sql": "`connect` + `select best_trial from rounds`",
        "api-cached": "`Root.at` + `get_best_trial_id()`, round in `_cache/`",
        "sql-cached": "`connect` + `select best_trial from rounds`, round in `_cache/`",
    }
    for n_values, how, times in rows:
        median = statistics.median(times)
        print(
            f"| {n_values:,} | {labels[how]} | {median:.0f} | "
            f"{min(times):.0f}–{max(times):.0f} | {median / base[how]:.2f} |"
        )


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--scaling", action="store_true", help="cold Q1 at 10k, 1M, 10M values")
    parser.add_argument("--scaling-trials", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="runs per cold Q1 (--scaling)")
    args = parser.parse_args()
    if args.scaling:
        scaling(args.scaling_trials, args.repeat)
        return
    n_values = args.trials * SPLITS * EPOCHS
    SCRATCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        directory = Path(tmp)
        build_s = build(directory, args.trials)
        before, bytes_before = measure(directory), disk_bytes(directory)
        merged = asc.ParquetRepository(directory).compact()
        after, bytes_after = measure(directory), disk_bytes(directory)
    print(f"{args.trials} trials × {SPLITS} splits × {EPOCHS} epochs = {n_values:,} values")
    print(f"logged in {build_s:.1f} s ({n_values / build_s:,.0f} values/s); {merged} parts merged")
    print(
        f"Parquet bytes per value: {bytes_before / n_values:.2f} before compaction, "
        f"{bytes_after / n_values:.2f} after\n"
    )
    print("| query | cold ms | warm ms | cold ms, compacted | warm ms, compacted |")
    print("|---|---:|---:|---:|---:|")
    for name in before:
        (c0, w0), (c1, w1) = before[name], after[name]
        print(f"| {name} | {c0:.1f} | {w0:.1f} | {c1:.1f} | {w1:.1f} |")


if __name__ == "__main__":
    main()
