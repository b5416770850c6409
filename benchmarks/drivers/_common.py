"""What every driver shares: arguments, timing, answer checks and the JSON report.

A driver subclasses ``Bench`` and calls ``main``. ``main`` generates the workload
(untimed), then times, in this order:

* ``setup``: create or open the store (an empty database, an experiment, …);
* ``log``: log every value of the workload, including any final flush or close;
* ``reopen`` + ``best_trial`` (Q1, cold: opening the fresh handle is part of it);
* ``curve`` (Q2) and ``scores`` (Q3) on that same fresh handle.

It then checks the three answers against ``workload.reference``, measures the
bytes on disk and prints one JSON object on stdout. Anything the tool itself
prints on stdout is sent to stderr, so stdout carries only the report. A failure
is reported in the ``error`` field (with the stage it happened in) and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import sys
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from workload import (
    CurvePoint,
    Hyperparams,
    Reference,
    ScoreRow,
    TrialData,
    Workload,
    iter_trials,
    reference,
)

RAM = "RAM"
REL_TOL = 1e-9


class Skipped(Exception):
    """Raised by a driver whose mode the installed tool does not offer."""


class Bench(ABC):
    """One tool, backend and mode, driven through the tool's own API.

    Attributes:
        tool: tool name shown in the results table.
        backend: storage backend name.
        mode: logging style (``per-value``, ``batch``, …).
        note: caveat printed with the results (e.g. values the tool cannot hold).
    """

    tool = ""
    note: str | None = None

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.backend: str = args.backend
        self.mode: str = args.mode
        self.directory = Path(args.dir).resolve()
        self.workload = Workload(args.T, args.S, args.E, args.M, args.seed)

    def setup(self) -> None:
        """Create the empty store (timed apart from logging); by default its directory."""
        self.directory.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def log(self, trials: Sequence[TrialData]) -> int:
        """Log every value of ``trials``; return how many values the tool stored."""

    @abstractmethod
    def reopen(self) -> None:
        """Drop the writing handle and open a fresh one for the queries."""

    @abstractmethod
    def best_trial(self) -> int:
        """Q1: the number of the best trial."""

    @abstractmethod
    def curve(self, trial: int) -> list[CurvePoint]:
        """Q2: ``(epoch, mean train or None, mean valid)`` of ``metric0`` per epoch."""

    @abstractmethod
    def scores(self) -> list[ScoreRow]:
        """Q3: every trial's score with its hyperparameters."""

    def disk_bytes(self) -> int | str:
        """Bytes on disk under the run directory, or ``"RAM"`` for in-memory backends."""
        return directory_bytes(self.directory)

    def extras(self, expected: Reference) -> dict[str, Any]:
        """Tool-specific measurements added to the report after the checks."""
        return {"q1_expected_score": expected.best_score}


def directory_bytes(directory: Path) -> int:
    """Sum of the sizes of the regular files under ``directory``."""
    total = 0
    for dirpath, _, filenames in os.walk(directory):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
    return total


def parse_args(
    description: str,
    backends: Sequence[str],
    modes: Sequence[str] = ("per-value",),
    uri: bool = False,
) -> argparse.Namespace:
    """Parse the arguments every driver takes (and ``--uri`` for a driver that has it)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--T", type=int, default=20, help="trials")
    parser.add_argument("--S", type=int, default=3, help="validation splits per trial")
    parser.add_argument("--E", type=int, default=20, help="epochs per split")
    parser.add_argument("--M", type=int, default=2, help="metrics")
    parser.add_argument("--seed", type=int, default=0, help="workload seed")
    parser.add_argument("--dir", required=True, help="empty directory for the store")
    parser.add_argument("--backend", choices=backends, default=backends[0])
    parser.add_argument("--mode", choices=modes, default=modes[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    if uri:
        parser.add_argument("--uri", help="the store's URI (s3://bucket/prefix) for --backend s3")
    return parser.parse_args()


def close(a: float, b: float) -> bool:
    """Whether two scores agree up to floating-point summation order."""
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=REL_TOL)


def curve_ok(answer: Sequence[CurvePoint], expected: Sequence[CurvePoint]) -> bool:
    """Whether a learning curve matches; a ``None`` train value (not stored) is not compared."""
    if len(answer) != len(expected):
        return False
    for (epoch, train, valid), (ref_epoch, ref_train, ref_valid) in zip(
        answer, expected, strict=True
    ):
        if epoch != ref_epoch or not close(valid, ref_valid):
            return False
        if train is not None and ref_train is not None and not close(train, ref_train):
            return False
    return True


def _hyperparams_equal(answer: Hyperparams, expected: Hyperparams) -> bool:
    """Whether hyperparameters match (floats up to rounding)."""
    if answer.keys() != expected.keys():
        return False
    for key, value in expected.items():
        got = answer[key]
        if isinstance(value, float) and isinstance(got, float):
            if not close(got, value):
                return False
        elif got != value:
            return False
    return True


def scores_ok(answer: Sequence[ScoreRow], expected: Sequence[ScoreRow]) -> bool:
    """Whether Q3 returned every trial once, with its score and hyperparameters."""
    by_trial = {row.trial: row for row in answer}
    if len(by_trial) != len(answer) or by_trial.keys() != {row.trial for row in expected}:
        return False
    return all(
        close(by_trial[row.trial].score, row.score)
        and _hyperparams_equal(by_trial[row.trial].hyperparams, row.hyperparams)
        for row in expected
    )


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever is written to file descriptor 1 to file descriptor 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class _Stopwatch:
    """Times named stages into a report and remembers the stage running."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.stage = "start"

    @contextlib.contextmanager
    def time(self, stage: str, key: str | None = None) -> Iterator[None]:
        self.stage = stage
        start = time.perf_counter()
        yield
        if key is not None:
            self.report[key] = time.perf_counter() - start


def _run(bench: Bench, report: dict[str, Any], watch: _Stopwatch) -> None:
    """Log, query, check and measure; fill ``report`` as it goes."""
    workload = bench.workload
    with watch.time("generate"):
        trials = list(iter_trials(workload.T, workload.S, workload.E, workload.M, workload.seed))
        expected: Reference = reference(workload, trials)
    report["q1_expected"] = expected.best_trial
    with watch.time("setup", "setup_s"):
        bench.setup()
    with watch.time("log", "log_seconds"):
        n_values = bench.log(trials)
    report["n_values"] = n_values
    report["values_per_s"] = n_values / report["log_seconds"]
    with watch.time("q1", "q1_s"):
        bench.reopen()
        answer = bench.best_trial()
    report["q1_answer"] = answer
    report["q1_ok"] = answer == expected.best_trial
    with watch.time("q2", "q2_s"):
        curve = bench.curve(expected.curve_trial)
    report["q2_ok"] = curve_ok(curve, expected.curve)
    with watch.time("q3", "q3_s"):
        rows = bench.scores()
    report["q3_ok"] = scores_ok(rows, expected.scores)
    with watch.time("bytes"):
        size = bench.disk_bytes()
    report["bytes"] = size
    report["bytes_per_value"] = size / n_values if isinstance(size, int) else RAM
    with watch.time("extras"):
        report.update(bench.extras(expected))


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, sort_keys=False))
        return
    for key, value in report.items():
        print(f"{key:>16}: {value}")


def main(driver: type[Bench], args: argparse.Namespace) -> int:
    """Run one driver in this process and print its report; return the exit status.

    Args:
        driver: the ``Bench`` subclass; its constructor imports the tool, so that an
            import error is reported like any other failure.
        args: the parsed command line (``parse_args``).
    """
    report: dict[str, Any] = {"tool": driver.tool, "backend": args.backend, "mode": args.mode}
    report.update(T=args.T, S=args.S, E=args.E, M=args.M)
    watch = _Stopwatch(report)
    status = 0
    with stdout_to_stderr():
        try:
            with watch.time("import", "import_s"):
                bench = driver(args)
            report["mode"] = bench.mode
            if bench.note:
                report["note"] = bench.note
            _run(bench, report, watch)
        except Skipped as exc:
            report["skipped"] = str(exc)
        except Exception as exc:  # reported, not raised: the caller reads the JSON
            traceback.print_exc()
            report["error"] = f"{watch.stage}: {type(exc).__name__}: {exc}"
            status = 1
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _print(report, args.json)
    return status
