"""Neuraxle 0.8.1: ``neuraxle.metaopt.data.aggregates`` through its own scope API.

Backends:

* ``memory``: ``Root.vanilla`` (its ``VanillaHyperparamsRepository``, a tree of
  dataclasses in RAM);
* ``json``: ``Root.from_repo`` with ``HyperparamsOnDiskRepository(DIR)``, which
  rewrites JSON files under ``DIR`` at every logged value.

In 0.8.1 ``root.get_project(<new name>)`` fails, so the round lives in the
default project and client, as Neuraxle's own AutoML does. Each trial's
hyperparameters come from a ``HyperparameterSamplerStub`` set with
``with_optimizer`` before the trial. Queries reopen the round with
``resume_last_round`` on a new ``Root``: Q1 is ``get_best_trial_id``, Q2 the
trial's ``to_scores_over_time_df`` and Q3 ``summary``. Neuraxle's default
logging (every value, to stdout) stays on, as a user gets it.

Run: ``python drivers/neuraxle_driver.py --backend json --T 5 --dir /tmp/nx --json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers._common import Bench, main, parse_args
from workload import CurvePoint, ScoreRow, TrialData

BACKENDS = ("memory", "json")


class NeuraxleBench(Bench):
    """One Neuraxle round in the default project and client."""

    tool = "neuraxle"

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        from neuraxle.metaopt.data import aggregates

        self.aggregates: Any = aggregates
        self.repo: Any = None
        self.round: Any = None

    def _context(self) -> Any:
        from neuraxle.metaopt.context import AutoMLContext

        return AutoMLContext(root=str(self.directory))

    def _new_root(self) -> Any:
        """A ``Root`` on the backend's repository (a new one on disk, the same one in RAM)."""
        root_class = self.aggregates.Root
        if self.backend == "memory":
            if self.repo is None:
                root = root_class.vanilla(self._context())
                self.repo = root.context.repo.get_step()
                return root
            return root_class.from_repo(self._context(), self.repo)
        from neuraxle.metaopt.repositories.json import HyperparamsOnDiskRepository

        return root_class.from_repo(
            self._context(), HyperparamsOnDiskRepository(str(self.directory))
        )

    def log(self, trials: Sequence[TrialData]) -> int:
        from neuraxle.hyperparams.space import HyperparameterSamples, HyperparameterSpace
        from neuraxle.metaopt.optimizer import HyperparameterSamplerStub

        root = self._new_root()
        with (
            root.default_project() as project,
            project.default_client() as client,
            client.new_round(main_metric_name="metric0") as rnd,
        ):
            for data in trials:
                stub = HyperparameterSamplerStub(HyperparameterSamples(data.hyperparams))
                rnd.with_optimizer(stub, HyperparameterSpace({}))
                with rnd.new_rvs_trial() as trial:
                    for split in range(self.workload.S):
                        with trial.new_validation_split() as split_scope:
                            self._log_split(split_scope, data, split)
        return self.workload.n_values

    def _log_split(self, split_scope: Any, data: TrialData, split: int) -> None:
        """Log one split epoch by epoch, each metric in its own ``managed_metric``."""
        train, valid = data.train[split], data.valid[split]
        split_scope.with_n_epochs(self.workload.E)
        for epoch in range(self.workload.E):
            split_scope.next_epoch()
            for m, name in enumerate(self.workload.metric_names):
                with split_scope.managed_metric(name, higher_score_is_better=False) as metric:
                    metric.add_train_result(train[m][epoch])
                    metric.add_valid_result(valid[m][epoch])

    def reopen(self) -> None:
        root = self._new_root()
        with (
            root.default_project() as project,
            project.default_client() as client,
            client.resume_last_round() as rnd,
        ):
            self.round = rnd

    def best_trial(self) -> int:
        return int(self.round.get_best_trial_id("metric0"))

    def curve(self, trial: int) -> list[CurvePoint]:
        frame = self.round[trial].to_scores_over_time_df("metric0")
        sums: dict[tuple[int, str], list[float]] = defaultdict(list)
        for epoch, phase, value in zip(
            frame["epoch"], frame["phase"], frame["metric0"], strict=True
        ):
            sums[(int(epoch), str(phase))].append(float(value))
        return [
            (
                epoch + 1,
                statistics.fmean(sums[(epoch, "train")]),
                statistics.fmean(sums[(epoch, "validation")]),
            )
            for epoch in range(self.workload.E)
        ]

    def scores(self) -> list[ScoreRow]:
        return [
            ScoreRow(int(number), float(score), dict(hyperparams))
            for score, number, _status, hyperparams in self.round.summary("metric0")
        ]

    def disk_bytes(self) -> int | str:
        return "RAM" if self.backend == "memory" else super().disk_bytes()


if __name__ == "__main__":
    sys.exit(main(NeuraxleBench, parse_args(__doc__ or "", BACKENDS)))
