"""Scopes a dead writer left running: found in the events, then ended ABORTED.

A process killed outright (``kill -9``, out of memory, a lost node) leaves
its last trials and splits PLANNED or RUNNING. The process that recovers the
dead writer's log (``_recovery.recover``) then appends, for every trial and
split whose latest event that writer wrote and which is not finished, an
ABORTED event saying who died, and for each metric of such a split the
summary event its exit would have written (see ``arrowscope.summaries``),
computed from the values that reached the store. The events are ordinary
rows: views, reports, the CLI and plain DuckDB over ``events`` all see the
same state.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from arrowscope.location import TrialStatus
from arrowscope.store._locks import WriterInfo
from arrowscope.summaries import summarize

_SCOPE_KEYS: Final = ("project", "client", "round", "level", "trial", "split")
_OPEN: Final = (TrialStatus.PLANNED.value, TrialStatus.RUNNING.value)
ERROR_TYPE: Final = "WriterDied"


def orphaned_scopes(events: pa.Table, writer: str) -> list[dict[str, Any]]:
    """The latest event of every trial and split that ``writer`` left unfinished.

    Args:
        events: Rows of the events table, partition columns included.
        writer: The id of the writer that died.

    Returns:
        One row (as a dict) per orphaned scope, with ``order_clock`` added.
    """
    scopes = events.filter(pc.is_in(events["level"], pa.array(["trial", "split"])))
    if scopes.num_rows == 0:
        return []
    wall_us = pc.cast(scopes["at"], pa.int64())
    scopes = scopes.append_column("order_clock", pc.coalesce(scopes["clock"], wall_us))
    order = [("order_clock", "ascending"), ("writer", "ascending"), ("seq", "ascending")]
    scopes = scopes.sort_by(order)
    scopes = scopes.append_column("position", pa.array(range(scopes.num_rows), pa.int64()))
    last = scopes.group_by(list(_SCOPE_KEYS)).aggregate([("position", "max")])
    latest = scopes.take(last["position_max"])
    mask = pc.and_(pc.equal(latest["writer"], writer), pc.is_in(latest["status"], pa.array(_OPEN)))
    return latest.filter(mask).drop_columns(["position"]).to_pylist()


def abort_fields(scope: dict[str, Any], dead: WriterInfo, by: WriterInfo) -> dict[str, Any]:
    """The ``events`` fields of the ABORTED event that ends an orphaned scope."""
    return {
        "level": scope["level"],
        "trial": scope["trial"],
        "split": scope["split"],
        "attempt": scope["attempt"],
        "status": TrialStatus.ABORTED.value,
        "hyperparams": scope["hyperparams"],
        "error": (
            f"{ERROR_TYPE}: the process writing this {scope['level']}, {dead.describe()}, "
            f"died while it ran (found by {by.describe()})"
        ),
    }


def summary_fields(
    scope: dict[str, Any], events: pa.Table, metrics: pa.Table
) -> list[dict[str, Any]]:
    """The summary events an orphaned split's exit would have written, one per metric.

    Args:
        scope: An orphaned split (a row of ``orphaned_scopes``).
        events: The events of its partition.
        metrics: The metric values of its partition.
    """
    record = scope["attempt"] or 0
    declared = _declared_metrics(events, scope, record)
    rows = metrics.filter(
        pc.and_(
            pc.and_(
                pc.equal(metrics["trial"], scope["trial"]),
                pc.equal(metrics["split"], scope["split"]),
            ),
            pc.equal(pc.coalesce(metrics["attempt"], 0), record),
        )
    ).sort_by([("metric", "ascending"), ("phase", "ascending"), ("epoch", "ascending")])
    values: dict[tuple[str, str], list[float]] = {}
    for metric, phase, value in zip(
        rows["metric"].to_pylist(),
        rows["phase"].to_pylist(),
        rows["value"].to_pylist(),
        strict=True,
    ):
        values.setdefault((metric, phase), []).append(value)
    out = []
    for metric, higher in sorted(declared.items()):
        fields = {
            "level": "metric",
            "trial": scope["trial"],
            "split": scope["split"],
            "attempt": scope["attempt"],
            "metric": metric,
            "higher_is_better": higher,
        }
        for phase in ("train", "valid"):
            fields.update(summarize(phase, values.get((metric, phase), []), higher))
        out.append(fields)
    return out


def _declared_metrics(events: pa.Table, scope: dict[str, Any], record: int) -> dict[str, bool]:
    """Each metric the split's record declared, with its direction; none already summarized."""
    mask = pc.and_(
        pc.and_(pc.equal(events["level"], "metric"), pc.equal(events["trial"], scope["trial"])),
        pc.and_(
            pc.equal(events["split"], scope["split"]),
            pc.equal(pc.coalesce(events["attempt"], 0), record),
        ),
    )
    rows = events.filter(mask).to_pylist()
    summarized = {r["metric"] for r in rows if r["valid_count"] is not None}
    return {
        r["metric"]: bool(r["higher_is_better"])
        for r in sorted(rows, key=lambda r: (r["clock"] or 0, r["writer"], r["seq"]))
        if r["metric"] not in summarized and r["higher_is_better"] is not None
    }
