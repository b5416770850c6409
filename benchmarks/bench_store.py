"""Storage-engine costs, measured in one run; prints a markdown table.

Run: ``python benchmarks/bench_store.py`` (with arrowscope importable).

* append: values through ``MetricBuffer`` arrays against bare ``array``
  appends in the same run (ratio);
* scope exit: flushing a split of 100 values (50 train + 50 valid) to the
  log, in microseconds, split into building its log record (an Arrow batch
  in versions before raw-array log records) and the log append;
* checkpoint: one trial's log segments (metrics + events) into Parquet parts;
* disk: Parquet bytes per logged value for typical curves (1,000 trials × 3
  splits × 20 epochs × 2 metrics × train/valid), checkpointed every 10
  trials, before and after compaction. "Typical" means what training loops
  log: a float32 loss (``loss.item()``) and an accuracy ``correct / n`` over
  a 10,000-sample validation set; epochs take 0.5-2 s (per trial, ±2 %),
  validation adds 10-20 %, and each value is stamped when logged. Two more
  rows: the same values stamped by this benchmark's own tight loop
  (microseconds apart, as synthetic benchmarks log), and float64 noise, the
  incompressible worst case.

``python benchmarks/bench_store.py long-round --repeat 5`` measures one
process logging a long round through the scopes (10,000 splits of 1,000
values by default, ``flush_interval=0.1``), with automatic compaction on and
off, each run in a fresh process: RSS sampled every 50 ms (min, median,
max), bytes handed to ``write`` by the process (log, parts, merges: the
``wchar`` of ``/proc/self/io``) and bytes of the final Parquet files, both
per value stored, and split-exit latency (p50, p99, max). The table shows
the median over the runs and, in brackets, their min and max.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

import arrowscope as asc
from arrowscope.schema import TABLES
from arrowscope.store import MetricBuffer, ParquetRepository
from arrowscope.store.compact import stats

try:
    from arrowscope.store._buffer import metrics_record
except ImportError:  # arrowscope before log records of raw arrays
    metrics_record = None

KEY = ("bench", "store", 0)
BARE = "bare array('d').append"
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _best_ns_per_call(
    runs: dict[str, Callable[[int], None]], n: int, repeats: int = 9
) -> dict[str, float]:
    """The best time per call of each run, interleaved so that machine load hits all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter_ns()
            run(n)
            best[name] = min(best[name], (time.perf_counter_ns() - start) / n)
    return best


def bench_append(n: int) -> dict[str, float]:
    """ns per value: bare array appends vs MetricBuffer arrays (value + timestamp)."""
    now = time.time_ns

    def bare_values(k: int) -> None:
        values = array("d")
        for i in range(k):
            values.append(0.5 * i)

    def bare_two_arrays(k: int) -> None:
        values, stamps = array("d"), array("q")
        for i in range(k):
            values.append(0.5 * i)
            stamps.append(now())

    def buffer(k: int) -> None:
        buf = MetricBuffer(0, 0, "acc")
        for i in range(k):
            buf.valid.append(0.5 * i)
            buf.valid_at.append(now())  # the timestamp goes in after the value

    runs = {
        BARE: bare_values,
        "bare value + time_ns() into two arrays": bare_two_arrays,
        "MetricBuffer valid + valid_at": buffer,
    }
    return _best_ns_per_call(runs, n)


def _filled_buffer(repo: ParquetRepository, trial: int, n: int) -> MetricBuffer:
    buf = repo.metric_buffer(KEY, trial, 0, "acc")
    stamp = time.time_ns()
    for i in range(n):
        buf.train.append(1.0 / (i + 1))
        buf.train_at.append(stamp + i)
        buf.valid.append(1.0 / (i + 2))
        buf.valid_at.append(stamp + i)
    return buf


def bench_scope_exit(root: Path, rounds: int) -> dict[str, float]:
    """µs per split exit of 100 values: building its log record, the log append, both."""
    repo = ParquetRepository(root, flush_interval=3600, auto_compact_parts=0)
    take, total = [], []
    for trial in range(rounds):
        probe = _filled_buffer(repo, trial, 50)
        start = time.perf_counter_ns()
        if metrics_record is not None:
            metrics_record([probe], mark=False)  # what the exit appends
        else:
            probe.pending_batch()  # arrowscope before log records of raw arrays
        take.append(time.perf_counter_ns() - start)
        buf = probe
        start = time.perf_counter_ns()
        repo.release_buffer(KEY, buf)
        total.append(time.perf_counter_ns() - start)
        if trial % 200 == 199:
            repo.checkpoint()  # keep segments small, as flush_interval would
    repo.close()
    t, b = statistics.median(total) / 1000, statistics.median(take) / 1000
    return {"build log record": b, "log append": t - b, "scope exit (total)": t}


def bench_checkpoint(root: Path, rounds: int) -> float:
    """Median ms to checkpoint one trial (3 splits × 2 metrics × 20 epochs) + its events."""
    repo = ParquetRepository(root, flush_interval=3600, auto_compact_parts=0)
    times = []
    for trial in range(rounds):
        for split in range(3):
            for metric in ("acc", "loss"):
                buf = repo.metric_buffer(KEY, trial, split, metric)
                for epoch in range(20):
                    buf.train.append(1.0 / (epoch + 1))
                    buf.train_at.append(time.time_ns())
                    buf.valid.append(1.0 / (epoch + 2))
                    buf.valid_at.append(time.time_ns())
                repo.release_buffer(KEY, buf)
        repo.append_event(KEY, level="trial", trial=trial, status="SUCCESS")
        repo.flush(KEY)
        start = time.perf_counter_ns()
        repo.checkpoint()
        times.append(time.perf_counter_ns() - start)
    repo.close()
    return statistics.median(times) / 1e6


def _curve(rng: random.Random, metric: str, epochs: int, worst_case: bool) -> list[float]:
    rate, floor = rng.uniform(4, 12), rng.uniform(0.02, 0.3)
    out = []
    for epoch in range(1, epochs + 1):
        loss = floor + (1.0 - floor) * 2.718281828 ** (-epoch / rate) + rng.gauss(0, 0.02)
        if worst_case:
            out.append(loss)
        elif metric == "loss":
            out.append(float(array("f", [loss])[0]))  # float32, as loss.item() gives
        else:
            correct = round(10_000 * min(1.0, max(0.0, 1.0 - loss / 2)))
            out.append(correct / 10_000)
    return out


def _column_bytes(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in root.rglob("part-*.parquet"):
        meta = pq.read_metadata(path)
        for group in range(meta.num_row_groups):
            for i in range(meta.num_columns):
                column = meta.row_group(group).column(i)
                name = column.path_in_schema
                sizes[name] = sizes.get(name, 0) + column.total_compressed_size
    return sizes


def bench_disk(
    root: Path, trials: int, worst_case: bool, loop_stamps: bool = False
) -> tuple[float, float, int, str]:
    """Bytes per value before and after compaction, the number of values, a breakdown.

    ``loop_stamps`` stamps values with ``time.time_ns()`` as this loop logs
    them (microseconds apart) instead of a simulated training clock.
    """
    rng = random.Random(0)
    repo = ParquetRepository(root, flush_interval=3600, auto_compact_parts=0)
    clock = 1_700_000_000 * 10**9
    for trial in range(trials):
        epoch_ns = rng.uniform(0.5, 2.0) * 1e9  # this trial's model size sets its pace
        for split in range(3):
            curves = {m: _curve(rng, m, 20, worst_case) for m in ("acc", "loss")}
            buffers = {m: repo.metric_buffer(KEY, trial, split, m) for m in curves}
            for epoch in range(20):
                clock += int(epoch_ns * rng.gauss(1.0, 0.02))
                valid_at = clock + int(epoch_ns * rng.uniform(0.1, 0.2))
                for metric, buf in buffers.items():
                    train = curves[metric][epoch] * 0.95
                    buf.train.append(train if worst_case else float(array("f", [train])[0]))
                    buf.train_at.append(
                        time.time_ns() if loop_stamps else clock + rng.randrange(1000, 20_000)
                    )
                    buf.valid.append(curves[metric][epoch])
                    buf.valid_at.append(
                        time.time_ns() if loop_stamps else valid_at + rng.randrange(1000, 20_000)
                    )
            for buf in buffers.values():
                repo.release_buffer(KEY, buf)
        if trial % 10 == 9:
            repo.checkpoint()
    repo.close()
    before = stats(root, "metrics")
    ParquetRepository(root).compact()
    after = stats(root, "metrics")
    assert before.rows == after.rows
    columns = _column_bytes(root / "metrics")
    other = sum(v for k, v in columns.items() if k not in ("value", "logged_at"))
    split = ", ".join(
        f"{name} {size / after.rows:.2f}"
        for name, size in (("value", columns["value"]), ("logged_at", columns["logged_at"]))
    )
    breakdown = f"{split}, other columns {other / after.rows:.2f}, footer the rest"
    return before.bytes_per_row, after.bytes_per_row, after.rows, breakdown


def rss_bytes() -> int:
    """This process's resident set size now (``VmRSS``), from /proc/self/statm."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


class RssSampler(threading.Thread):
    """Samples this process's resident set size every ``interval`` seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self._interval = interval
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self._interval):
            self.samples.append(rss_bytes())

    def stop(self) -> list[int]:
        self._done.set()
        self.join()
        return self.samples


def _written_bytes() -> int:
    """Bytes this process handed to write calls so far (every thread), from /proc/self/io."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


def long_round(
    directory: Path, splits: int, values: int, compaction: bool, flush_interval: float
) -> dict[str, Any]:
    """One long round through the scopes; see the module docstring for what is measured."""
    rng = np.random.default_rng(0)
    sampler = RssSampler()
    sampler.start()
    written = _written_bytes()
    start = time.perf_counter()
    repo = ParquetRepository(directory, flush_interval, auto_compact_parts=10 if compaction else 0)
    exits = array("d")
    with asc.Root.from_repo(None, repo).get_project("bench") as project:
        with project.get_client("store") as client, client.new_round(main_metric_name="acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), asc.HyperparameterSpace({}))
            for _ in range(splits // 10):
                with rnd.new_rvs_trial() as trial:
                    for _ in range(10):
                        with trial.new_validation_split() as split:
                            with split.managed_metric("acc", higher_score_is_better=True) as m:
                                m.add_train_results(rng.random(values // 2))
                                m.add_valid_results(rng.random(values // 2))
                            entered = time.perf_counter_ns()
                        exits.append((time.perf_counter_ns() - entered) / 1000)
    repo.close()
    seconds = time.perf_counter() - start
    written = _written_bytes() - written
    rss = sampler.stop()
    stored = sum(stats(directory, table).bytes for table in TABLES)
    n_values = stats(directory, "metrics").rows
    ordered = sorted(exits)
    return {
        "values": n_values,
        "values_per_s": n_values / seconds,
        "exit_us_p50": ordered[len(ordered) // 2],
        "exit_us_p99": ordered[int(len(ordered) * 0.99)],
        "exit_us_max": ordered[-1],
        "rss_mb_min": min(rss) / 2**20,
        "rss_mb_median": statistics.median(rss) / 2**20,
        "rss_mb_max": max(rss) / 2**20,
        "written_bytes_per_value": written / n_values,
        "parquet_bytes_per_value": stored / n_values,
        "parquet_files": sum(stats(directory, table).files for table in TABLES),
    }


_LONG_ROUND_ROWS = {
    "values_per_s": ("values logged per second", "{:,.0f}"),
    "exit_us_p50": ("split exit p50 (µs)", "{:.0f}"),
    "exit_us_p99": ("split exit p99 (µs)", "{:.0f}"),
    "exit_us_max": ("split exit max (µs)", "{:,.0f}"),
    "rss_mb_min": ("RSS min (MB)", "{:.0f}"),
    "rss_mb_median": ("RSS median (MB)", "{:.0f}"),
    "rss_mb_max": ("RSS max (MB)", "{:.0f}"),
    "written_bytes_per_value": ("bytes written per value (log, parts, merges)", "{:.1f}"),
    "parquet_bytes_per_value": ("Parquet bytes per value at the end", "{:.2f}"),
    "parquet_files": ("Parquet files at the end", "{:.0f}"),
}


def spread(runs: list[dict[str, Any]], key: str, form: str) -> str:
    values = [run[key] for run in runs]
    median = form.format(statistics.median(values))
    return f"{median} [{form.format(min(values))}–{form.format(max(values))}]"


def long_round_table(args: argparse.Namespace) -> None:
    """Run each configuration ``args.repeat`` times in fresh processes; print the table."""
    results: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for _ in range(args.repeat):
        for mode in results:  # interleaved, so that machine load hits both alike
            command = [sys.executable, __file__, "long-round", "--json", "--compaction", mode]
            command += ["--splits", str(args.splits), "--values", str(args.values)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[mode].append(json.loads(done.stdout.splitlines()[-1]))
    print(f"| {args.splits:,} splits × {args.values:,} values | compaction on | compaction off |")
    print("|---|---:|---:|")
    for key, (label, form) in _LONG_ROUND_ROWS.items():
        cells = [spread(results[mode], key, form) for mode in ("on", "off")]
        print(f"| {label} | {cells[0]} | {cells[1]} |")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", nargs="?", default="table", choices=["table", "long-round"])
    parser.add_argument("--trials", type=int, default=1000, help="trials of the disk benchmark")
    parser.add_argument("--splits", type=int, default=10_000, help="splits of the long round")
    parser.add_argument("--values", type=int, default=1000, help="values per split")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per setting")
    parser.add_argument("--compaction", choices=["on", "off"], help="one run, this setting")
    parser.add_argument("--json", action="store_true", help="one run: print its figures as JSON")
    return parser.parse_args()


def main() -> None:
    args = _parse()
    if args.what == "long-round":
        if args.compaction is None:
            long_round_table(args)
            return
        scratch = Path(__file__).parent / ".scratch"  # the repository's disk, never committed
        scratch.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            figures = long_round(
                Path(tmp), args.splits, args.values, args.compaction == "on", flush_interval=0.1
            )
        print(json.dumps(figures) if args.json else figures)
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        append = bench_append(200_000)
        exit_us = bench_scope_exit(base / "exit", 2000)
        checkpoint_ms = bench_checkpoint(base / "checkpoint", 100)
        typical = bench_disk(base / "typical", args.trials, worst_case=False)
        loop = bench_disk(base / "loop", args.trials, worst_case=False, loop_stamps=True)
        worst = bench_disk(base / "worst", args.trials, worst_case=True)

    reference = append["bare value + time_ns() into two arrays"]
    print("| measure | value | note |")
    print("|---|---:|---|")
    for name, ns in append.items():
        print(f"| append: {name} | {ns:.0f} ns/value | {ns / reference:.2f}× the two-array loop |")
    ratio = append["MetricBuffer valid + valid_at"] / append[BARE]
    print(f"| append: MetricBuffer vs {BARE} | {ratio:.2f}× | the buffer also stores a stamp |")
    for name, us in exit_us.items():
        print(f"| {name}, split of 100 values | {us:.1f} µs | median; target < 100 µs |")
    print(f"| checkpoint of one trial (240 values + events) | {checkpoint_ms:.2f} ms | median |")
    for label, (before, after, n, breakdown) in (
        ("typical curves", typical),
        ("typical values, stamps of this tight loop", loop),
        ("float64 noise", worst),
    ):
        print(f"| bytes/value, {label}, before compaction | {before:.2f} | {n:,} values |")
        print(f"| bytes/value, {label}, after compaction | {after:.2f} | {breakdown} |")


if __name__ == "__main__":
    main()
