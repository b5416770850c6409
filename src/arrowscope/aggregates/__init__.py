"""The scopes of a search: Root › Project › Client › Round › Trial › TrialSplit › MetricResults."""

from __future__ import annotations

from arrowscope.aggregates.context import AutoMLContext
from arrowscope.aggregates.metric import MetricResults
from arrowscope.aggregates.round import Round
from arrowscope.aggregates.split import TrialSplit
from arrowscope.aggregates.tree import Client, Project, Root
from arrowscope.aggregates.trial import Trial

__all__ = [
    "AutoMLContext",
    "Client",
    "MetricResults",
    "Project",
    "Root",
    "Round",
    "Trial",
    "TrialSplit",
]
