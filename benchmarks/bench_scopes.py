"""Logging through the scope API, side by side with a bare-Python floor.

Run: ``.venv/bin/python benchmarks/bench_scopes.py [--quick]``. Prints a
markdown table. Every figure is a ratio measured in the same run; absolute
numbers depend on the machine.

* per-value: ``MetricResults.add_valid_result`` vs a bare method appending a
  float and a ``time.time_ns()`` stamp to two ``array``s (target: ≤ 2×);
* the seed idiom per epoch (``next_epoch`` + ``managed_metric`` +
  ``add_train_result`` + ``add_valid_result``) in values/s (target: ≥ 500k);
* a split's exit (its 50 train and 50 valid values and its events appended to
  the log) in µs, median and p99 / median over 1,000 splits;
* the time of a trial late in a long round vs early ones (target: ≤ 1.5).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path

import arrowscope as asc

# On the work tree, not /tmp: file creation costs differ a lot between mounts.
SCRATCH = Path(__file__).resolve().parent / ".scratch"


class Floor:
    """The floor: a method that appends a float and a timestamp to two arrays."""

    def __init__(self) -> None:
        self.values: array[float] = array("d")
        self.stamps: array[int] = array("q")

    def add(self, value: float) -> None:
        self.values.append(value)
        self.stamps.append(time.time_ns())


def best_of(runs: int, action: Callable[[], float]) -> float:
    """The fastest of ``runs`` timings (seconds), to skip scheduler noise."""
    return min(action() for _ in range(runs))


def open_round(directory: Path) -> tuple[asc.Root, asc.Round]:
    root = asc.Root.at(directory, flush_interval=2.0)
    with root.default_project() as p, p.default_client() as c:
        with c.new_round("loss") as rnd:
            space = asc.HyperparameterSpace({"lr": asc.LogUniform(1e-4, 1e-1)})
            rnd.with_optimizer(asc.RandomSearch(seed=0), space)
    return root, rnd


def per_value(rnd: asc.Round, n: int) -> tuple[float, float]:
    """Seconds for ``n`` values: the floor, then ``add_valid_result``."""
    floor = Floor()

    def run_floor() -> float:
        add, start = floor.add, time.perf_counter()
        for _ in range(n):
            add(0.5)
        return time.perf_counter() - start

    with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
        with split.managed_metric("loss", higher_score_is_better=False) as metric:

            def run_ours() -> float:
                add, start = metric.add_valid_result, time.perf_counter()
                for _ in range(n):
                    add(0.5)
                return time.perf_counter() - start

            return best_of(3, run_floor), best_of(3, run_ours)


def idiom(rnd: asc.Round, epochs: int) -> float:
    """Values/s of the seed idiom: one long split, 2 metrics, train + valid per epoch."""
    with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
        split.with_n_epochs(epochs)
        start = time.perf_counter()
        for _ in range(epochs):
            split.next_epoch()
            with split.managed_metric("loss", False) as m:
                m.add_train_result(0.5)
                m.add_valid_result(0.4)
            with split.managed_metric("acc", True) as m:
                m.add_train_result(0.9)
                m.add_valid_result(0.8)
        elapsed = time.perf_counter() - start
    return epochs * 4 / elapsed


def split_exit(rnd: asc.Round, n_splits: int, values: int) -> tuple[float, float]:
    """Median and 99th percentile µs of a split's exit after ``values`` values (half train)."""
    timings = []
    with rnd.new_rvs_trial() as trial:
        for _ in range(n_splits):
            manager = trial.new_validation_split()
            split = manager.__enter__()
            with split.managed_metric("loss", False) as m:
                for _ in range(values // 2):
                    m.add_train_result(0.5)
                    m.add_valid_result(0.5)
            start = time.perf_counter()
            manager.__exit__(None, None, None)
            timings.append(time.perf_counter() - start)
    timings.sort()
    return statistics.median(timings) * 1e6, timings[len(timings) * 99 // 100] * 1e6


def trial_growth(rnd: asc.Round, n_trials: int, epochs: int) -> tuple[float, float]:
    """Median ms of the first 200 trials and of the last 200 of ``n_trials``."""
    timings = []
    for _ in range(n_trials):
        start = time.perf_counter()
        with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
            split.with_n_epochs(epochs)
            for _ in range(epochs):
                split.next_epoch()
                with split.managed_metric("loss", False) as m:
                    m.add_train_result(0.5)
                    m.add_valid_result(0.4)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings[:200]) * 1e3, statistics.median(timings[-200:]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    quick = (100_000, 5_000, 400)
    n_values, n_epochs, n_trials = quick if args.quick else (1_000_000, 50_000, 2_200)
    SCRATCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root, rnd = open_round(Path(tmp))
        floor_s, ours_s = per_value(rnd, n_values)
        idiom_rate = idiom(rnd, n_epochs)
        exit_us, exit_p99 = split_exit(rnd, 1000, 100)
        first_ms, last_ms = trial_growth(rnd, n_trials, 5)
        root.close()
    rows = [
        ("per-value add vs floor (×, ≤ 2)", f"{ours_s / floor_s:.2f}"),
        ("floor, values/s", f"{n_values / floor_s:,.0f}"),
        ("add_valid_result, values/s", f"{n_values / ours_s:,.0f}"),
        ("seed idiom per epoch, values/s (≥ 500,000)", f"{idiom_rate:,.0f}"),
        ("split exit with its events, 100 values, median µs (≤ 100)", f"{exit_us:.0f}"),
        ("split exit, p99 / median (≤ 5)", f"{exit_p99 / exit_us:.1f}"),
        (f"trial time, first 200 of {n_trials}, ms", f"{first_ms:.3f}"),
        (f"trial time, last 200 of {n_trials}, ms", f"{last_ms:.3f}"),
        ("late / early trial time (≤ 1.5)", f"{last_ms / first_ms:.2f}"),
    ]
    print("| measure | value |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
