"""Markdown rendering of benchmark results, the machine description, and the
replacement of one benchmark's section of ``RESULTS.md``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workload import Workload

REFERENCE = ("arrowscope", "idiom")
PACKAGES = {
    "main": ("arrowscope", "pyarrow", "duckdb", "numpy"),
    "peers": ("neuraxle", "mlflow", "optuna", "pandas", "numpy", "SQLAlchemy"),
}
COLUMNS = (
    "tool",
    "backend",
    "mode",
    "values",
    "values/s",
    "this ÷ arrowscope",
    "arrowscope ÷ this",
    "Q1 s",
    "Q2 s",
    "Q3 s",
    "bytes on disk",
    "bytes/value",
    "Q1 agrees",
    "Q2, Q3 agree",
)
LEGEND = """\
- **values**: values the tool stored (`n_values`); **values/s**: that ÷ logging seconds
  (store creation excluded, final flush/close included).
- **this ÷ arrowscope**: this row's values/s ÷ arrowscope's (idiom mode) values/s;
  **arrowscope ÷ this**: the inverse, i.e. how many times faster arrowscope logs.
- **Q1 s**: open a fresh handle and find the best trial; **Q2 s**: one trial's learning
  curve; **Q3 s**: every trial's score with its hyperparameters (same handle as Q1).
- **bytes on disk**: files under the run directory after logging (`RAM`: nothing
  persisted); for arrowscope `before → after` running `arrowscope compact`, without
  `_cache/` (the derived tables its connections keep; `cache_bytes` in the raw JSON).
- **Q1 agrees**: the answer equals the reference computed in plain Python (for arrowscope,
  both the API and the SQL answer, and the SQL answer after compaction);
  **Q2, Q3 agree**: the curve and the scores match it too (within 1e-9).
- Times are medians over the repeats, each in a fresh process on an empty directory."""


@dataclass(frozen=True)
class Section:
    """The merged results of one size."""

    name: str
    workload: Workload
    repeat: int
    results: list[dict[str, Any]]
    seconds: float


def progress(result: dict[str, Any]) -> str:
    """A one-line summary of one run, for the progress log."""
    if "error" in result:
        return f"ERROR {result['error']}"
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    checks = "ok" if _checks(result, "q1") else "Q1 WRONG"
    return f"{result['values_per_s']:,.0f} values/s, Q1 {result['q1_s']:.3g} s, {checks}"


def _checks(result: dict[str, Any], prefix: str) -> bool:
    """Whether every ``<prefix>*_ok`` check of a result passed."""
    flags = [v for k, v in result.items() if k.startswith(prefix) and k.endswith("_ok")]
    return bool(flags) and all(flags)


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "—"


def _ratio(value: Any, reference: Any, inverse: bool = False) -> str:
    if not isinstance(value, int | float) or not isinstance(reference, int | float):
        return "n/a"
    ratio = reference / value if inverse else value / reference
    return f"{ratio:.3g}x"


def _bytes(result: dict[str, Any], key: str, spec: str) -> str:
    value = result.get(key)
    if value is None:
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    text = format(value, spec)
    compacted = result.get(f"{key}_compacted" if key == "bytes_per_value" else "bytes_compacted")
    return f"{text} → {format(compacted, spec)}" if isinstance(compacted, int | float) else text


def _row(result: dict[str, Any], reference_rate: Any) -> list[str]:
    """The table cells of one merged result."""
    cells = [result.get("tool", "?"), result.get("backend", "?"), result.get("mode", "?")]
    if "error" in result or "skipped" in result:
        status = "skipped" if "skipped" in result else "failed"
        return [*cells, status, *["—"] * (len(COLUMNS) - 4)]
    rate = result.get("values_per_s")
    return [
        *cells,
        _number(result.get("n_values"), ",.0f"),
        _number(rate, ",.0f"),
        _ratio(rate, reference_rate),
        _ratio(rate, reference_rate, inverse=True),
        _number(result.get("q1_s"), ".3g"),
        _number(result.get("q2_s"), ".3g"),
        _number(result.get("q3_s"), ".3g"),
        _bytes(result, "bytes", ",.0f"),
        _bytes(result, "bytes_per_value", ",.1f"),
        "yes" if _checks(result, "q1") else "**NO**",
        "yes" if _checks(result, "q2") and _checks(result, "q3") else "**NO**",
    ]


def _reference_rate(results: Sequence[dict[str, Any]]) -> Any:
    for result in results:
        if (result.get("tool"), result.get("mode")) == REFERENCE and "error" not in result:
            return result.get("values_per_s")
    return None


def _notes(results: Sequence[dict[str, Any]]) -> list[str]:
    """Footnotes (errors, skips, partial failures, caveats), one per distinct text."""
    labels: dict[tuple[str, str], list[str]] = {}
    for result in results:
        label = f"{result.get('tool')}/{result.get('backend')}/{result.get('mode')}"
        for key in ("error", "skipped", "failed_runs", "note", "compaction"):
            if key in result:
                labels.setdefault((key.replace("_", " "), str(result[key])), []).append(label)
    return [f"- {', '.join(rows)}: {key}: {text}" for (key, text), rows in labels.items()]


def render_section(section: Section) -> str:
    """One size: its heading, table and notes."""
    w = section.workload
    lines = [
        f"## {section.name}: W(T={w.T}, S={w.S}, E={w.E}, M={w.M}) = {w.n_values:,} values",
        "",
        f"Medians of {section.repeat} run(s) per row; the suite took {section.seconds:.0f} s.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    reference_rate = _reference_rate(section.results)
    lines += ["| " + " | ".join(_row(r, reference_rate)) + " |" for r in section.results]
    notes = _notes(section.results)
    return "\n".join([*lines, "", *notes] if notes else lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


_VERSIONS_SCRIPT = """
import importlib, importlib.metadata, json, sys
def version(name):
    try:
        module = importlib.import_module(name.lower())
    except ImportError:
        return "not installed"
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return f"{getattr(module, '__version__', '?')} (from {module.__file__})"
print(json.dumps([sys.version.split()[0], {name: version(name) for name in sys.argv[1:]}]))
"""


def _interpreter(python: str, env: dict[str, str], packages: Sequence[str]) -> str:
    """``Python x.y.z (path): pkg a.b, …`` as seen by ``python`` in ``env``."""
    command = [python, "-c", _VERSIONS_SCRIPT, *packages]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        version, found = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, subprocess.SubprocessError):
        return f"`{python}`: not runnable"
    listed = ", ".join(f"{name} {ver}" for name, ver in found.items())
    return f"Python {version} (`{python}`): {listed}"


def render_header(pythons: dict[str, tuple[str | None, dict[str, str]]]) -> str:
    """The machine and software description."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# arrowscope benchmarks",
        "",
        f"Written by `benchmarks/run.py` on {now}. See `benchmarks/README.md` for the workload.",
        "",
        f"- CPU: {_cpu_model()}; {len(os.sched_getaffinity(0))} cores usable (nproc);"
        f" {_memory_gib()} RAM",
    ]
    for role, (python, env) in pythons.items():
        label = "arrowscope, floor" if role == "main" else "peers"
        text = _interpreter(python, env, PACKAGES[role]) if python else "not set up"
        lines.append(f"- {label}: {text}")
    return "\n".join(lines)


def render(
    sections: Sequence[Section], pythons: dict[str, tuple[str | None, dict[str, str]]]
) -> str:
    """The whole markdown report.

    Args:
        sections: one per size, in order.
        pythons: role (``main``, ``peers``) → interpreter (None if missing) and the
            environment its drivers run with.
    """
    parts = [render_header(pythons)]
    parts += [render_section(section) for section in sections]
    goals = render_goals(sections)
    if goals:
        parts.append(goals)
    parts.append("## Columns\n\n" + LEGEND)
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class Goal:
    """A ratio the speed work aims at: row ``a``'s ``key`` ÷ row ``b``'s, at one size.

    Rows are ``tool/backend/mode``; ``bound`` None means the ratio is shown, not judged.
    """

    size: str
    what: str
    a: str
    b: str
    key: str
    bound: float | None = None
    at_most: bool = True

    def judge(self, ratio: float) -> str:
        if self.bound is None:
            return "—"
        return "yes" if (ratio <= self.bound if self.at_most else ratio >= self.bound) else "no"

    @property
    def goal(self) -> str:
        if self.bound is None:
            return "—"
        return f"{'≤' if self.at_most else '≥'} {self.bound:g}"


_AS, _FLOOR = "arrowscope/parquet/idiom", "floor/parquet/per-value"
_BATCH, _JOURNAL = "mlflow/sqlite/log_batch", "optuna/journal/per-value"
GOALS = (
    Goal("large", "floor ÷ arrowscope, values/s", _FLOOR, _AS, "values_per_s", 3),
    Goal(
        "small",
        "arrowscope ÷ MLflow `log_batch`, values/s",
        _AS,
        _BATCH,
        "values_per_s",
        100,
        at_most=False,
    ),
    Goal(
        "small",
        "arrowscope ÷ Optuna journal, values/s",
        _AS,
        _JOURNAL,
        "values_per_s",
        150,
        at_most=False,
    ),
    Goal("small", "arrowscope Q1 ÷ Optuna journal Q1", _AS, _JOURNAL, "q1_s", 1),
    Goal("medium", "arrowscope ÷ MLflow `log_batch`, values/s", _AS, _BATCH, "values_per_s"),
    Goal("medium", "arrowscope Q1 ÷ Optuna journal Q1", _AS, _JOURNAL, "q1_s"),
    Goal("medium", "arrowscope Q1 ÷ MLflow `log_batch` Q1", _AS, _BATCH, "q1_s"),
)


def _result(section: Section, label: str) -> dict[str, Any] | None:
    for result in section.results:
        found = f"{result.get('tool')}/{result.get('backend')}/{result.get('mode')}"
        if found == label and "error" not in result and "skipped" not in result:
            return result
    return None


def render_goals(sections: Sequence[Section]) -> str | None:
    """The goal ratios the run can compute, each from two rows of one table."""
    by_name = {section.name: section for section in sections}
    lines = []
    for goal in GOALS:
        section = by_name.get(goal.size)
        if section is None:
            continue
        a, b = _result(section, goal.a), _result(section, goal.b)
        value_a, value_b = (a or {}).get(goal.key), (b or {}).get(goal.key)
        if not (isinstance(value_a, int | float) and isinstance(value_b, int | float)):
            continue
        ratio = value_a / value_b if value_b else float("inf")
        lines.append(
            f"| {goal.size} | {goal.what} | {ratio:,.3g} | {goal.goal} | {goal.judge(ratio)} |"
        )
    if not lines:
        return None
    header = [
        "## Goals: ratios from the tables above",
        "",
        "| size | ratio | this run | goal | met |",
        "|---|---|---:|---:|---|",
    ]
    return "\n".join(header + lines)


def arrowscope_succeeded(sections: Sequence[Section]) -> bool:
    """Whether arrowscope ran in every section and none of its rows failed."""
    for section in sections:
        rows = [r for r in section.results if r.get("tool") == "arrowscope"]
        if not rows or any("error" in r for r in rows):
            return False
    return True


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as text."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def run_meta(command: str, started: float, load_start: str, **extra: Any) -> dict[str, Any]:
    """What a benchmark section says about its run: date, interpreter, cores, load, duration.

    ``started`` is a ``time.perf_counter()`` reading; ``load_start`` a ``load_average()``.
    """
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"CPython {sys.version.split()[0]}, {os.cpu_count()} cores",
        **extra,
        "load_start": load_start,
        "load_end": load_average(),
        "seconds": time.perf_counter() - started,
        "command": command,
    }


def write_section(out: Path, section: str, begin: str, end: str) -> None:
    """Replace the part of ``out`` from ``begin`` to ``end`` with ``section`` (appended when
    either marker is missing); ``section`` holds the markers itself."""
    text = out.read_text() if out.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)
