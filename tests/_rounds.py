"""Tiny rounds built through the public scope API, for the view, query and CLI tests.

``RoundWriter`` opens a project, a client and a round of a real ``Root``
(in memory or a Parquet directory) and keeps the round open; ``trial`` runs
one trial with the given splits, values and ending. Every event and value is
written by the scopes themselves, so these tests check the views against what
arrowscope really writes. ``ROOTS`` opens each real backend.

Example:
    >>> root = asc.Root.in_memory()
    >>> rnd = RoundWriter(root, main_metric="mse")
    >>> _ = rnd.trial({"lr": 0.5}, [split([0.5, 0.25])])
    >>> _ = rnd.trial({"lr": 0.1}, [split([1.0], error=ValueError("x"))])  # a FAILED trial
    >>> rnd.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import arrowscope as asc
from arrowscope.store import ParquetRepository, Repository
from arrowscope.summaries import summarize

NAMES = ("p", "c")


@dataclass
class Split:
    """What one split logs: values per metric and phase, its direction per metric, its end."""

    valid: dict[str, list[float]] = field(default_factory=dict)
    train: dict[str, list[float]] = field(default_factory=dict)
    hib: dict[str, bool] = field(default_factory=dict)
    error: BaseException | None = None


def split(
    valid: Sequence[float] = (),
    *,
    metric: str = "mse",
    hib: bool = False,
    train: Sequence[float] | None = None,
    error: BaseException | None = None,
    more: Mapping[str, tuple[Sequence[float], bool]] | None = None,
) -> Split:
    """One split logging ``valid`` (and ``train``, by default the same) for ``metric``.

    ``more`` adds metrics: ``{"acc": ([0.5, 0.75], True)}`` logs acc (HIB) too.
    ``error`` is raised at the split's exit: FAILED (ABORTED for a
    KeyboardInterrupt); the trial goes on (``continue_loop_on_error``).
    """
    out = Split(error=error)
    metrics = {metric: (valid, hib), **(more or {})}
    for name, (values, direction) in metrics.items():
        out.valid[name] = list(values)
        out.train[name] = list(values if train is None or name != metric else train)
        out.hib[name] = direction
    return out


def _exit(manager: AbstractContextManager[Any], error: BaseException | None) -> None:
    """Leave a scope as a ``with`` block would, with ``error`` raised inside it."""
    if error is None:
        manager.__exit__(None, None, None)
    else:
        manager.__exit__(type(error), error, error.__traceback__)


class RoundWriter:
    """One open round of ``root``; trials are run through the scope API, in order."""

    def __init__(
        self, root: asc.Root, names: tuple[str, str] = NAMES, main_metric: str | None = "mse"
    ) -> None:
        self.root = root
        self._stack = ExitStack()
        project = self._stack.enter_context(root.get_project(names[0]))
        client = self._stack.enter_context(project.get_client(names[1]))
        self.round: asc.Round = self._stack.enter_context(client.new_round(main_metric))
        self._open: tuple[AbstractContextManager[asc.Trial], asc.Trial] | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return self.round.location.round_key()

    def event(self, level: str, **fields: Any) -> None:
        """Append an event no scope would write, through the real repository."""
        self.root.repository.append_event(self.key, level=level, **fields)

    def set_main_metric(self, name: str) -> None:
        self.round.with_metric(name)

    def trial(
        self,
        hyperparams: Mapping[str, Any] | None = None,
        splits: Sequence[Split] = (),
        *,
        error: BaseException | None = None,
        running: bool = False,
        retrain: Sequence[Split] = (),
    ) -> asc.Trial:
        """Run a new trial: its ``splits``, then its ``retrain`` splits, then its end.

        ``error`` is raised at the trial's exit (FAILED, or ABORTED for a
        KeyboardInterrupt); ``running=True`` leaves it open (``finish`` ends it).
        A trial whose splits all failed ends FAILED on its own.
        """
        self.round.with_optimizer(
            asc.HyperparameterSamplerStub(dict(hyperparams or {})), asc.HyperparameterSpace({})
        )
        return self._run(self.round.new_rvs_trial(), splits, error, running, retrain)

    def reenter(
        self,
        splits: Sequence[Split] = (),
        *,
        error: BaseException | None = None,
        running: bool = False,
    ) -> asc.Trial:
        """Re-open the last trial (``Round.last_trial``) and run more splits in it."""
        return self._run(self.round.last_trial(), splits, error, running, ())

    def finish(self, error: BaseException | None = None) -> None:
        """End the trial left running."""
        assert self._open is not None, "no trial is running"
        manager, _ = self._open
        self._open = None
        _exit(manager, error)

    def _run(
        self,
        manager: AbstractContextManager[asc.Trial],
        splits: Sequence[Split],
        error: BaseException | None,
        running: bool,
        retrain: Sequence[Split],
    ) -> asc.Trial:
        trial = manager.__enter__()
        trial.continue_loop_on_error()
        for spec in splits:
            self._split(trial.new_validation_split(), spec)
        for spec in retrain:
            self._split(trial.retrain_split(), spec)
        if running:
            self._open = (manager, trial)
        else:
            _exit(manager, error)
        return trial

    @staticmethod
    def _split(manager: AbstractContextManager[asc.TrialSplit], spec: Split) -> None:
        split = manager.__enter__()
        split.start()
        for name in sorted(set(spec.valid) | set(spec.train)):
            with split.managed_metric(name, spec.hib.get(name, True)) as metric:
                metric.add_train_results(spec.train.get(name, []))
                metric.add_valid_results(spec.valid.get(name, []))
        _exit(manager, spec.error)

    def close(self) -> None:
        """Exit the round, its client and its project."""
        if self._open is not None:
            self.finish()
        self._stack.close()


def publish(repo: Repository) -> None:
    """Make everything written so far durable and, where the backend has files, a Parquet part."""
    repo.flush()
    repo.checkpoint()


#: Roots by backend, for ``pytest.fixture(params=...)``. The directory names
#: hold a quote, blanks and glob characters on purpose.
ROOTS: dict[str, Callable[[Path], asc.Root]] = {
    "memory": lambda tmp: asc.Root.in_memory(),
    "parquet": lambda tmp: asc.Root.at(tmp / "it's [runs]*?", flush_interval=3600),
}


def split_resumed_by_two_writers(runs: Path, curve: Sequence[float]) -> None:
    """Round p/c/0 whose trial 0, split 0 of ``loss`` was written by two repositories in turn.

    The first logs ``curve[:3]`` with its summary, the second the rest with
    its own, then ends the split and the trial SUCCESS (hyperparameters
    ``{"x": 1}``), as two processes resuming one split would.
    """
    key = ("p", "c", 0)
    for first in (0, 3):
        repo = ParquetRepository(runs)
        repo.create("p")
        repo.create("p", "c")
        if first == 0:
            assert repo.allocate("p", "c") == 0
            repo.append_event(key, level="round", main_metric_name="loss")
            repo.append_event(key, level="trial", trial=0, status="RUNNING", hyperparams='{"x":1}')
            repo.append_event(key, level="split", trial=0, split=0, attempt=0, status="RUNNING")
        chunk = list(curve[first : first + 3] if first == 0 else curve[first:])
        buffer = repo.metric_buffer(key, 0, 0, "loss", offsets=(first, first))
        for value in chunk:
            buffer.valid.append(value)
            buffer.valid_at.append(time.time_ns())
        repo.append_event(
            key, level="metric", trial=0, split=0, attempt=0, metric="loss",
            higher_is_better=False, **summarize("valid", chunk, False, first),
        )  # fmt: skip
        if first == 3:
            repo.append_event(key, level="split", trial=0, split=0, attempt=0, status="SUCCESS")
            repo.append_event(key, level="trial", trial=0, status="SUCCESS")
        repo.release_buffer(key, buffer)
        repo.close()
