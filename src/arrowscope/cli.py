"""The ``arrowscope`` command: summaries, best trials, curves and SQL over a data directory.

Every subcommand is one function ``cmd_<name>(args) -> int`` plus a function
declaring its arguments, registered in ``COMMANDS``. Tables print aligned for
people; ``--json`` and ``--csv`` print for programs. Errors are one line on
stderr and exit code 2. This is the only module that configures logging.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import json
import logging
import math
import os
import sys
import threading
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from arrowscope.demo import DEMO_HELP, demo_arguments, run_demo_command
from arrowscope.errors import ArrowscopeError
from arrowscope.ui.commands import (
    REPORT_HELP,
    UI_DESCRIPTION,
    UI_HELP,
    report_arguments,
    run_report_command,
    run_ui_command,
    ui_arguments,
)

if TYPE_CHECKING:  # pyarrow and DuckDB load with the first command that reads data
    from arrowscope.query import QuerySession, Result

logger = logging.getLogger("arrowscope.cli")

EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1
EXIT_ERROR: Final = 2
_MAX_CELL: Final = 80


@dataclass(frozen=True)
class Command:
    """One subcommand: its one-line help, its arguments, and what it runs."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


class CommandError(ArrowscopeError):
    """A request the data cannot answer (unknown round or trial, ambiguous choice)."""


# -- summary -----------------------------------------------------------------
def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    _output_arguments(parser)


def cmd_summary(args: argparse.Namespace) -> int:
    with _session(args.path) as session:
        _emit(session.run("cli_summary"), args.format)
    return EXIT_OK


# -- best --------------------------------------------------------------------
def _best_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    _round_arguments(parser)
    parser.add_argument(
        "--top", type=_positive_int, default=5, metavar="N", help="trials per round (default 5)"
    )
    parser.add_argument(
        "--rank",
        choices=("best", "last", "mean"),
        default="best",
        help="score each split by its best validation value (default), the value of its "
        "last epoch, or its mean over epochs",
    )
    _output_arguments(parser)


def cmd_best(args: argparse.Namespace) -> int:
    with _session(args.path) as session:
        _matching_rounds(session, args)
        where = {"project": args.project, "client": args.client, "round": args.round}
        if args.rank == "best":
            best = session.run("cli_best", top=args.top, **where)
        else:
            best = session.run("cli_best_by", top=args.top, rule=args.rank, **where)
        if len(best) == 0:
            logger.warning("no SUCCESS trial with a score in the chosen round(s) yet")
        _emit(best, args.format)
    return EXIT_OK


# -- curves ------------------------------------------------------------------
def _curves_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    parser.add_argument("--trial", type=int, required=True, metavar="N", help="trial number")
    _round_arguments(parser)
    parser.add_argument("--metric", metavar="M", help="one metric only (default: all)")
    parser.add_argument("--png", type=Path, metavar="FILE", help="draw the curves into FILE")
    _output_arguments(parser)


def cmd_curves(args: argparse.Namespace) -> int:
    with _session(args.path) as session:
        project, client, round_number = _one_round(session, args)
        where = {"project": project, "client": client, "round": round_number}
        label = _round_label((project, client, round_number))
        if len(session.run("cli_trial", trial=args.trial, **where)) == 0:
            raise CommandError(f"round {label} has no trial {args.trial}")
        curves = session.run("cli_curves", trial=args.trial, metric=args.metric, **where)
        if len(curves) == 0:
            what = f"no values of metric {args.metric!r}" if args.metric else "no values"
            raise CommandError(f"trial {args.trial} of round {label} has {what}")
        if args.png is None:
            _emit(curves, args.format)
            return EXIT_OK
        from arrowscope.plots import plot_learning_curves

        figure = plot_learning_curves(curves.pl(), title=f"{label}, trial {args.trial}")
        with warnings.catch_warnings():
            # A name in a script the default font lacks draws as boxes; not worth a warning.
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            figure.savefig(args.png)
        print(f"wrote {args.png}")
    return EXIT_OK


# -- importance ----------------------------------------------------------------
def _importance_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    _round_arguments(parser)
    parser.add_argument("--metric", metavar="M", help="the metric (default: the main metric)")
    parser.add_argument(
        "--evaluator",
        choices=("fanova", "ped-anova"),
        default="fanova",
        help="Optuna's importance evaluator (default fanova)",
    )
    parser.add_argument("--png", type=Path, metavar="FILE", help="draw the importances into FILE")
    _output_arguments(parser)


def cmd_importance(args: argparse.Namespace) -> int:
    from arrowscope.location import ScopedLocation
    from arrowscope.reports import Reader, RoundReport

    with _session(args.path) as session:
        project, client, round_number = _one_round(session, args)
        report = RoundReport(
            Reader(session.repository), ScopedLocation(project, client, round_number)
        )
        frame = report.get_hyperparameter_importance(args.metric, evaluator=args.evaluator)
        if args.png is None:
            from arrowscope.query import Result

            _emit(Result(frame.to_arrow()), args.format)
            return EXIT_OK
        from arrowscope.plots import plot_hyperparameter_importance

        label = _round_label((project, client, round_number))
        figure = plot_hyperparameter_importance(frame, title=f"{label}: {args.evaluator}")
        figure.savefig(args.png)
        print(f"wrote {args.png}")
    return EXIT_OK


def _one_round(session: QuerySession, args: argparse.Namespace) -> tuple[str, str, int]:
    rounds = _matching_rounds(session, args)
    if len(rounds) > 1:
        found = ", ".join(_round_label(row) for row in rounds.fetchall())
        raise CommandError(
            f"{len(rounds)} rounds match ({found}); choose one with --project/--client/--round"
        )
    project, client, round_number = rounds.fetchall()[0][:3]
    return project, client, round_number


# -- sql ---------------------------------------------------------------------
def _sql_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    parser.add_argument("query", metavar="QUERY", help="SQL over the views, e.g. 'from rounds'")
    _output_arguments(parser)


def cmd_sql(args: argparse.Namespace) -> int:
    with _session(args.path) as session:
        _emit(session.fetch(args.query), args.format)
    return EXIT_OK


# -- compact -----------------------------------------------------------------
def _compact_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    parser.add_argument("--json", action="store_const", const="json", dest="format")


def cmd_compact(args: argparse.Namespace) -> int:
    from arrowscope.query import open_directory

    repository = open_directory(args.path)
    try:
        files_before, bytes_before = _part_sizes(repository.parquet_files)
        merged = repository.compact()
        files_after, bytes_after = _part_sizes(repository.parquet_files)
    finally:
        repository.close()
    report = {
        "parts_merged": merged,
        "files_before": files_before,
        "files_after": files_after,
        "bytes_before": bytes_before,
        "bytes_after": bytes_after,
    }
    if args.format == "json":
        print(json.dumps(report))
    else:
        print(
            f"merged {merged} parts: {files_before} -> {files_after} files, "
            f"{bytes_before:,} -> {bytes_after:,} bytes"
        )
    return EXIT_OK


# -- verify ------------------------------------------------------------------
def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    _path_argument(parser)
    _output_arguments(parser)


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute every split's summary from its values; exit 1 when one disagrees."""
    with _session(args.path) as session:
        problems = session.run("verify")
        checked = session.fetch("select count(*) from _split_metric_values").fetchall()[0][0]
    if len(problems):
        _emit(problems, args.format)
        return EXIT_PROBLEMS
    if args.format == "table":
        print(f"{checked} split metrics: every summary agrees with its values")
    else:
        _emit(problems, args.format)
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "demo": Command(DEMO_HELP, demo_arguments, run_demo_command),
    "summary": Command(
        "projects, clients and rounds with trial counts and best scores",
        _summary_arguments,
        cmd_summary,
    ),
    "best": Command(
        "the best trials of a round",
        _best_arguments,
        cmd_best,
        "Rank the SUCCESS trials with a score, best first (ties: lowest trial id). "
        "Without --round, the latest round of each client is ranked; --project and "
        "--client narrow the clients.",
    ),
    "curves": Command(
        "one trial's learning curves (mean over its validation splits)",
        _curves_arguments,
        cmd_curves,
        "Print (or, with --png, draw) a trial's curves per metric, phase and epoch. "
        "Without --round the latest round of each client is considered; exactly one "
        "round must match, so pass --project/--client when there are several clients.",
    ),
    "importance": Command(
        "how much each hyperparameter explains the score (Optuna's fANOVA or PED-ANOVA)",
        _importance_arguments,
        cmd_importance,
        "Rank the hyperparameters of one round's SUCCESS trials by importance (summing "
        "to 1). Needs the optuna extra. Without --round the latest round of each client "
        "is considered; exactly one round must match.",
    ),
    "sql": Command(
        "run SQL over the views (metrics, events, rounds, trials, splits, curves, params)",
        _sql_arguments,
        cmd_sql,
    ),
    "compact": Command(
        "merge small Parquet parts; prints parts merged and bytes before/after",
        _compact_arguments,
        cmd_compact,
    ),
    "verify": Command(
        "check every split's recorded summary against its values",
        _verify_arguments,
        cmd_verify,
        "Recompute each split's count, best value and epoch, last value and mean from "
        "the stored values and compare them with the summaries recorded when the "
        "splits exited (the views' scores come from those). Lists each disagreement "
        "and exits 1; exits 0 when all agree.",
    ),
    "ui": Command(UI_HELP, ui_arguments, run_ui_command, UI_DESCRIPTION),
    "report": Command(REPORT_HELP, report_arguments, run_report_command),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="arrowscope",
        description="Run the demo search, or inspect arrowscope data directories: "
        "summaries, best trials, curves, SQL, a web app and HTML reports.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(
            name, help=command.help, description=command.description or command.help
        )
        command.arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``arrowscope`` command; returns the exit code (0, or 2 on any error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    if args.command == "importance" or getattr(args, "optimizer", None) == "tpe":
        _quiet_optuna(args.verbose)
    try:
        return COMMANDS[args.command].run(args)
    except BrokenPipeError:
        # The reader (head, less) went away: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except (ArrowscopeError, OSError, ValueError, LookupError, ImportError) as exc:
        return _fail(exc, args.verbose)
    except Exception as exc:  # never a traceback for people; -v logs it
        return _fail(exc, args.verbose, unexpected=True)


def run() -> None:
    """The console script: ``main``, then exit without tearing the interpreter down.

    Tearing down pyarrow and DuckDB takes about 0.1 s, a fifth of a small query's
    whole run. The output is flushed and ``atexit`` handlers (loggers, object-store
    pushes, pins) run first; only a process with no thread left to join exits early.
    """
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.stderr.flush()
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.exit(code)
    atexit._run_exitfuncs()
    os._exit(code)


# -- plumbing ----------------------------------------------------------------
def _quiet_optuna(verbose: bool) -> None:
    """Optuna logs each study and trial at INFO on its own handler; keep that for -v."""
    try:
        import optuna
    except ImportError:
        return
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)


def _fail(exc: BaseException, verbose: bool, unexpected: bool = False) -> int:
    if unexpected and verbose:
        logger.error("unexpected error", exc_info=exc)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[0] if lines else type(exc).__name__
    if unexpected:
        message = f"unexpected {type(exc).__name__}: {message}"
    print(f"arrowscope: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _session(path: str) -> QuerySession:
    from arrowscope.query import QuerySession

    return QuerySession.open(path, views_on_demand=True)


def _matching_rounds(session: QuerySession, args: argparse.Namespace) -> Result:
    rounds = session.run("cli_rounds", project=args.project, client=args.client, round=args.round)
    if len(rounds) == 0:
        given = {k: getattr(args, k) for k in ("project", "client", "round")}
        wanted = ", ".join(f"{k}={v!r}" for k, v in given.items() if v is not None)
        raise CommandError(f"no round matches {wanted}" if wanted else "there are no rounds yet")
    return rounds


def _round_label(row: Sequence[Any]) -> str:
    return f"{row[0]}/{row[1]}/{row[2]}"


def _part_sizes(list_files: Callable[[str], list[str]]) -> tuple[int, int]:
    # Parts listed may be merged away by a concurrent compaction before they are sized.
    from arrowscope.schema import TABLES
    from arrowscope.store.compact import total_size

    return total_size(path for table in TABLES for path in list_files(table))


def _path_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", metavar="PATH", help="the data directory, file:///abs/path or s3://bucket/prefix"
    )


def _round_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", metavar="P", help="project name")
    parser.add_argument("--client", metavar="C", help="client name")
    parser.add_argument("--round", type=int, metavar="N", help="round number")


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json", action="store_const", const="json", dest="format", help="JSON records"
    )
    group.add_argument("--csv", action="store_const", const="csv", dest="format", help="CSV")
    parser.set_defaults(format="table")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _emit(result: Result, fmt: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    columns, rows = result.columns, result.fetchall()
    if fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        out.write(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_csv_value(v) for v in row] for row in rows])
    else:
        out.write(format_table(columns, rows))


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned plain-text table: numbers to the right, text to the left."""
    cells = [[_text(v) for v in row] for row in rows]
    numeric = [
        any(row[i] is not None for row in rows)
        and all(_is_number(row[i]) for row in rows if row[i] is not None)
        for i in range(len(columns))
    ]
    widths = [
        max([_width(name)] + [_width(row[i]) for row in cells]) for i, name in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        padded = [_pad(v, w, right) for v, w, right in zip(values, widths, numeric, strict=True)]
        return "  ".join(padded).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    text = str(value).replace("\r", "").replace("\n", " ⏎ ")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


if __name__ == "__main__":
    run()
