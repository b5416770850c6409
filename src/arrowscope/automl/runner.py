"""``AutoML``: a hyperparameter search over a round, with no ML framework needed.

The loop (SPEC §4.1–4.2) opens ``project › client › round``, gives the round the
optimizer and the space, then runs ``n_trials`` times, as a plain loop::

    with round.new_rvs_trial(continue_loop_on_error) as trial:
        <train every fold of the data, one validation split each>

and finally, when ``refit_best_trial`` is set, retrains the best trial on all of the
data in its retrain split (-1) through ``round.refitting_best_trial()``. The round
calls the optimizer once per trial, with a report of every earlier trial.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from arrowscope.aggregates import Root, Round
from arrowscope.automl._options import (
    as_space,
    check_n_trials,
    check_objective,
    is_pipeline,
    pipeline_metric,
)
from arrowscope.automl.callbacks import Callback
from arrowscope.automl.parallel import check_n_jobs, run_tasks, spawned, worker_location
from arrowscope.automl.progress import ProgressLine
from arrowscope.automl.result import AutoMLResult
from arrowscope.automl.splitters import Splitter
from arrowscope.automl.trainer import ObjectiveTrainer, Trainer, TrialTrainer, unpack_xy
from arrowscope.automl.worker import TrialOutcome, TrialTask
from arrowscope.hyperparams import (
    HyperparameterOptimizer,
    HyperparameterSamples,
    HyperparameterSpace,
)
from arrowscope.location import DEFAULT_CLIENT, DEFAULT_PROJECT
from arrowscope.optimizer import GridSearch
from arrowscope.optuna import Pruned
from arrowscope.reports import RoundReport

__all__ = ["AutoML", "AutoMLResult"]

logger = logging.getLogger(__name__)


class AutoML:
    """Searches hyperparameters by training a model on every fold, trial after trial.

    Two forms, chosen from ``target``:

    * **objective**: a callable ``objective(split, hyperparams, train, valid)`` that
      trains one split and logs through ``split.managed_metric(...)``; it gets the
      :class:`~arrowscope.TrialSplit` (with ``split.n_epochs`` set to ``epochs``), the
      trial's hyperparameters and the fold's data (``valid`` is None on the retrain
      split). ``space`` and ``main_metric`` are required; ``callbacks`` must be empty
      (stop early from the objective with ``EarlyStoppingCallback.should_stop(split)``).
    * **pipeline**: an object with ``set_hyperparams``, ``get_hyperparams_space``,
      ``fit(x, y)`` and ``predict(x)`` (:class:`~arrowscope.automl.Pipeline`), trained on
      ``data=(x, y)`` by a :class:`~arrowscope.automl.Trainer`: each split deep-copies
      it, then fits once per epoch. ``callbacks`` must start with a
      :class:`~arrowscope.automl.MetricCallback`, whose name is the main metric unless
      ``main_metric`` names another metric callback. ``space`` defaults to the
      pipeline's space.

    Defaults, and why:

    * ``optimizer``: ``GridSearch(expected_n_trials=n_trials or 0)`` (SPEC §4.1): it is
      deterministic, so running the same search twice proposes the same trials. Its
      grid of a continuous range is a few points around the mean, which suits linear
      ranges; for log-scaled ranges pass ``RandomSearch(seed)``.
    * ``n_trials``: None means ``GridSearch.estimate_ideal_n_trials(space)``; 0 runs no
      trial (useful with ``start_new_round=False`` to only refit).
    * ``continue_loop_on_error=True``: a split that raises an ``Exception`` is recorded
      FAILED and the search goes on; its trial is FAILED only if all its splits failed.
      ``round.new_rvs_trial``'s own default is False; AutoML's is True (SPEC B37).
      An error outside the splits, ``SystemError``, ``EOFError``, ``KeyboardInterrupt``
      and ``SystemExit`` still stop the search.
    * ``refit_best_trial=True``: after the trials, the best one is retrained on all of
      the data in its retrain split (-1); skipped, with a warning, when no trial
      succeeded with a score. A failing refit raises and leaves the trial's status.
    * ``start_new_round=True``: every ``fit`` writes a new round; False resumes the
      client's last round (and sets its main metric).
    * ``root``: a :class:`~arrowscope.Root`, or a directory opened with ``Root.at``;
      None opens ``Root.vanilla()`` (``$ARROWSCOPE_DIR`` or ``./arrowscope-runs``) at
      the first ``fit``.
    * ``show_progress=True``: a progress line on stderr, only when it is a terminal.
    * ``executor=None, n_jobs=None``: one trial at a time, in this process. With
      ``n_jobs=k`` (k > 1, or -1 for one per core) the trials run in a pool of k
      fresh processes made for the ``fit``; with an ``executor`` (a
      ``ProcessPoolExecutor``, Dask's ``Client.get_executor()``, ...) they run
      there, at most ``n_jobs`` at once when given. Each worker opens the round's
      repository from its location and runs one trial per task
      (:func:`~arrowscope.automl.run_trial`), so the root must be on disk (or
      object storage), and the target, the data and the callbacks must pickle
      (functions defined at module level). The refit runs here, after the trials.

    Args:
        target: The objective or the pipeline.
        space: The hyperparameter space (a ``HyperparameterSpace`` or a mapping).
        root: Where the search is written.
        project_name: The project of the round.
        client_name: The client of the round.
        optimizer: Proposes each trial's hyperparameters.
        n_trials: Trials per ``fit``.
        epochs: Epochs per split, an int >= 1.
        splitter: Cuts the data into folds; ``ValidationSplitter(0.2)`` by default.
        main_metric: The metric that ranks trials.
        higher_score_is_better: The main metric's direction, for the progress line;
            None takes it from the logged metric. A pipeline's metric callback decides it.
        callbacks: Epoch callbacks of the pipeline form.
        continue_loop_on_error: Record failing trials and go on.
        refit_best_trial: Retrain the best trial on all of the data after the search.
        start_new_round: Write a new round (True) or resume the last one (False).
        show_progress: Draw the progress line when stderr is a terminal.
        executor: Runs the trials in parallel (see above).
        n_jobs: Trials at once: a process pool's size without ``executor``.

    Raises:
        TypeError: ``target`` is neither a pipeline nor a callable.
        ValueError: An option is invalid for the form (the message names it).

    Example (objective form):
        >>> import numpy as np
        >>> import arrowscope as asc
        >>> from arrowscope.automl import AutoML, KFoldCrossValidationSplitter
        >>> def objective(split, hps, train, valid):
        ...     for _ in range(split.n_epochs):
        ...         split.next_epoch()
        ...         with split.managed_metric("mse", higher_score_is_better=False) as m:
        ...             m.add_train_result(float(np.mean((train - hps["a"]) ** 2)))
        ...             if valid is not None:
        ...                 m.add_valid_result(float(np.mean((valid - hps["a"]) ** 2)))
        >>> automl = AutoML(objective, {"a": asc.Uniform(0.0, 2.0)}, root=asc.Root.in_memory(),
        ...                 main_metric="mse", n_trials=5, epochs=2, optimizer=asc.RandomSearch(0),
        ...                 splitter=KFoldCrossValidationSplitter(2))
        >>> result = automl.fit(np.ones(10))
        >>> result.best_trial_number is not None, len(result.report)
        (True, 5)

    Example (pipeline form):
        >>> from arrowscope.automl import MetricCallback
        >>> class Shifted:
        ...     shift, value = 0.0, 0.0
        ...     def get_hyperparams_space(self):
        ...         return asc.HyperparameterSpace({"shift": asc.Choice([-1.0, 0.0, 1.0])})
        ...     def set_hyperparams(self, hps):
        ...         self.shift = hps["shift"]
        ...         return self
        ...     def fit(self, x, y):
        ...         self.value = float(np.mean(y)) + self.shift
        ...         return self
        ...     def predict(self, x):
        ...         return np.full(len(x), self.value)
        >>> mse = MetricCallback("mse", lambda y, p: float(np.mean((y - p) ** 2)), False)
        >>> automl = AutoML(Shifted(), root=asc.Root.in_memory(), callbacks=[mse], n_trials=3)
        >>> result = automl.fit((np.arange(10.0), np.full(10, 2.0)))
        >>> result.best_hyperparams["shift"], automl.predict(np.zeros(2)).tolist()
        (0.0, [2.0, 2.0])
    """

    def __init__(
        self,
        target: Any,
        space: HyperparameterSpace | Mapping[str, Any] | None = None,
        *,
        root: Root | str | os.PathLike[str] | None = None,
        project_name: str = DEFAULT_PROJECT,
        client_name: str = DEFAULT_CLIENT,
        optimizer: HyperparameterOptimizer | None = None,
        n_trials: int | None = None,
        epochs: int = 1,
        splitter: Splitter | None = None,
        main_metric: str | None = None,
        higher_score_is_better: bool | None = None,
        callbacks: Iterable[Callback] = (),
        continue_loop_on_error: bool = True,
        refit_best_trial: bool = True,
        start_new_round: bool = True,
        show_progress: bool = True,
        executor: Executor | None = None,
        n_jobs: int | None = None,
    ) -> None:
        callbacks = list(callbacks)
        self.target = target
        self.is_pipeline = is_pipeline(target)
        if self.is_pipeline:
            self.space = as_space(target.get_hyperparams_space() if space is None else space)
            metric = pipeline_metric(callbacks, main_metric, higher_score_is_better)
            self.main_metric: str = metric[0]
            self.higher_score_is_better: bool | None = metric[1]
            self.trainer: TrialTrainer = Trainer(callbacks, epochs, splitter)
        else:
            self.main_metric = check_objective(target, space, main_metric, callbacks)
            self.higher_score_is_better = higher_score_is_better
            self.space = as_space(space)
            self.trainer = ObjectiveTrainer(epochs, splitter)
        self.n_trials = check_n_trials(n_trials, self.space)
        self.optimizer = optimizer if optimizer is not None else GridSearch(n_trials or 0)
        self.root, self.project_name, self.client_name = root, project_name, client_name
        self.continue_loop_on_error = continue_loop_on_error
        self.refit_best_trial = refit_best_trial
        self.start_new_round = start_new_round
        self.show_progress = show_progress
        self.executor = executor
        self.n_jobs = check_n_jobs(n_jobs)
        self._opened: Root | None = None
        self._round_number: int | None = None
        self._refitted: Any = None

    # -- running -------------------------------------------------------------------
    def fit(self, data: Any) -> AutoMLResult:
        """Run ``n_trials`` trials on ``data``, then refit the best one (if set).

        Args:
            data: What the splitter cuts: ``(x, y)`` for a pipeline; anything the
                splitter accepts for an objective (arrays, sequences, tuples of them).

        Returns:
            The round's best trial, the refitted model and a report.

        Raises:
            Exception: A trial's error when ``continue_loop_on_error`` is False (or
                when it escapes its splits), or the refit's error.
        """
        if self.is_pipeline:
            unpack_xy(data, "input")
        parallel = self.n_trials > 0 and (self.executor is not None or (self.n_jobs or 1) > 1)
        folds = self.trainer.splitter.split(data) if self.n_trials and not parallel else []
        root = self._root()
        location = worker_location(root) if parallel else None
        with root.get_project(self.project_name) as project:
            with project.get_client(self.client_name) as client:
                with client.optim_round(self.start_new_round, self.main_metric) as rnd:
                    self._round_number = rnd.round_number
                    rnd.with_optimizer(self.optimizer, self.space)
                    if location is None:
                        self._run_trials(rnd, folds)
                    else:
                        self._run_parallel(rnd, data, location)
                    self._refitted = self._refit(rnd, data) if self.refit_best_trial else None
                    result = self._result(rnd)
        return result

    def _run_trials(self, rnd: Round, folds: Sequence[tuple[Any, Any]]) -> None:
        progress = ProgressLine(self.n_trials, enabled=None if self.show_progress else False)
        try:
            for _ in range(self.n_trials):
                try:
                    with rnd.new_rvs_trial(self.continue_loop_on_error) as trial:
                        self.trainer.train_folds(self.target, folds, trial)
                except Pruned:
                    pass  # recorded: the split and the trial end FAILED, "Pruned: ..."
                higher = self.higher_score_is_better
                progress.trial_done(
                    trial.trial_number,
                    trial.get_status(),
                    trial.running_score(),
                    trial.running_direction() if higher is None else higher,
                )
        finally:
            progress.close()

    def _run_parallel(self, rnd: Round, data: Any, location: str) -> None:
        """One task per trial through the executor (or a pool made for this fit)."""
        progress = ProgressLine(self.n_trials, enabled=None if self.show_progress else False)
        higher = self.higher_score_is_better

        def task() -> TrialTask:
            return TrialTask(
                location=location,
                project=self.project_name,
                client=self.client_name,
                round_number=rnd.round_number,
                target=self.target,
                data=data,
                space=self.space,
                optimizer=spawned(self.optimizer),
                trainer=self.trainer,
                continue_on_error=self.continue_loop_on_error,
            )

        def done(o: TrialOutcome) -> None:
            direction = o.higher_is_better if higher is None else higher
            progress.trial_done(o.trial_number, o.status, o.score, direction)

        try:
            run_tasks(self.executor, self.n_jobs, task, self.n_trials, done)
        finally:
            progress.close()

    def _refit(self, rnd: Round, data: Any) -> Any:
        if rnd.get_best_trial_id() is None:
            logger.warning(
                "round %s: no SUCCESS trial has a %r score, so there is nothing to refit",
                rnd.location,
                self.main_metric,
            )
            return None
        with rnd.refitting_best_trial() as trial:
            return self.trainer.refit(self.target, data, trial)

    def _result(self, rnd: Round) -> AutoMLResult:
        best = rnd.best_result_summary()
        scored = best is not None and best[0] is not None
        if scored and self.higher_score_is_better is not None:
            logged = rnd.is_higher_score_better()
            if logged != self.higher_score_is_better:
                logger.warning(
                    "metric %r was logged with higher_score_is_better=%s, but AutoML was "
                    "given %s: the round ranks trials by the logged direction",
                    self.main_metric,
                    logged,
                    self.higher_score_is_better,
                )
        return AutoMLResult(
            round_number=rnd.round_number,
            best_trial_number=best[1] if best is not None and scored else None,
            best_score=best[0] if best is not None else None,
            best_hyperparams=HyperparameterSamples(best[3] if best is not None and scored else {}),
            refitted=self._refitted,
            report=rnd.report,
        )

    # -- after fit -----------------------------------------------------------------
    @property
    def round_number(self) -> int:
        """The round of the last ``fit``; before any, the round ``fit`` would resume.

        Raises:
            ValueError: No ``fit`` ran yet and ``start_new_round`` is set (the round
                does not exist yet).
        """
        if self._round_number is not None:
            return self._round_number
        if self.start_new_round:
            raise ValueError(
                "AutoML.round_number: fit() has not run, and with start_new_round=True it "
                "will create a new round; call fit() first"
            )
        try:
            client = self._root()[self.project_name][self.client_name]
        except KeyError:
            return 0
        return max(0, len(client) - 1)

    @property
    def report(self) -> RoundReport:
        """A fresh read-only report of the round (reloaded from the store)."""
        number = self.round_number
        report: RoundReport = self._root()[self.project_name][self.client_name][number].report
        return report

    @property
    def refitted(self) -> Any:
        """The model refitted by the last ``fit``, or None."""
        return self._refitted

    def predict(self, x: Any) -> Any:
        """Predict with the refitted pipeline.

        Raises:
            ValueError: Nothing was refitted (objective form, ``refit_best_trial=False``,
                or no ``fit`` yet).
        """
        if not self.is_pipeline or self._refitted is None:
            raise ValueError(
                "AutoML.predict needs a refitted pipeline: use the pipeline form with "
                "refit_best_trial=True, and call fit() first"
            )
        return self._refitted.predict(x)

    def to_force_refit_best_trial(self) -> AutoML:
        """A copy that runs no trial: it resumes the last round and only refits its best."""
        clone = copy.copy(self)
        clone.n_trials, clone.start_new_round, clone.refit_best_trial = 0, False, True
        clone._round_number, clone._refitted = None, None
        return clone

    def _root(self) -> Root:
        root = self.root
        if isinstance(root, Root):
            return root
        if self._opened is None:
            self._opened = Root.vanilla() if root is None else Root.at(root)
        return self._opened
