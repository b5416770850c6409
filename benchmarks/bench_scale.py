"""A scale run: one round of 100,000 trials, 100M values, written by 4 processes at once.

Run: ``.venv/bin/python benchmarks/bench_scale.py --out benchmarks/RESULTS.md``
(not part of ``make test`` or ``make bench``: it takes minutes); ``--quick`` is a
smoke run of 2,000 trials.

The parent creates the round (``client.new_round("loss")``) in a fresh directory
under ``benchmarks/.scratch/`` (the repository's disk), then starts ``--writers``
processes running this script's ``writer`` command. Each opens the directory with
``Root.at`` (default settings), re-opens the round with ``resume_last_round`` and
writes its share of the ``--trials`` trials through the scopes: ``new_rvs_trial``,
``--splits`` validation splits, and in each one metric logged by the batch calls
``add_train_results`` / ``add_valid_results``, ``--epochs`` values each (the
defaults give 100,000 × 2 × 250 × 2 = 100,000,000 values). The values are a
precomputed curve scaled per trial, so that generating them costs next to nothing.

Measured:

* each writer's resident set size (``/proc/self/statm``) every 0.5 s: minimum,
  median, maximum, the RSS right after 10 % and 90 % of its trials, and the
  lowest of the samples taken while it wrote trials 10-30 % and 70-90 % (a flat
  RSS does not grow between the two: merges add transient peaks, a leak raises
  the troughs), and, for the writer that grew most between the two, its RSS after each
  tenth of its trials; its values/s over the first and the last tenth of its trials;
* every 2 s while the writers run, the files under the directory: Parquet parts
  (``*.parquet``), log segments (``*.aslog``) and trial-number claims (files under
  ``_ids/``: a journal per round, a file per trial before it); the table gives the
  most seen in each quarter of the writing time, and the count at the end;
* ``arrowscope summary DIR`` timed in fresh processes (the entry point of this
  interpreter's environment, this checkout's ``src/`` first on ``PYTHONPATH``),
  interpreter start-up included: once with no derived-table cache (it computes
  the round's tables from its events and stores them under ``_cache/``), then
  ``--summary-runs`` times reading the cache, median and range; and
  ``arrowscope --help`` as many times, between them, for the interpreter's and the
  command line's start-up (which loads pyarrow and DuckDB only for commands that read);
* once every writer has closed its root (so that every row is in a Parquet
  part): rows counted by plain DuckDB (``read_parquet`` of the ``metrics`` and
  ``events`` files) and by ``arrowscope.connect`` (``metrics``, ``trials``,
  ``rounds.n_trials``), next to the numbers written.

The section names four checks and the rule each is held to; the script exits 1
when one fails. ``--out`` replaces this benchmark's section of ``RESULTS.md``
(between its markers; appended when missing), ``--raw`` writes every figure as
JSON. The directory is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

import arrowscope as asc
from arrowscope.schema import TABLES
from arrowscope.store.compact import stats
from bench_store import RssSampler, rss_bytes, spread
from report import load_average, run_meta, write_section
from run import REPO_DIR, SCRATCH, SRC_DIR

BEGIN, END = "<!-- bench_scale: begin -->", "<!-- bench_scale: end -->"
PROJECT, CLIENT, METRIC = "scale", "bench", "loss"
SPACE = asc.HyperparameterSpace({"lr": asc.LogUniform(1e-4, 1e-1), "depth": asc.RandInt(1, 8)})
MB = 2**20
RSS_INTERVAL = 0.5  # seconds between a writer's RSS samples
# A check passes when the last quarter of the writing saw at most this many
# times the files the second quarter saw: the data doubles in between, so a
# count that grows with the data gets near 2, a bounded one stays near 1.
GROWTH_LIMIT = 1.5
# A writer's lowest RSS at 70-90 % of its trials: at most 10 % over its lowest at 10-30 %.
# Merges of the biggest parts add a transient 100-200 MB for seconds, as long as a tenth of a
# fast writer's trials, so a window's median reads whether a merge was in flight; a leak
# raises the troughs between merges, which a merge never does.
RSS_LIMIT = 0.10
SUMMARY_LIMIT_S = 1.0


# -- writer ---------------------------------------------------------------------------
def _curves(epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """A train and a valid loss curve; each trial logs them times its own factor."""
    epoch = np.arange(1, epochs + 1, dtype=np.float64)
    valid = 0.1 + 0.9 * np.exp(-epoch / (epochs / 5)) + 0.01 * np.sin(epoch)
    return valid * 0.95, valid


def write_share(directory: Path, index: int, trials: int, splits: int, epochs: int) -> dict:
    """Write ``trials`` trials into the directory's last round; this process's figures."""
    sampler = RssSampler(interval=RSS_INTERVAL)
    sampler.start()
    train, valid = _curves(epochs)
    tenth = max(1, trials // 10)
    ends: list[float] = []  # seconds at the end of each tenth of the trials
    marks: list[float] = []  # RSS (MB) then
    figures: dict[str, Any] = {"index": index, "trials": trials}
    start = time.perf_counter()
    root = asc.Root.at(directory)
    with root.get_project(PROJECT) as project, project.get_client(CLIENT) as client:
        with client.resume_last_round() as rnd:
            figures["round"] = rnd.round_number
            rnd.with_optimizer(asc.RandomSearch(seed=index + 1), SPACE)
            for done in range(1, trials + 1):
                with rnd.new_rvs_trial() as trial:
                    factor = 0.5 + (trial.trial_number * 0.6180339887) % 1.0
                    for _ in range(splits):
                        with trial.new_validation_split() as split:
                            with split.managed_metric(METRIC, higher_score_is_better=False) as m:
                                m.add_train_results(train * factor)
                                m.add_valid_results(valid * factor)
                if done % tenth == 0 and len(ends) < 10:
                    ends.append(time.perf_counter() - start)
                    marks.append(rss_bytes() / MB)
                    print(
                        f"[writer {index}] {done:,}/{trials:,} trials, {ends[-1]:.0f} s, "
                        f"RSS {marks[-1]:.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
    root.close()  # everything checkpointed: plain Parquet readers see every row
    seconds = time.perf_counter() - start
    rss = [size / MB for size in sampler.stop()]

    def window(begin: int, end: int) -> float:
        """Lowest RSS sampled while tenths ``begin`` to ``end - 1`` of the trials (from 0) were
        written; the RSS at the window's end when no sample fell in it (a short run)."""
        first, last = ends[begin - 1], ends[end - 1]
        seen = [r for i, r in enumerate(rss) if first <= (i + 1) * RSS_INTERVAL <= last]
        return min(seen) if seen else marks[end - 1]

    values = trials * splits * epochs * 2
    per_tenth = tenth * splits * epochs * 2
    figures.update(
        values=values,
        seconds=seconds,
        values_per_s=values / seconds,
        first_tenth_values_per_s=per_tenth / ends[0],
        last_tenth_values_per_s=per_tenth / (ends[9] - ends[8]),
        tenth_seconds=ends,
        tenth_rss=marks,
        rss_min=min(rss),
        rss_median=statistics.median(rss),
        rss_max=max(rss),
        rss_at_10=marks[0],
        rss_at_90=marks[8],
        rss_early=window(1, 3),
        rss_late=window(7, 9),
    )
    figures["rss_growth"] = figures["rss_late"] - figures["rss_early"]
    figures["rss_growth_ratio"] = figures["rss_growth"] / figures["rss_early"]
    return figures


# -- parent ---------------------------------------------------------------------------
def file_counts(directory: Path) -> dict[str, int]:
    """Parquet files, log segments and files under ``_ids/`` in ``directory``."""
    counts = {"parquet": 0, "segments": 0, "ids": 0}
    for top, _dirs, files in os.walk(directory):
        in_ids = Path(top).relative_to(directory).parts[:1] == ("_ids",)
        for name in files:
            if in_ids:
                counts["ids"] += 1
            elif name.endswith(".parquet"):
                counts["parquet"] += 1
            elif name.endswith((".aslog", ".arrows")):
                counts["segments"] += 1
    return counts


def _env() -> dict[str, str]:
    """This process's environment with this checkout's ``src/`` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    return env


def create_round(directory: Path) -> int:
    """Create the round the writers write to; its number."""
    root = asc.Root.at(directory)
    with root.get_project(PROJECT) as project, project.get_client(CLIENT) as client:
        with client.new_round(METRIC) as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), SPACE)
            number = rnd.round_number
    root.close()
    return number


def run_writers(directory: Path, args: argparse.Namespace) -> tuple[list[dict], dict[str, Any]]:
    """Start the writers, sample the directory every 2 s until they end; their figures."""
    shares = [
        args.trials // args.writers + (i < args.trials % args.writers) for i in range(args.writers)
    ]
    start = time.perf_counter()
    command = [sys.executable, __file__, "writer", "--dir", str(directory)]
    command += ["--splits", str(args.splits), "--epochs", str(args.epochs)]
    writers = [
        subprocess.Popen(
            [*command, "--index", str(i), "--trials", str(share)],
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for i, share in enumerate(shares)
    ]
    samples: list[tuple[float, dict[str, int]]] = []
    shown = start
    while any(w.poll() is None for w in writers):
        now = time.perf_counter()
        samples.append((now - start, file_counts(directory)))
        if now - shown >= 30:
            shown = now
            print(f"[parent] {now - start:.0f} s: {samples[-1][1]}", file=sys.stderr, flush=True)
        time.sleep(max(0.0, 2.0 - (time.perf_counter() - now)))
    seconds = time.perf_counter() - start
    figures = []
    for writer in writers:
        out, _ = writer.communicate()
        if writer.returncode != 0:
            raise SystemExit(f"a writer failed (exit {writer.returncode}); see its stderr above")
        figures.append(json.loads(out.splitlines()[-1]))
    final = file_counts(directory)
    quarters: list[dict[str, int | None]] = []
    for q in range(4):
        seen = [c for t, c in samples if q * seconds / 4 <= t < (q + 1) * seconds / 4]
        quarters.append({key: max(c[key] for c in seen) if seen else None for key in final})
    files = {
        "seconds": seconds,
        "final": final,
        "quarters": quarters,
        "samples": len(samples),
        "timeline": samples,
    }
    return figures, files


def time_summary(directory: Path, runs: int) -> tuple[list[float], list[float], str]:
    """Seconds of ``arrowscope summary DIR`` in fresh processes, of ``arrowscope --help``
    (the start-up, without pyarrow and DuckDB) in as many, interleaved, and the summary's output.

    The first summary computes the round's derived tables and stores them in
    the cache (``_cache/``); the later ones read them from it.
    """
    entry = Path(sys.executable).with_name("arrowscope")
    command = [str(entry)] if entry.exists() else [sys.executable, "-m", "arrowscope.cli"]
    summary, startup, output = [], [], ""
    shutil.rmtree(directory / "_cache", ignore_errors=True)
    for _ in range(runs + 1):
        for arguments, times in ((["summary", str(directory)], summary), (["--help"], startup)):
            start = time.perf_counter()
            done = subprocess.run(
                [*command, *arguments], capture_output=True, text=True, env=_env(), check=True
            )
            times.append(time.perf_counter() - start)
            if arguments[0] == "summary":
                output = done.stdout
    return summary, startup, output


def _bytes(directory: Path, keep: Callable[[Path], bool]) -> int:
    """The size of the files under ``directory`` that ``keep`` accepts."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and keep(p))


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row


def count_rows(directory: Path) -> dict[str, Any]:
    """Rows as plain DuckDB and as arrowscope's views count them (with seconds)."""
    found: dict[str, Any] = {}
    start = time.perf_counter()
    plain = duckdb.connect()
    metrics = f"read_parquet('{directory}/metrics/**/*.parquet', hive_partitioning=true)"
    events = f"read_parquet('{directory}/events/**/*.parquet', hive_partitioning=true)"
    (found["plain_values"],) = _one(plain, f"select count(*) from {metrics}")
    found["plain_trials"], found["plain_splits"] = _one(
        plain,
        "select count(distinct trial) filter (where level = 'trial'), "
        f"count(distinct (trial, split)) filter (where level = 'split') from {events}",
    )
    plain.close()
    found["plain_s"] = time.perf_counter() - start
    start = time.perf_counter()
    con = asc.connect(directory)
    (found["asc_values"],) = _one(con, "select count(*) from metrics")
    found["asc_trials"], found["asc_success"] = _one(
        con, "select count(*), count(*) filter (where status = 'SUCCESS') from trials"
    )
    found["asc_n_trials"], found["asc_n_success"] = _one(
        con, "select n_trials, n_success from rounds"
    )
    con.close()
    found["asc_s"] = time.perf_counter() - start
    return found


def _where() -> str:
    path = Path(asc.__file__).resolve().parent
    return str(path.relative_to(REPO_DIR)) if path.is_relative_to(REPO_DIR) else str(path)


# -- report ---------------------------------------------------------------------------
# Rows of the writers' figures: label, key, format, note.
WRITER_ROWS = (
    ("writer seconds", "seconds", "{:.0f}", "open to close"),
    ("writer values/s", "values_per_s", "{:,.0f}", ""),
    (
        "writer values/s, first tenth of its trials",
        "first_tenth_values_per_s",
        "{:,.0f}",
        "start-up included",
    ),
    (
        "writer values/s, last tenth of its trials",
        "last_tenth_values_per_s",
        "{:,.0f}",
        "close excluded",
    ),
    ("writer RSS min (MB)", "rss_min", "{:.0f}", f"sampled every {RSS_INTERVAL} s"),
    ("writer RSS median (MB)", "rss_median", "{:.0f}", ""),
    ("writer RSS max (MB)", "rss_max", "{:.0f}", ""),
    ("writer RSS after 10 % of its trials (MB)", "rss_at_10", "{:.0f}", ""),
    ("writer RSS after 90 % of its trials (MB)", "rss_at_90", "{:.0f}", ""),
    (
        "writer's lowest RSS while writing trials 10–30 % (MB)",
        "rss_early",
        "{:.0f}",
        "between merges",
    ),
    ("writer's lowest RSS while writing trials 70–90 % (MB)", "rss_late", "{:.0f}", ""),
)


def _row(measure: str, value: str, note: str = "") -> str:
    return f"| {measure} | {value} | {note} |"


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _seconds(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} [{min(times):.2f}–{max(times):.2f}]"


def _most(count: int | None) -> str:
    return "–" if count is None else f"{count:,}"


def _growth(quarters: list[dict[str, int | None]], key: str) -> float:
    """The most files of the last quarter over the most of the second (0 without samples)."""
    second, last = quarters[1][key], quarters[3][key]
    return 0.0 if second is None or last is None else last / max(1, second)


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    meta, writers, files = results["meta"], results["writers"], results["files"]
    counts, summary = results["counts"], results["summary_s"]
    values = args.trials * args.splits * args.epochs * 2
    splits = args.trials * args.splits
    quarters, final = files["quarters"], files["final"]
    metric_parts = results["tables"]["metrics"]
    lines = [
        BEGIN,
        f"## Scale: {values / 1e6:,.0f}M values, {args.trials:,} trials, "
        f"{args.writers} writer processes (`bench_scale.py`)",
        "",
        f"Written on {meta['date']}; {meta['machine']}; arrowscope from `{meta['arrowscope']}`; "
        f"load average {meta['load_start']} at the start, {meta['load_end']} at the end "
        "(other work ran on the machine meanwhile); "
        f"the run took {meta['seconds']:.0f} s, {files['seconds']:.0f} s of it writing.",
        "",
        f"Command: `{meta['command']}`. One round: {args.trials:,} trials × {args.splits} "
        f"splits × 1 metric × {args.epochs} epochs × train/valid = {values:,} values, "
        f"{args.writers} processes writing {args.trials // args.writers:,} trials each through "
        "the scopes (`Root.at(dir)` with default settings, `resume_last_round`, "
        "`new_rvs_trial`, `add_train_results`/`add_valid_results` per split). "
        "Writer cells: median [min–max] over the writers.",
        "",
        "| measure | value | note |",
        "|---|---:|---|",
        _row("values written", f"{values:,}", f"{values / files['seconds']:,.0f} values/s in all"),
        *(_row(label, spread(writers, key, form), note) for label, key, form, note in WRITER_ROWS),
        _row(
            "RSS after each tenth of its trials (MB), the writer that grew most",
            " / ".join(
                f"{mb:.0f}" for mb in max(writers, key=lambda w: w["rss_growth"])["tenth_rss"]
            ),
            "a sawtooth is merges; a leak climbs",
        ),
        _row(
            "writer RSS growth between the two (MB)",
            spread(writers, "rss_growth", "{:+.1f}"),
            f"largest relative growth {max(w['rss_growth_ratio'] for w in writers):+.1%}",
        ),
    ]
    for key, label in (
        ("parquet", "Parquet files"),
        ("segments", "log segments"),
        ("ids", "files under `_ids/`"),
    ):
        most = " / ".join(_most(q[key]) for q in quarters)
        lines.append(
            _row(
                f"{label}: most seen per quarter of the writing; at the end",
                f"{most}; {final[key]:,}",
                f"sampled every 2 s ({files['samples']} samples)" if key == "parquet" else "",
            )
        )
    lines += [
        _row(
            "metrics parts at the end",
            f"{metric_parts['files']:,}",
            f"{metric_parts['rows'] / max(1, metric_parts['files']):,.0f} rows per part on average",
        ),
        _row(
            "bytes on disk at the end",
            f"{results['bytes']:,}",
            f"{results['bytes'] / values:.2f} bytes per value; the derived-table cache "
            f"(`_cache/`) adds {results['cache_bytes']:,}",
        ),
        _row(
            "`arrowscope summary DIR`, first run (s)",
            f"{summary[0]:.2f}",
            "computes the round's derived tables and stores them in `_cache/`",
        ),
        _row(
            "`arrowscope summary DIR`, later runs (s)",
            _seconds(summary[1:]),
            f"{len(summary) - 1} fresh processes reading the cache, start-up included",
        ),
        _row(
            "`arrowscope --help` (s)",
            _seconds(results["startup_s"]),
            "start-up without pyarrow and DuckDB, timed between the summaries",
        ),
        _row(
            "values: written / plain DuckDB / arrowscope",
            f"{values:,} / {counts['plain_values']:,} / {counts['asc_values']:,}",
            "`count(*)` of `read_parquet('DIR/metrics/**/*.parquet')`; of `metrics`",
        ),
        _row(
            "trials: written / plain DuckDB / `trials` / `rounds.n_trials`",
            f"{args.trials:,} / {counts['plain_trials']:,} / {counts['asc_trials']:,} / "
            f"{counts['asc_n_trials']:,}",
            f"plain: distinct trials of the events; SUCCESS: {counts['asc_success']:,} "
            f"(`trials`), {counts['asc_n_success']:,} (`rounds`)",
        ),
        _row(
            "splits: written / plain DuckDB",
            f"{splits:,} / {counts['plain_splits']:,}",
            "distinct (trial, split) of the events",
        ),
        _row(
            "counting (s): plain DuckDB; `arrowscope.connect` + 3 queries",
            f"{counts['plain_s']:.2f}; {counts['asc_s']:.2f}",
            "in the parent process",
        ),
        "",
    ]
    checks = results["checks"]
    lines += [
        "| check | rule | met |",
        "|---|---|---|",
        f"| RSS of each writer flat | lowest RSS while writing trials 70–90 % at most "
        f"{RSS_LIMIT:.0%} over the lowest while writing trials 10–30 % "
        f"| {_verdict(checks['rss'])} |",
        f"| part count bounded | Parquet files, log segments and `_ids/` files: the most seen "
        f"in the last quarter at most {GROWTH_LIMIT}× the most in the second (the data doubles "
        f"in between) | {_verdict(checks['files'])} |",
        f"| `arrowscope summary` under {SUMMARY_LIMIT_S:.0f} s | median of the later runs "
        f"| {_verdict(checks['summary'])} |",
        "| plain DuckDB and arrowscope agree | values, trials and splits equal to what was "
        f"written, both ways | {_verdict(checks['counts'])} |",
        "",
        "`arrowscope summary` printed:",
        "",
        "```",
        results["summary_output"].rstrip("\n"),
        "```",
        "",
        END,
        "",
    ]
    return "\n".join(lines)


def checks(results: dict[str, Any], args: argparse.Namespace) -> dict[str, bool]:
    counts, quarters = results["counts"], results["files"]["quarters"]
    values = args.trials * args.splits * args.epochs * 2
    return {
        "rss": all(w["rss_growth_ratio"] <= RSS_LIMIT for w in results["writers"]),
        "files": all(_growth(quarters, k) <= GROWTH_LIMIT for k in ("parquet", "segments", "ids")),
        "summary": statistics.median(results["summary_s"][1:]) < SUMMARY_LIMIT_S,
        "counts": counts["plain_values"] == counts["asc_values"] == values
        and counts["plain_trials"] == counts["asc_trials"] == counts["asc_n_trials"] == args.trials
        and counts["plain_splits"] == args.trials * args.splits,
    }


def scale_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    started, load_start = time.perf_counter(), load_average()
    directory = Path(tempfile.mkdtemp(prefix="scale-", dir=SCRATCH))
    try:
        number = create_round(directory)
        writers, files = run_writers(directory, args)
        if any(w["round"] != number for w in writers):
            raise SystemExit(f"a writer wrote to another round than {number}: {writers}")
        summary_s, startup_s, summary_output = time_summary(directory, args.summary_runs)
        results: dict[str, Any] = {
            "writers": writers,
            "files": files,
            "summary_s": summary_s,
            "startup_s": startup_s,
            "summary_output": summary_output,
            "counts": count_rows(directory),
            "tables": {t: vars(stats(directory, t)) for t in TABLES},
            "bytes": _bytes(directory, lambda p: p.parts[len(directory.parts)] != "_cache"),
            "cache_bytes": _bytes(directory / "_cache", lambda p: True),
        }
    finally:
        if args.keep:
            print(f"[parent] kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    results["checks"] = checks(results, args)
    results["meta"] = run_meta(
        " ".join(["bench_scale.py", *argv]), started, load_start, arrowscope=_where()
    )
    text = render(results, args)
    print(text)
    if args.raw:
        args.raw.write_text(json.dumps(results, indent=1, default=str))
    if args.out:
        write_section(args.out, text, BEGIN, END)
    return 0 if all(results["checks"].values()) else 1


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", nargs="?", default="run", choices=["run", "writer"])
    parser.add_argument("--trials", type=int, help="trials in all, or a writer's (100,000)")
    parser.add_argument("--writers", type=int, default=4, help="writer processes")
    parser.add_argument("--splits", type=int, default=2, help="validation splits per trial")
    parser.add_argument("--epochs", type=int, default=250, help="values per split and phase")
    parser.add_argument("--summary-runs", type=int, default=3, help="timed `arrowscope summary`s")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 trials by default")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--out", type=Path, help="replace this benchmark's section of this file")
    parser.add_argument("--raw", type=Path, help="also write every figure as JSON here")
    parser.add_argument("--dir", type=Path, help="writer: the data directory")
    parser.add_argument("--index", type=int, default=0, help="writer: its number")
    args = parser.parse_args(argv)
    if args.trials is None:
        args.trials = 2_000 if args.quick else 100_000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.what == "writer":
        figures = write_share(args.dir, args.index, args.trials, args.splits, args.epochs)
        print(json.dumps(figures))
        return 0
    return scale_run(args, argv)


if __name__ == "__main__":
    sys.exit(main())
