"""Optuna: ``trial.report(value, step)`` on in-memory, sqlite and journal-file storages.

``trial.report`` keeps one float per step of a trial, with no metric name, phase
or split, so the driver stores what fits: the valid values of ``metric0`` at
``step = split * E + epoch`` (epoch 0-based). That is ``1/(2M)`` of the workload,
and ``n_values`` counts only what was stored. Hyperparameters come from
``study.enqueue_trial`` and the ``suggest_*`` calls; the trial is closed with
``study.tell`` and the score the training loop computed. Queries open the study
again (``optuna.load_study`` on a new storage object, the same object in memory)
and compute scores from the intermediate values.

Run: ``python drivers/optuna_driver.py --backend journal --dir /tmp/optuna --json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers._common import Bench, main, parse_args
from workload import ACTIVATIONS, CurvePoint, ScoreRow, TrialData, trial_score

STUDY = "bench"
BACKENDS = ("memory", "sqlite", "journal")


class OptunaBench(Bench):
    """One Optuna study; one Optuna trial per workload trial."""

    tool = "optuna"

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna: Any = optuna
        self.note = (
            "trial.report keeps one float per step: only metric0's valid values are "
            f"stored (1/{2 * self.workload.M} of the workload)"
        )
        self.storage: Any = None
        self.study: Any = None

    def _new_storage(self) -> Any:
        """A storage object for the backend (a new handle on the same data, except in RAM)."""
        storages = self.optuna.storages
        if self.backend == "memory":
            return self.storage if self.storage is not None else storages.InMemoryStorage()
        if self.backend == "sqlite":
            return storages.RDBStorage(f"sqlite:///{self.directory / 'optuna.db'}")
        backend = storages.journal.JournalFileBackend(str(self.directory / "optuna.log"))
        return storages.journal.JournalStorage(backend)

    def setup(self) -> None:
        super().setup()
        self.storage = self._new_storage()
        self.study = self.optuna.create_study(
            study_name=STUDY, storage=self.storage, direction="minimize"
        )

    def log(self, trials: Sequence[TrialData]) -> int:
        n_epochs = self.workload.E
        stored = 0
        for data in trials:
            self.study.enqueue_trial(data.hyperparams)
            trial = self.study.ask()
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            trial.suggest_int("depth", 1, 8)
            trial.suggest_categorical("act", ACTIVATIONS)
            for split, values in enumerate(data.valid):
                for epoch, value in enumerate(values[0]):
                    trial.report(value, step=split * n_epochs + epoch)
                    stored += 1
            self.study.tell(trial, trial_score(data))
        return stored

    def reopen(self) -> None:
        self.storage = self._new_storage()
        self.study = self.optuna.load_study(study_name=STUDY, storage=self.storage)

    def _score(self, intermediate: dict[int, float]) -> float:
        """Mean over splits of each split's minimum, from ``{step: value}``."""
        bests: dict[int, float] = {}
        for step, value in intermediate.items():
            split = step // self.workload.E
            bests[split] = min(value, bests.get(split, value))
        return statistics.fmean(bests.values())

    def _rows(self) -> list[ScoreRow]:
        trials = self.study.get_trials(deepcopy=False)
        return [ScoreRow(t.number, self._score(t.intermediate_values), t.params) for t in trials]

    def best_trial(self) -> int:
        best = min(self._rows(), key=lambda row: (row.score, row.trial))
        return best.trial

    def curve(self, trial: int) -> list[CurvePoint]:
        study_id = self.storage.get_study_id_from_name(STUDY)
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, trial)
        values = self.storage.get_trial(trial_id).intermediate_values
        n_epochs, n_splits = self.workload.E, self.workload.S
        return [
            (
                epoch + 1,
                None,
                statistics.fmean(values[s * n_epochs + epoch] for s in range(n_splits)),
            )
            for epoch in range(n_epochs)
        ]

    def scores(self) -> list[ScoreRow]:
        return self._rows()

    def disk_bytes(self) -> int | str:
        return "RAM" if self.backend == "memory" else super().disk_bytes()


if __name__ == "__main__":
    sys.exit(main(OptunaBench, parse_args(__doc__ or "", BACKENDS)))
