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
    """The aggregate at ``context.location``, as stored; nothing is written.

    Every level gives its aggregate (``Project``, ``Client``, ``Round``,
    ``Trial``, ``TrialSplit``, ``MetricResults``). A location that does not
    exist gives a fresh, unsaved record with default fields: a round with 0
    trials and no main metric, a PLANNED trial without hyperparameters or
    splits, and so on. A project without clients is returned as it is rather
    than refused (the seed raises ValueError): projects are created empty.

    Trials, splits and metrics loaded this way are read-only. A trial's
    status is decided by its round when its block exits, and a split is
    written by the process that runs it, so adding splits, epochs or values
    outside those blocks would leave statuses that nothing updates: such
    calls raise ``ScopeClosedError`` (``round.last_trial()`` re-opens the
    last trial to add splits). Their ``refresh()`` re-reads what other
    processes wrote since.

    Raises:
        ValueError: ``context`` has no repository.
    """
    if context.repository is None:
        raise ValueError("from_context needs a context with a repository")
    node: Any = Root(context)
    for key in context.location.as_tuple():
        node = node._load_child(key)
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
