"""Read-only reports of every level, answered by DuckDB over the repository."""

from __future__ import annotations

from arrowscope.reports._base import BaseReport, Reader
from arrowscope.reports.metric import MetricResultsReport
from arrowscope.reports.round import RoundReport
from arrowscope.reports.split import TrialSplitReport
from arrowscope.reports.tree import ClientReport, ProjectReport, RootReport
from arrowscope.reports.trial import TrialReport

__all__ = [
    "BaseReport",
    "ClientReport",
    "MetricResultsReport",
    "ProjectReport",
    "Reader",
    "RootReport",
    "RoundReport",
    "TrialReport",
    "TrialSplitReport",
]
