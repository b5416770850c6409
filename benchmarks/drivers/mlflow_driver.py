"""MLflow with its local sqlite backend: one run per trial, one nested run per split.

The tracking URI is ``sqlite:///DIR/mlflow.db`` and artifacts go to ``DIR/artifacts``.
Each trial is a run (tagged ``role=trial``, ``trial=<n>``, hyperparameters as params)
and each validation split a nested run (``role=split``, ``trial``, ``split``) holding
the metrics ``train/metric<m>`` and ``valid/metric<m>`` at ``step = epoch`` (1-based).

Modes:

* ``log_metric``: ``mlflow.log_metric(key, value, step=epoch)`` for every value;
* ``log_batch``: one ``MlflowClient.log_batch`` per split with all its values.

``search_runs`` only returns a metric's last value, so every query that needs a
split's best value or a curve reads each split's history with
``get_metric_history`` (one call per split run and metric).

Run: ``python drivers/mlflow_driver.py --mode log_batch --dir /tmp/mlflow --json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers._common import Bench, main, parse_args
from workload import CurvePoint, Hyperparams, ScoreRow, TrialData

EXPERIMENT = "bench"
MODES = ("log_metric", "log_batch")
MAIN_VALID = "valid/metric0"
MAIN_TRAIN = "train/metric0"


class MlflowBench(Bench):
    """MLflow's fluent API for runs, and ``MlflowClient`` for batches and queries."""

    tool = "mlflow"

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow

        self.mlflow: Any = mlflow
        self.uri = f"sqlite:///{self.directory / 'mlflow.db'}"
        self.client: Any = None
        self.experiment_id = ""

    def setup(self) -> None:
        super().setup()
        self.mlflow.set_tracking_uri(self.uri)
        artifacts = (self.directory / "artifacts").as_uri()
        self.experiment_id = self.mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
        self.mlflow.set_experiment(experiment_id=self.experiment_id)
        self.client = self.mlflow.MlflowClient(tracking_uri=self.uri)

    def log(self, trials: Sequence[TrialData]) -> int:
        n_values = 0
        for data in trials:
            tags = {"role": "trial", "trial": str(data.number)}
            with self.mlflow.start_run(run_name=f"trial-{data.number}", tags=tags):
                self.mlflow.log_params(data.hyperparams)
                for split in range(self.workload.S):
                    split_tags = {"role": "split", "trial": str(data.number), "split": str(split)}
                    with self.mlflow.start_run(nested=True, tags=split_tags) as run:
                        n_values += self._log_split(run.info.run_id, data, split)
        return n_values

    def _log_split(self, run_id: str, data: TrialData, split: int) -> int:
        """Log one split's values in the driver's mode; return how many."""
        names = self.workload.metric_names
        train, valid = data.train[split], data.valid[split]
        if self.mode == "log_metric":
            log_metric = self.mlflow.log_metric
            for epoch in range(self.workload.E):
                for m, name in enumerate(names):
                    log_metric(f"train/{name}", train[m][epoch], step=epoch + 1)
                    log_metric(f"valid/{name}", valid[m][epoch], step=epoch + 1)
            return 2 * len(names) * self.workload.E
        metric = self.mlflow.entities.Metric
        batch = []
        for epoch in range(self.workload.E):
            now = int(time.time() * 1000)
            for m, name in enumerate(names):
                batch.append(metric(f"train/{name}", train[m][epoch], now, epoch + 1))
                batch.append(metric(f"valid/{name}", valid[m][epoch], now, epoch + 1))
        self.client.log_batch(run_id, metrics=batch)
        return len(batch)

    def reopen(self) -> None:
        self.client = self.mlflow.MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self.client.get_experiment_by_name(EXPERIMENT).experiment_id

    def _runs(self, filter_string: str) -> list[Any]:
        """Every run of the experiment matching ``filter_string`` (all pages)."""
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _history(self, run_id: str, key: str) -> list[float]:
        """A metric's values in step order."""
        metrics = self.client.get_metric_history(run_id, key)
        return [m.value for m in sorted(metrics, key=lambda m: m.step)]

    def _split_scores(self) -> dict[int, float]:
        """Trial number → mean over its split runs of the best valid metric0."""
        bests: dict[int, list[float]] = defaultdict(list)
        for run in self._runs("tags.role = 'split'"):
            trial = int(run.data.tags["trial"])
            bests[trial].append(min(self._history(run.info.run_id, MAIN_VALID)))
        return {trial: statistics.fmean(values) for trial, values in bests.items()}

    def best_trial(self) -> int:
        scores = self._split_scores()
        return min(scores, key=lambda trial: (scores[trial], trial))

    def curve(self, trial: int) -> list[CurvePoint]:
        runs = self._runs(f"tags.role = 'split' and tags.trial = '{trial}'")
        train = [self._history(run.info.run_id, MAIN_TRAIN) for run in runs]
        valid = [self._history(run.info.run_id, MAIN_VALID) for run in runs]
        return [
            (
                epoch + 1,
                statistics.fmean(t[epoch] for t in train),
                statistics.fmean(v[epoch] for v in valid),
            )
            for epoch in range(self.workload.E)
        ]

    def scores(self) -> list[ScoreRow]:
        params = {
            int(run.data.tags["trial"]): _typed(run.data.params)
            for run in self._runs("tags.role = 'trial'")
        }
        return [ScoreRow(t, score, params[t]) for t, score in self._split_scores().items()]


def _typed(params: dict[str, str]) -> Hyperparams:
    """MLflow keeps params as text: give them back their workload types."""
    return {"lr": float(params["lr"]), "depth": int(params["depth"]), "act": params["act"]}


if __name__ == "__main__":
    sys.exit(main(MlflowBench, parse_args(__doc__ or "", ["sqlite"], MODES)))
