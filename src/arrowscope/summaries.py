"""What a split's writer knows about each curve when the split exits, and the best-value rule.

When a split exits, each of its metrics gets a summary event: per phase,
the count, sum, best finite value and its epoch, and the last value and its
epoch, of the values this process logged. Views combine summaries (a split
resumed by several processes has one per process) instead of scanning
values, so trial-level questions cost what the number of splits costs.

``best_of`` is the split score rule in Python (the views' ``_split_metric``
applies the same rule in SQL): the best finite value in the metric's
direction, and the 1-based epoch of its first occurrence.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Final

#: The summary columns of a metric event (schemas/v2/events.json), per phase.
SUMMARY_FIELDS: Final = ("count", "sum", "best", "best_epoch", "last", "last_epoch")


def best_of(values: Sequence[float], higher_is_better: bool) -> tuple[float, int] | None:
    """The best finite value and its 1-based epoch of first occurrence, or None."""
    return _best(values, higher_is_better, sum(values)) if values else None


def _best(
    values: Sequence[float], higher_is_better: bool, total: float
) -> tuple[float, int] | None:
    """``best_of`` given ``sum(values)`` (values not empty)."""
    if math.isfinite(total):  # no NaN nor inf: the builtins are exact
        found = max(values) if higher_is_better else min(values)
        return found, values.index(found) + 1
    best: tuple[float, int] | None = None
    for epoch, value in enumerate(values, start=1):
        if not math.isfinite(value):
            continue
        if best is None or (value > best[0] if higher_is_better else value < best[0]):
            best = (value, epoch)
    return best


def summarize(
    phase: str, values: Sequence[float], higher_is_better: bool, offset: int = 0
) -> dict[str, Any]:
    """The ``<phase>_*`` summary columns of ``values``, logged after ``offset`` earlier ones.

    Epochs are absolute (``offset`` + position), so summaries of one curve
    written by several processes combine: counts and sums add up, the best
    is the best of the bests (ties: the earliest epoch), the last value is
    the one with the greatest epoch.
    """
    count, total, best, best_epoch, last, last_epoch = _columns(phase)
    if not values:
        return {count: 0, total: None, best: None, best_epoch: None, last: None, last_epoch: None}
    summed = sum(values)
    found = _best(values, higher_is_better, summed)
    return {
        count: len(values),
        total: summed,
        best: None if found is None else found[0],
        best_epoch: None if found is None else offset + found[1],
        last: values[-1],
        last_epoch: offset + len(values),
    }


@functools.cache
def _columns(phase: str) -> tuple[str, ...]:
    return tuple(f"{phase}_{name}" for name in SUMMARY_FIELDS)
