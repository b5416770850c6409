"""Building an aggregate from a context: ``from_context`` and ``dummy`` (SPEC §2.1)."""

from __future__ import annotations

from typing import Any

from arrowscope.aggregates.context import AutoMLContext
from arrowscope.aggregates.metric import MetricResults
from arrowscope.aggregates.round import Round
from arrowscope.aggregates.split import TrialSplit
from arrowscope.aggregates.tree import Client, Project, Root
from arrowscope.aggregates.trial import Trial
from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.location import DEFAULT_CLIENT, DEFAULT_METRIC, DEFAULT_PROJECT
from arrowscope.store import InMemoryRepository


def from_context(context: AutoMLContext) -> Any:
    """The scope at ``context.location``; nothing is written.

    Levels down to the trial give aggregates; a split or metric location gives
    its read-only report, since only the process that runs a split writes it.
    """
    if context.repository is None:
        raise ValueError("from_context needs a context with a repository")
    root = Root(context)
    node: Any = root
    for key in context.location.as_tuple():
        node = node[key]
    return node


def dummy(cls: type, context: AutoMLContext | None = None) -> Any:
    """The default chain down to ``cls``'s level, stored in ``context``'s repository.

    root › default_project › default_client › round 0 › trial 0 › split 0 ›
    metric "main"; the trial and split are left PLANNED.
    """
    if context is None or context.repository is None:
        context = AutoMLContext.from_context(context, InMemoryRepository())
    levels: list[type] = [Root, Project, Client, Round, Trial, TrialSplit, MetricResults]
    steps = [
        lambda root: root._open(DEFAULT_PROJECT),
        lambda project: project._open(DEFAULT_CLIENT),
        lambda client: client._new(None),
        _planned_trial,
        lambda trial: trial._open_split(False, False),
        lambda split: split._metric(DEFAULT_METRIC, True),
    ]
    node: Any = Root(context)
    for step in steps[: levels.index(cls)]:
        node = step(node)
    node.repo.flush()
    return node


def _planned_trial(rnd: Round) -> Trial:
    loc = rnd.location
    assert loc.project is not None and loc.client is not None
    number = rnd.repo.allocate(loc.project, loc.client, loc.round)
    trial = Trial(rnd.context.push(number), rnd, HyperparameterSamples({}))
    trial._plan()
    return trial
