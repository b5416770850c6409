"""One trial of a round, run by whatever process picks it up: :func:`run_trial`.

A worker -- a process of a ``ProcessPoolExecutor``, a Dask or Ray worker, a job
of a batch system -- gets the round's *location* (a directory path or URI) and
names, never an open repository: it opens the repository itself, re-opens the
round by number, lets the optimizer propose from the round's stored history,
and runs one trial through ``round.new_rvs_trial()``. Trial numbers are claimed
by the repository, so workers sharing a round never get the same one.

The repository and the round opened for a location stay open in the calling
thread for the next call (opening a round costs a query; a trial of a small
model costs less). The values of a trial are durable when the call returns
(its log was written when its block exited); the process's background writer
turns them into Parquet parts within ``flush_interval`` seconds, and closing
at process exit does the rest. A worker killed before that loses nothing: the
next process that opens the repository recovers its log.
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from arrowscope.aggregates import Root, Round
from arrowscope.automl._options import as_space, is_pipeline
from arrowscope.automl.callbacks import Callback
from arrowscope.automl.splitters import Splitter
from arrowscope.automl.trainer import ObjectiveTrainer, Trainer, TrialTrainer
from arrowscope.errors import RoundNotFoundError
from arrowscope.hyperparams import HyperparameterOptimizer, HyperparameterSpace
from arrowscope.location import TrialStatus
from arrowscope.optimizer import RandomSearch

__all__ = ["TrialOutcome", "TrialTask", "run_trial"]


@dataclass(frozen=True)
class TrialOutcome:
    """What one trial ended as, sent back from the worker (small and picklable).

    Attributes:
        round_number: The round the trial was written to.
        trial_number: The trial's number in that round.
        status: SUCCESS, FAILED or ABORTED.
        score: The trial's score for the round's main metric (mean over its
            successful splits), or None.
        higher_is_better: The main metric's direction as logged (True if none was).
    """

    round_number: int
    trial_number: int
    status: TrialStatus
    score: float | None
    higher_is_better: bool


@dataclass(frozen=True)
class TrialTask:
    """Everything one trial needs, as plain picklable data; calling it runs the trial.

    ``AutoML`` submits one per trial to its executor; :func:`run_trial` builds one.
    The target, the data, the space, the optimizer and the trainer are pickled with
    it: the target and the metric functions must be importable (defined at module
    level) for a ``ProcessPoolExecutor``; Dask and Ray also ship closures.

    Attributes:
        location: The repository's directory path or URI (what ``Root.at`` opens).
        project: The round's project.
        client: The round's client.
        round_number: The round; None means the client's last round at call time.
        target: The objective or the pipeline.
        data: What the trainer's splitter cuts into folds.
        space: The hyperparameter space.
        optimizer: Proposes the trial's hyperparameters from the stored history.
        trainer: Trains the folds (a :class:`Trainer` or :class:`ObjectiveTrainer`).
        continue_on_error: Record a failing split and go on (``new_rvs_trial``'s flag).
    """

    location: str
    project: str
    client: str
    round_number: int | None
    target: Any
    data: Any
    space: HyperparameterSpace
    optimizer: HyperparameterOptimizer
    trainer: TrialTrainer
    continue_on_error: bool = True

    def __call__(self) -> TrialOutcome:
        rnd = _open_round(self.location, self.project, self.client, self.round_number)
        rnd.with_optimizer(self.optimizer, self.space)
        with rnd.new_rvs_trial(self.continue_on_error) as trial:
            self.trainer.train(self.target, self.data, trial)
        return TrialOutcome(
            round_number=rnd.round_number,
            trial_number=trial.trial_number,
            status=trial.get_status(),
            score=trial.running_score(),
            higher_is_better=trial.running_direction(),
        )


def run_trial(
    location: str | os.PathLike[str],
    project: str,
    client: str,
    round_number: int | None,
    target: Any,
    data: Any,
    *,
    space: HyperparameterSpace | Mapping[str, Any] | None = None,
    optimizer: HyperparameterOptimizer | None = None,
    epochs: int = 1,
    splitter: Splitter | None = None,
    callbacks: Iterable[Callback] = (),
    continue_on_error: bool = True,
) -> TrialOutcome:
    """Run one trial of an existing round, from any process that can reach its location.

    The recipe for hand-written loops over any engine: create the round once
    (``client.new_round(main_metric)``), then call this function as many times as
    you want trials, from as many workers as you like. Each call re-opens the
    round by number, asks ``optimizer`` for hyperparameters (it sees every trial
    stored so far, running ones included), claims the next trial number and
    trains every fold of ``data`` in its own validation split.

    Args:
        location: The repository's directory path or URI.
        project: The round's project.
        client: The round's client.
        round_number: The round; None takes the client's last round at call time.
        target: An ``objective(split, hyperparams, train, valid)`` or a pipeline
            (see :class:`~arrowscope.automl.AutoML`).
        data: What the splitter cuts (``(x, y)`` for a pipeline).
        space: The hyperparameter space; a pipeline's own space by default.
        optimizer: Proposes the hyperparameters. Default: ``RandomSearch()`` seeded
            by the operating system, so calls in different workers draw different
            points. A seeded optimizer proposes the same point in every call that
            gets the same pickled state: give each call its own seed, or hand each
            ``RandomSearch(seed).spawn()``.
        epochs: Epochs per split (``split.n_epochs``).
        splitter: Cuts ``data`` into folds; ``ValidationSplitter(0.2)`` by default.
        callbacks: Epoch callbacks of the pipeline form.
        continue_on_error: Record a failing split FAILED and go on.

    Returns:
        The trial's number, status and score.

    Raises:
        RoundNotFoundError: The round does not exist (create it first).
        TypeError: ``target`` is neither a pipeline nor a callable.
        ValueError: An option is invalid for the form of ``target``.
        Exception: An error raised outside the trial's splits, or inside them when
            ``continue_on_error`` is False; the trial is recorded FAILED first.

    Example:
        >>> import tempfile
        >>> import arrowscope as asc
        >>> from arrowscope.automl import run_trial
        >>> from arrowscope.automl.splitters import KFoldCrossValidationSplitter
        >>> def objective(split, hps, train, valid):
        ...     with split.managed_metric("mse", higher_score_is_better=False) as m:
        ...         m.add_valid_result((hps["x"] - 0.3) ** 2)
        >>> runs = tempfile.mkdtemp()
        >>> with asc.Root.at(runs).get_project("p") as p, p.get_client("c") as c:
        ...     with c.new_round("mse") as rnd:
        ...         number = rnd.round_number
        >>> outcomes = [run_trial(runs, "p", "c", number, objective, [0, 1], space={
        ...     "x": asc.Uniform(0, 1)}, splitter=KFoldCrossValidationSplitter(2))
        ...     for _ in range(3)]
        >>> [o.trial_number for o in outcomes], outcomes[0].status.value
        ([0, 1, 2], 'SUCCESS')
    """
    task = TrialTask(
        location=os.fspath(location),
        project=project,
        client=client,
        round_number=round_number,
        target=target,
        data=data,
        space=_space_of(target, space),
        optimizer=RandomSearch() if optimizer is None else optimizer,
        trainer=make_trainer(target, epochs, splitter, callbacks),
        continue_on_error=continue_on_error,
    )
    return task()


def make_trainer(
    target: Any, epochs: int, splitter: Splitter | None, callbacks: Iterable[Callback]
) -> TrialTrainer:
    """The trainer for ``target``'s form: a pipeline's or an objective's."""
    callbacks = list(callbacks)
    if is_pipeline(target):
        return Trainer(callbacks, epochs, splitter)
    if not callable(target):
        raise TypeError(
            f"a trial needs an objective(split, hyperparams, train, valid) or a pipeline "
            f"with set_hyperparams, get_hyperparams_space, fit and predict; got {target!r}"
        )
    if callbacks:
        raise ValueError(f"callbacks={callbacks!r}: epoch callbacks only run in the pipeline form")
    return ObjectiveTrainer(epochs, splitter)


def _space_of(target: Any, space: HyperparameterSpace | Mapping[str, Any] | None) -> Any:
    if space is None and is_pipeline(target):
        return as_space(target.get_hyperparams_space())
    if space is None:
        raise ValueError("an objective needs a space: run_trial(..., space={...})")
    return as_space(space)


# -- this thread's open repositories and rounds ----------------------------------
_local = threading.local()
# Roots to close at exit, per process id: a forked child inherits its parent's set and
# must leave those alone. Weak: a root whose thread ended is closed when collected.
_opened: dict[int, weakref.WeakSet[Root]] = {}
_opened_lock = threading.Lock()


def _open_round(location: str, project: str, client: str, number: int | None) -> Round:
    """This thread's handle on the round, opened on first use (a fork opens its own)."""
    cache: dict[tuple[Any, ...], Any] = _local.__dict__.setdefault("cache", {})
    pid = os.getpid()
    root: Root | None = cache.get((pid, location))
    if root is None:
        root = cache[(pid, location)] = Root.at(location)
        _close_at_exit(root)
    ids = root.repository.list_ids(project, client)
    if number is None and ids:
        number = ids[-1]
    key = (pid, location, project, client, number)
    rnd: Round | None = cache.get(key)
    if rnd is None:  # first use in this thread
        if number not in ids:
            raise RoundNotFoundError(
                f"round {number} of {project!r}/{client!r} does not exist in {location}: "
                "create it first with client.new_round(main_metric) (workers never create "
                "rounds: two of them would each create one)"
            )
        with root.get_project(project) as p, p.get_client(client) as c:
            opened: Round = c[ids.index(number)]
        rnd = cache[key] = opened
    return rnd


def _close_at_exit(root: Root) -> None:
    """Close ``root`` when the process ends: at interpreter exit, or at the end of a
    ``multiprocessing`` worker (fork and forkserver children skip ``atexit``)."""
    pid = os.getpid()
    with _opened_lock:
        first = pid not in _opened
        _opened.setdefault(pid, weakref.WeakSet()).add(root)
    if first:
        atexit.register(_close_all)
        multiprocessing.util.Finalize(None, _close_all, exitpriority=10)


def _close_all() -> None:
    with _opened_lock:
        roots = list(_opened.pop(os.getpid(), ()))
    for root in roots:
        root.close()
