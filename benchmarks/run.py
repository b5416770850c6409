"""Run every benchmark driver in fresh processes and tabulate the medians.

Each tool, backend and mode runs ``--repeat`` times per size (round by round:
every target once, then again), every run in a new process on an empty
directory (deleted afterwards), with a timeout. Peers run
with ``benchmarks/.venv-peers/bin/python`` (``setup_peers.sh`` creates it);
arrowscope and the floor with the repository's ``.venv/bin/python`` (or this
interpreter when there is none). A run that fails, times out or cannot start is
reported in the table, and the others still run. arrowscope is imported from this
checkout's ``src/`` (put first on ``PYTHONPATH``), whether or not it is installed.

The markdown report goes to stdout and, with ``--out``, to a file; the file is
written only when every arrowscope run succeeded, since its ratios are the point.

Usage: ``python benchmarks/run.py --sizes small --tools floor,optuna --repeat 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
from workload import Workload

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SRC_DIR = REPO_DIR / "src"
DRIVERS = BENCH_DIR / "drivers"
PEERS_VENV = BENCH_DIR / ".venv-peers"
# Scratch runs go on the repository's disk: /tmp may be a RAM disk, which would flatter
# the tools that write files.
SCRATCH = BENCH_DIR / ".scratch"
PEER_TOOLS = ("neuraxle", "mlflow", "optuna")
PEER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass(frozen=True)
class Target:
    """One tool, backend and mode, run by one driver script."""

    tool: str
    script: str
    backend: str
    mode: str

    @property
    def label(self) -> str:
        return f"{self.tool}/{self.backend}/{self.mode}"


@dataclass(frozen=True)
class Size:
    """A named workload, the tools that run it and its default number of repeats."""

    name: str
    workload: Workload
    tools: tuple[str, ...]
    repeat: int
    #: Targets (``tool/backend/mode``) left out at this size.
    skip: tuple[str, ...] = ()


TARGETS = (
    Target("arrowscope", "arrowscope_driver.py", "parquet", "idiom"),
    Target("arrowscope", "arrowscope_driver.py", "parquet", "batch"),
    Target("floor", "floor.py", "parquet", "per-value"),
    Target("neuraxle", "neuraxle_driver.py", "memory", "per-value"),
    Target("neuraxle", "neuraxle_driver.py", "json", "per-value"),
    Target("mlflow", "mlflow_driver.py", "sqlite", "log_metric"),
    Target("mlflow", "mlflow_driver.py", "sqlite", "log_batch"),
    Target("optuna", "optuna_driver.py", "memory", "per-value"),
    Target("optuna", "optuna_driver.py", "sqlite", "per-value"),
    Target("optuna", "optuna_driver.py", "journal", "per-value"),
)
ALL_TOOLS = ("arrowscope", "floor", *PEER_TOOLS)
SIZES = {
    "small": Size("small", Workload(T=20, S=3, E=40, M=2), ALL_TOOLS, repeat=3),
    # Query times differ between the tools at this size. The per-value peers that log
    # under 1,000 values/s on the small workload (Neuraxle, MLflow's log_metric) would
    # take 4 to 11 minutes each here: their rates are in the small table.
    "medium": Size(
        "medium",
        Workload(T=200, S=5, E=50, M=2),
        ALL_TOOLS,
        repeat=1,
        skip=("neuraxle/memory/per-value", "neuraxle/json/per-value", "mlflow/sqlite/log_metric"),
    ),
    "large": Size("large", Workload(T=2000, S=5, E=25, M=2), ("arrowscope", "floor"), repeat=1),
}


def main_python() -> str:
    """The interpreter for arrowscope and the floor."""
    venv_python = REPO_DIR / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def peers_python() -> str | None:
    """The peers' interpreter, or None when ``setup_peers.sh`` has not run."""
    python = PEERS_VENV / "bin" / "python"
    return str(python) if python.exists() else None


def install_failures() -> dict[str, str]:
    """Tool → reason, for peers whose install step failed (from the setup log)."""
    log = PEERS_VENV / "install.log"
    if not log.exists():
        return {}
    failed: dict[str, str] = {}
    for line in log.read_text().splitlines():
        step, _, outcome = line.partition(" ")
        tool = step.removesuffix("-deps")
        if outcome == "failed" and tool in PEER_TOOLS:
            failed[tool] = f"install failed ({step}); see {log}"
    return failed


def run_env(peer: bool) -> dict[str, str]:
    """The environment of a driver: this checkout's ``src`` first for arrowscope and the floor.

    The benchmark measures the arrowscope of this checkout, installed or not.
    """
    env = {**os.environ, **PEER_ENV}
    if not peer:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    return env


def parse_report(stdout: str) -> dict[str, Any] | None:
    """The last line of ``stdout`` that is a JSON object, if any."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def run_once(
    target: Target,
    workload: Workload,
    python: str,
    options: argparse.Namespace,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Run one driver in a fresh process on an empty directory; return its report.

    ``extra`` arguments go to the driver after the others (``--uri`` for ``bench_s3.py``).
    """
    directory = tempfile.mkdtemp(prefix=f"{target.tool}-{target.backend}-", dir=options.workdir)
    command = [python, str(DRIVERS / target.script), "--json", "--dir", directory]
    command += ["--backend", target.backend, "--mode", target.mode]
    command += [f"--T={workload.T}", f"--S={workload.S}", f"--E={workload.E}", f"--M={workload.M}"]
    command += extra
    env = run_env(peer=target.tool in PEER_TOOLS)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=options.timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {options.timeout:g} s"}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    parsed = parse_report(done.stdout)
    if parsed is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {last}"}
    return parsed


def median_report(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge repeated runs: medians of numbers, ``all`` of checks, the first failure."""
    good = [r for r in runs if "error" not in r and "skipped" not in r]
    if not good:
        return dict(runs[0])
    merged = dict(good[0])
    for key, value in good[0].items():
        values = [r.get(key) for r in good]
        numbers = [v for v in values if isinstance(v, int | float)]
        if isinstance(value, bool):
            merged[key] = all(values)
        elif isinstance(value, int | float) and len(numbers) == len(values):
            merged[key] = statistics.median(numbers)
    merged["runs"] = len(good)
    failures = [r["error"] for r in runs if "error" in r]
    if failures:
        merged["failed_runs"] = f"{len(failures)} of {len(runs)}: {failures[0]}"
    return merged


def run_size(size: Size, options: argparse.Namespace) -> tuple[list[dict[str, Any]], float]:
    """Run every selected target of ``size``; return the merged reports and the wall time.

    The repeats go round by round, every target once per round, so that the
    machine's speed drifting during the suite reaches every tool alike, not
    the tools that happened to run in a slow minute.
    """
    start = time.perf_counter()
    repeat = options.repeat or size.repeat
    selected = [
        t
        for t in TARGETS
        if t.tool in size.tools and t.tool in options.tools and t.label not in size.skip
    ]
    unable = {t.label: found for t in selected if (found := cannot_run(t, options)) is not None}
    runs: dict[str, list[dict[str, Any]]] = {t.label: [] for t in selected}
    stopped: set[str] = set()
    for index in range(repeat):
        for target in selected:
            if target.label in unable or target.label in stopped:
                continue
            began = time.perf_counter()
            python = _python(target)
            assert python is not None  # else in unable
            result = {**_labels(target), **run_once(target, size.workload, python, options)}
            runs[target.label].append(result)
            print(
                f"[{size.name}] {target.label} run {index + 1}/{repeat}: "
                f"{report.progress(result)} ({time.perf_counter() - began:.1f} s)",
                file=sys.stderr,
            )
            if "error" in result or "skipped" in result:
                stopped.add(target.label)
    results = [unable.get(t.label) or median_report(runs[t.label]) for t in selected]
    return results, time.perf_counter() - start


def cannot_run(target: Target, options: argparse.Namespace) -> dict[str, Any] | None:
    """The report of a target that cannot start (no interpreter, a failed install), or None."""
    if _python(target) is None:
        return {
            **_labels(target),
            "error": "peers venv missing: run bash benchmarks/setup_peers.sh",
        }
    if target.tool in options.install_failures:
        return {**_labels(target), "error": options.install_failures[target.tool]}
    return None


def _python(target: Target) -> str | None:
    return main_python() if target.tool not in PEER_TOOLS else peers_python()


def _labels(target: Target) -> dict[str, str]:
    return {"tool": target.tool, "backend": target.backend, "mode": target.mode}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="small,medium,large", help="comma-separated: small,medium,large"
    )
    parser.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated tools")
    parser.add_argument("--repeat", type=int, default=0, help="runs per target (default: per size)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--raw", type=Path, help="also write the merged reports as JSON here")
    parser.add_argument(
        "--workdir", type=Path, default=SCRATCH, help="where the runs' scratch directories go"
    )
    options = parser.parse_args(argv)
    options.sizes = [s for s in options.sizes.split(",") if s]
    options.tools = [t for t in options.tools.split(",") if t]
    unknown = [s for s in options.sizes if s not in SIZES] + [
        t for t in options.tools if t not in ALL_TOOLS
    ]
    if unknown:
        known = f"sizes: {', '.join(SIZES)}; tools: {', '.join(ALL_TOOLS)}"
        parser.error(f"unknown size or tool: {', '.join(unknown)} ({known})")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected sizes and print the report; return 1 if arrowscope failed.

    ``--out`` is written only when every arrowscope run succeeded; ``--raw`` always.
    """
    options = parse_args(argv)
    options.install_failures = install_failures()
    options.workdir.mkdir(parents=True, exist_ok=True)
    sections = []
    for name in options.sizes:
        size = SIZES[name]
        results, seconds = run_size(size, options)
        sections.append(
            report.Section(
                size.name, size.workload, options.repeat or size.repeat, results, seconds
            )
        )
    with contextlib.suppress(OSError):
        options.workdir.rmdir()  # only if empty: the runs delete their own directories
    pythons = {
        "main": (main_python(), run_env(peer=False)),
        "peers": (peers_python(), run_env(peer=True)),
    }
    text = report.render(sections, pythons)
    print(text)
    if options.raw:
        options.raw.write_text(json.dumps([s.results for s in sections], indent=1))
    if not report.arrowscope_succeeded(sections):
        print("arrowscope did not run successfully: no results file written", file=sys.stderr)
        return 1
    if options.out:
        options.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
