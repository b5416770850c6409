"""Object storage next to local disk: arrowscope on an S3 server and on a directory, one run.

Starts a SeaweedFS server (``_seaweed.py``, with the test suite's start-up
code), creates a bucket, then measures on the bucket and on local disk,
interleaved (local, S3, local, S3, ...) so that drifting machine load hits
both alike, each measure ``--repeat`` times:

1. **Workloads**: the ``small`` and ``large`` workloads of ``workload.py``
   through ``drivers/arrowscope_driver.py`` (idiom mode), each run in a fresh
   process, as ``run.py`` runs it: values/s through the scopes (final upload
   included), then Q1-Q3. On S3 the queries open the store with an empty
   spool, so Q1 includes downloading every part (a reader on another
   machine); ``bytes`` are the objects under the run's prefix.
   ``--large-trials`` scales the large workload down.
2. **Id claims**: ``repository.allocate`` of trial numbers in one round,
   ``--claims`` times in a row on a freshly opened repository (on disk a line
   appended to the round's journal under ``flock``, on S3 a conditional PUT): p50 and p99,
   plus the first claim (which lists the numbers taken) and the opening.
3. **Parallel workers**: ``bench_parallel.measure`` with 1, 2, 4 and 8
   worker processes writing one round, on both stores.

Cells are ``median (min–max)`` over the repeats; ratios are S3 ÷ local of the
medians. ``--out`` replaces this benchmark's section of ``RESULTS.md`` (between
its markers; appended when missing), ``--raw`` writes every run as JSON.

Run: ``.venv/bin/python benchmarks/bench_s3.py --out benchmarks/RESULTS.md``
(``make bench-s3``); ``--quick`` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_parallel
import run
from _seaweed import new_bucket, seaweed, weed_version
from arrowscope.store import open_repository
from report import load_average, run_meta, write_section
from workload import Workload

BEGIN, END = "<!-- bench_s3: begin -->", "<!-- bench_s3: end -->"
SCRATCH = run.SCRATCH
STORES = ("local disk", "S3 (SeaweedFS)")
LOCAL, S3 = STORES


# -- workloads ------------------------------------------------------------------------
def _target(store: str) -> run.Target:
    backend = "s3" if store == S3 else "parquet"
    return run.Target("arrowscope", "arrowscope_driver.py", backend, "idiom")


def workloads(
    args: argparse.Namespace, uri: str
) -> dict[str, tuple[Workload, dict[str, list[dict[str, Any]]]]]:
    """Size → (workload, store → the driver's reports), runs interleaved across stores."""
    options = argparse.Namespace(workdir=SCRATCH, timeout=args.timeout)
    sizes = {"small": run.SIZES["small"].workload, "large": run.SIZES["large"].workload}
    large = sizes["large"]
    sizes["large"] = Workload(args.large_trials, large.S, large.E, large.M)
    if args.quick:
        sizes = {"small": sizes["small"]}
    found: dict[str, tuple[Workload, dict[str, list[dict[str, Any]]]]] = {}
    for name, workload in sizes.items():
        reports: dict[str, list[dict[str, Any]]] = {store: [] for store in STORES}
        for index in range(args.repeat):
            for store in STORES:
                extra = ["--uri", f"{uri}/{name}-{index}"] if store == S3 else []
                start = time.perf_counter()
                report = run.run_once(_target(store), workload, run.main_python(), options, extra)
                reports[store].append(report)
                checks = all(report.get(k) for k in ("q1_ok", "q2_ok", "q3_ok", "q1_sql_ok"))
                status = report.get("error") or ("ok" if checks else "WRONG ANSWER")
                print(
                    f"[{name}] {store} run {index + 1}/{args.repeat}: "
                    f"{report.get('values_per_s', 0):,.0f} values/s, {status} "
                    f"({time.perf_counter() - start:.1f} s)",
                    file=sys.stderr,
                )
                if "error" in report or not checks:
                    raise SystemExit(f"{name} on {store} failed: {report}")
        found[name] = (workload, reports)
    return found


# -- id claims ------------------------------------------------------------------------
def claims_once(location: str, n: int, spool: Path | None) -> dict[str, float]:
    """Open a repository, claim ``n + 1`` trial numbers of one round; seconds and ms."""
    start = time.perf_counter()
    repository = open_repository(location, **({"spool": spool} if spool else {}))
    opened = time.perf_counter() - start
    try:
        repository.create("bench", "claims")
        round_number = repository.allocate("bench", "claims")
        start = time.perf_counter_ns()
        repository.allocate("bench", "claims", round_number)  # lists what is taken
        first = (time.perf_counter_ns() - start) / 1e6
        times = []
        for _ in range(n):
            start = time.perf_counter_ns()
            repository.allocate("bench", "claims", round_number)
            times.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        repository.close()
    times.sort()
    return {
        "open_s": opened,
        "first_ms": first,
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def claims(args: argparse.Namespace, uri: str) -> dict[str, list[dict[str, float]]]:
    """Store → one ``claims_once`` per repeat, interleaved."""
    found: dict[str, list[dict[str, float]]] = {store: [] for store in STORES}
    for index in range(args.repeat):
        for store in STORES:
            directory = Path(tempfile.mkdtemp(prefix="claims-", dir=SCRATCH))
            try:
                if store == S3:
                    result = claims_once(f"{uri}/claims-{index}", args.claims, directory)
                else:
                    result = claims_once(str(directory), args.claims, None)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            found[store].append(result)
            print(f"[claims] {store} run {index + 1}: {result}", file=sys.stderr)
    return found


# -- report ---------------------------------------------------------------------------
def _cell(values: Sequence[float], form: Callable[[float], str]) -> str:
    return f"{form(statistics.median(values))} ({form(min(values))}–{form(max(values))})"


def _seconds(x: float) -> str:
    return f"{x:.3g}"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _ratio(values: dict[str, list[float]]) -> str:
    return f"{statistics.median(values[S3]) / statistics.median(values[LOCAL]):.2f}x"


_WORKLOAD_COLUMNS = (
    ("setup_s", "open s", _seconds),
    ("values_per_s", "values/s", _count),
    ("q1_s", "Q1 s", _seconds),
    ("q2_s", "Q2 s", _seconds),
    ("q3_s", "Q3 s", _seconds),
    ("compact_s", "compact s", _seconds),
    ("bytes", "bytes stored", _count),
)


def _workload_table(workload: Workload, reports: dict[str, list[dict[str, Any]]]) -> list[str]:
    head = "| store | " + " | ".join(label for _, label, _ in _WORKLOAD_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(_WORKLOAD_COLUMNS)]
    for store in STORES:
        cells = [_cell([r[k] for r in reports[store]], f) for k, _, f in _WORKLOAD_COLUMNS]
        lines.append(f"| {store} | " + " | ".join(cells) + " |")
    ratios = [
        _ratio({s: [r[k] for r in reports[s]] for s in STORES}) for k, _, _ in _WORKLOAD_COLUMNS
    ]
    lines.append("| S3 ÷ local | " + " | ".join(ratios) + " |")
    return lines


_CLAIM_COLUMNS = (
    ("open_s", "open the repository, s", _seconds),
    ("first_ms", "first claim, ms (lists the round)", _ms),
    ("p50_ms", "claim p50, ms", _ms),
    ("p99_ms", "claim p99, ms", _ms),
)


def _claims_table(found: dict[str, list[dict[str, float]]], n: int) -> list[str]:
    head = "| store | " + " | ".join(label for _, label, _ in _CLAIM_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(_CLAIM_COLUMNS)]
    for store in STORES:
        cells = [_cell([r[k] for r in found[store]], f) for k, _, f in _CLAIM_COLUMNS]
        lines.append(f"| {store} | " + " | ".join(cells) + " |")
    ratios = [_ratio({s: [r[k] for r in found[s]] for s in STORES}) for k, _, _ in _CLAIM_COLUMNS]
    lines.append("| S3 ÷ local | " + " | ".join(ratios) + " |")
    return lines


def _parallel_table(rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| workers | local values/s | local ÷ 1 worker | S3 values/s | S3 ÷ 1 worker "
        "| S3 ÷ local | values/CPU-s local, S3 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for local, s3 in zip(rows[LOCAL], rows[S3], strict=True):
        name = "in-process" if local["workers"] is None else str(local["workers"])
        lines.append(
            f"| {name} | {local['values_per_s']:,.0f} ({local['min']:,.0f}–{local['max']:,.0f}) "
            f"| {local['ratio']:.2f}x "
            f"| {s3['values_per_s']:,.0f} ({s3['min']:,.0f}–{s3['max']:,.0f}) "
            f"| {s3['ratio']:.2f}x | {s3['values_per_s'] / local['values_per_s']:.2f}x "
            f"| {local['values_per_cpu_s']:,.0f}, {s3['values_per_cpu_s']:,.0f} |"
        )
    return lines


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    meta = results["meta"]
    lines = [
        BEGIN,
        "## Object storage next to local disk (`benchmarks/bench_s3.py`)",
        "",
        f"Written on {meta['date']}; {meta['machine']}; SeaweedFS `weed mini` "
        f"({meta['weed']}) on 127.0.0.1, its data on the same disk as the local runs; "
        f"load average {meta['load_start']} at the start, {meta['load_end']} at the end; "
        f"the run took {meta['seconds']:.0f} s. Cells: median (min–max) over {args.repeat} "
        "runs, local and S3 interleaved; **S3 ÷ local** divides the medians.",
        "",
        f"Rerun: `make bench-s3` (`.venv/bin/python benchmarks/bench_s3.py "
        f"--out benchmarks/RESULTS.md`; this run: `{meta['command']}`).",
        "",
    ]
    for name, (workload, reports) in results["workloads"].items():
        lines += [
            f"### {name}: W(T={workload.T}, S={workload.S}, E={workload.E}, M={workload.M}) "
            f"= {workload.n_values:,} values, idiom mode",
            "",
            *_workload_table(workload, reports),
            "",
        ]
    lines += [
        f"### Id claims: `repository.allocate` of a trial number, {args.claims} in a row",
        "",
        *_claims_table(results["claims"], args.claims),
        "",
    ]
    p = results["parallel_args"]
    values = p.trials * p.splits * p.epochs * p.metrics * 2
    lines += [
        f"### Parallel workers: one round of {p.trials} trials × {p.splits} splits × "
        f"{p.epochs} epochs × {p.metrics} metrics × train/valid = {values:,} values "
        "(`bench_parallel.py`)",
        "",
        *_parallel_table(results["parallel"]),
        "",
        END,
        "",
    ]
    return "\n".join(lines)


def _jsonable(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": results["meta"],
        "workloads": {
            name: {"workload": vars(workload), "runs": reports}
            for name, (workload, reports) in results["workloads"].items()
        },
        "claims": results["claims"],
        "parallel_args": vars(results["parallel_args"]),
        "parallel": results["parallel"],
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of every measure per store")
    parser.add_argument("--large-trials", type=int, default=1000, help="T of the large workload")
    parser.add_argument("--claims", type=int, default=200, help="timed claims per run")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts of the parallel part")
    parser.add_argument("--trials", type=int, default=100, help="trials of the parallel round")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per driver run")
    parser.add_argument("--out", type=Path, help="replace the S3 section of this markdown file")
    parser.add_argument("--raw", type=Path, help="also write every run as JSON here")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.claims, args.workers, args.trials = 1, 20, "1,2", 10
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parallel_args = argparse.Namespace(
        workers=args.workers, trials=args.trials, splits=3, epochs=50, metrics=2, repeat=args.repeat
    )
    SCRATCH.mkdir(parents=True, exist_ok=True)
    started, load_start = time.perf_counter(), load_average()
    with seaweed(SCRATCH) as server:
        bucket = new_bucket(server)
        results: dict[str, Any] = {
            "workloads": workloads(args, bucket),
            "claims": claims(args, bucket),
            "parallel_args": parallel_args,
            "parallel": bench_parallel.measure(
                parallel_args, {LOCAL: None, S3: f"{bucket}/parallel"}
            ),
        }
    results["meta"] = run_meta(
        " ".join(["bench_s3.py", *(argv if argv is not None else sys.argv[1:])]),
        started,
        load_start,
        weed=weed_version(),
    )
    text = render(results, args)
    print(text)
    if args.raw:
        args.raw.write_text(json.dumps(_jsonable(results), indent=1))
    if args.out:
        write_section(args.out, text, BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
