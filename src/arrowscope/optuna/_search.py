"""``OptunaSearch``: an Optuna sampler proposing a round's trials from its stored history."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arrowscope.hyperparams import HyperparameterSamples, HyperparameterSpace, RoundHistory
from arrowscope.location import TrialStatus
from arrowscope.optuna._distributions import (
    fixed_values,
    param_value,
    params_of,
    space_to_optuna,
)
from arrowscope.optuna._history import StoredTrials, TrialRecord

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler

    from arrowscope.store import Repository

logger = logging.getLogger(__name__)


class OptunaSearch:
    """Proposes each trial with an Optuna sampler that knows every stored trial of the round.

    Each proposal first reads what changed in the round's store since the previous one
    (:class:`~arrowscope.optuna.StoredTrials`), updates an in-memory Optuna study to
    match, then asks the sampler (``study.ask`` with the space's fixed distributions;
    see :mod:`arrowscope.optuna` for the conversions). So the history is the round as
    stored, not this process's memory: a process that resumes the round, or a worker on
    another machine sharing the directory, proposes knowing every trial that finished.

    How stored trials reach the study:

    * SUCCESS with a finite score for every objective metric: COMPLETE with those scores.
    * SUCCESS without one (the objective logged only NaN or nothing): FAIL.
    * FAILED whose error starts with ``Pruned`` (:class:`~arrowscope.optuna.Pruned`):
      PRUNED, with its mean validation curve as intermediate values (single objective;
      FAIL with several).
    * other FAILED, and ABORTED: FAIL.
    * PLANNED and RUNNING: RUNNING, so a ``TPESampler(constant_liar=True)`` avoids
      proposing what other workers are already trying. Another process's running trial
      is visible once its writer flushed (at most ``flush_interval`` seconds).

    Objectives are the round's main metric (``metrics=None``) or the given metrics (for a
    multi-objective sampler such as ``NSGAIISampler``); the study's directions are the
    metrics' directions as logged. Until a trial has logged them the study minimizes, and
    it is rebuilt from the stored trials once they are known or the space changes
    (``with_optimizer`` with another space). Stored values outside the current space are
    left out of their trial, with a warning.

    Samplers keeping state in their own trials' attributes (CMA-ES's generations) see
    trials of other processes as plain observations: each process runs its own CMA-ES.

    Args:
        sampler: An Optuna sampler; ``TPESampler(constant_liar=True)`` when None.
        metrics: The objective metrics; None for the round's main metric.

    Raises:
        ValueError: ``metrics`` is empty or not a list of names.

    Example:
        >>> import optuna, arrowscope as asc
        >>> from arrowscope.optuna import OptunaSearch
        >>> space = asc.HyperparameterSpace({"x": asc.Uniform(-1.0, 1.0)})
        >>> search = OptunaSearch(optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
        >>> root = asc.Root.in_memory()
        >>> with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        ...     rnd = rnd.with_optimizer(search, space)
        ...     for _ in range(6):
        ...         with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
        ...             with split.managed_metric("loss", higher_score_is_better=False) as m:
        ...                 m.add_valid_result(trial.get_hyperparams()["x"] ** 2)
        >>> [t.state.name for t in search.study.trials]  # the last one is told next time
        ['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE', 'RUNNING']
    """

    def __init__(
        self, sampler: BaseSampler | None = None, *, metrics: Sequence[str] | None = None
    ) -> None:
        if metrics is not None and (
            isinstance(metrics, str) or not metrics or not all(isinstance(m, str) for m in metrics)
        ):
            raise ValueError(f"OptunaSearch(metrics={metrics!r}): expected a list of metric names")
        self.sampler = sampler if sampler is not None else _default_sampler()
        self.metrics = None if metrics is None else tuple(metrics)
        self._history: StoredTrials | None = None
        self._history_key: tuple[int, tuple[Any, ...]] | None = None
        self._study: optuna.Study | None = None
        self._study_for: tuple[Any, ...] | None = None
        self._space: HyperparameterSpace | None = None
        self._distributions: dict[str, BaseDistribution] = {}
        self._bound: dict[int, int] = {}  # arrowscope trial -> study trial number
        self._told: set[int] = set()  # arrowscope trials final in the study
        self._asked: list[tuple[optuna.Trial, dict[str, Any]]] = []  # asked, its params
        self._asked_trials: dict[int, optuna.Trial] = {}  # arrowscope trial -> its ask

    def __repr__(self) -> str:
        return f"OptunaSearch({type(self.sampler).__name__}, metrics={self.metrics!r})"

    @property
    def study(self) -> optuna.Study:
        """The in-memory study mirroring the round (after the first proposal).

        Raises:
            ValueError: Nothing was proposed yet.
        """
        if self._study is None:
            raise ValueError("OptunaSearch.study: nothing was proposed yet")
        return self._study

    @property
    def history(self) -> StoredTrials:
        """The round's stored trials as last read (after the first proposal)."""
        if self._history is None:
            raise ValueError("OptunaSearch.history: nothing was proposed yet")
        return self._history

    def find_next_best_hyperparams(
        self, round_report: RoundHistory, hp_space: HyperparameterSpace
    ) -> HyperparameterSamples:
        """Read the round's changes, update the study, and ask the sampler.

        Raises:
            UnsupportedDistributionError: ``hp_space`` holds a distribution Optuna cannot
                express.
            ValueError: The round has no main metric and no ``metrics`` were given.
            TypeError: ``round_report`` is not a round read from a repository.
        """
        history = self._history_of(round_report)
        changed = history.update()
        objectives = self._objectives(history)
        # Until a metric's direction is logged the study minimizes it.
        directions = tuple(bool(history.direction(m)) for m in objectives)
        want = (objectives, directions, hp_space)
        if self._study is None or want != self._study_for:
            self._rebuild(hp_space, objectives, directions)
            changed = set(history.trials)
        self._sync(sorted(changed), objectives)
        return self._ask(hp_space)

    # -- the study ------------------------------------------------------------
    def _history_of(self, round_report: RoundHistory) -> StoredTrials:
        repository: Repository | None = getattr(round_report, "repository", None)
        location = getattr(round_report, "location", None)
        if repository is None or location is None or location.round is None:
            raise TypeError(
                f"OptunaSearch reads the round's stored trials, but {round_report!r} is not a "
                "round of a repository: use it through round.with_optimizer(...)"
            )
        key = (id(repository), location.as_tuple())
        if self._history is None or key != self._history_key:
            self._history = StoredTrials(
                repository, location.project, location.client, location.round
            )
            self._history_key = key
            self._study = None
        return self._history

    def _objectives(self, history: StoredTrials) -> tuple[str, ...]:
        if self.metrics is not None:
            return self.metrics
        if history.main_metric_name is None:
            raise ValueError(
                f"round {history.key}: OptunaSearch needs the metric to optimize: give the "
                "round a main metric (client.new_round(main_metric_name=...)) or pass "
                "OptunaSearch(metrics=[...])"
            )
        return (history.main_metric_name,)

    def _rebuild(
        self,
        space: HyperparameterSpace,
        objectives: tuple[str, ...],
        directions: tuple[bool, ...],
    ) -> None:
        import optuna

        self._distributions = space_to_optuna(space)
        self._study = optuna.create_study(
            sampler=self.sampler,
            directions=["maximize" if d else "minimize" for d in directions],
        )
        self._study_for = (objectives, directions, space)
        self._bound, self._told, self._asked, self._asked_trials = {}, set(), [], {}
        assert self._history is not None
        left_out = {k for r in self._history.trials.values() for k in self._params(r)[1]}
        if left_out:
            logger.warning(
                "round %s: stored trials have no value in the current space for %s; the "
                "sampler sees those trials without them",
                self._history.key,
                sorted(left_out),
            )

    def _params(self, record: TrialRecord) -> tuple[dict[str, Any], list[str]]:
        return params_of(record.hyperparams, self._distributions)

    def _sync(self, numbers: list[int], objectives: tuple[str, ...]) -> None:
        from optuna.trial import TrialState, create_trial

        study, history = self.study, self.history
        for number in numbers:
            record = history.trials[number]
            if number in self._told:
                continue
            if number not in self._bound and not self._match_ask(number, record):
                params, _ = self._params(record)
                dists = {k: self._distributions[k] for k in params}
                if record.finished:
                    state, values, steps = self._outcome(record, objectives)
                    template = create_trial(
                        state=state,
                        values=values,
                        params=params,
                        distributions=dists,
                        intermediate_values=steps,
                    )
                    study.add_trial(template)
                    self._told.add(number)
                    continue
                study.add_trial(
                    create_trial(state=TrialState.RUNNING, params=params, distributions=dists)
                )
                self._bound[number] = study.trials[-1].number
            if record.finished:
                state, values, steps = self._outcome(record, objectives)
                asked = self._asked_trials.pop(number, None)
                for step, value in (steps or {}).items():
                    if asked is not None:
                        asked.report(value, step)
                study.tell(self._bound[number], values, state=state)
                self._told.add(number)
        # An ask no stored trial took (the proposal was not used) stays out of the way.
        for asked, _params in self._asked:
            study.tell(asked, state=TrialState.FAIL)
        self._asked = []

    def _match_ask(self, number: int, record: TrialRecord) -> bool:
        for index, (asked, params) in enumerate(self._asked):
            stored = record.hyperparams
            same = all(
                key in stored and param_value(self._distributions[key], stored[key]) == value
                for key, value in params.items()
            )
            if same:
                self._bound[number] = asked.number
                self._asked_trials[number] = asked
                del self._asked[index]
                return True
        return False

    def _outcome(
        self, record: TrialRecord, objectives: tuple[str, ...]
    ) -> tuple[Any, list[float] | None, dict[int, float] | None]:
        from optuna.trial import TrialState

        if record.status is TrialStatus.SUCCESS:
            scores = [record.scores.get(m) for m in objectives]
            if all(s is not None and math.isfinite(s) for s in scores):
                return TrialState.COMPLETE, [float(s) for s in scores if s is not None], None
            return TrialState.FAIL, None, None
        if record.pruned and len(objectives) == 1:
            curve = record.curves.get(objectives[0], [])
            steps = {e: v for e, v in enumerate(curve, start=1) if math.isfinite(v)}
            return TrialState.PRUNED, None, steps
        return TrialState.FAIL, None, None

    def _ask(self, space: HyperparameterSpace) -> HyperparameterSamples:
        trial = self.study.ask(self._distributions)
        params = dict(trial.params)
        self._asked.append((trial, params))
        return HyperparameterSamples({**fixed_values(space), **params})


def _default_sampler() -> BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(constant_liar=True)
