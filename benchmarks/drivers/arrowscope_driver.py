"""arrowscope through its public API (``asc.Root.at``, scopes, ``asc.connect``).

Modes:

* ``idiom``: the scope API used as documented, one ``managed_metric`` block per
  epoch and metric with one ``add_train_result`` and one ``add_valid_result``;
* ``batch``: one ``managed_metric`` block per split and metric with
  ``add_train_results(array)`` / ``add_valid_results(array)``; reported as skipped
  when ``MetricResults`` has no such methods.

Each trial's hyperparameters come from ``asc.HyperparameterSamplerStub`` set with
``with_optimizer`` before the trial. Queries use a fresh ``asc.Root.at(DIR)``:
Q1 is ``get_best_trial_id()`` on the resumed round, and again as SQL on the
``trials`` view (``q1_sql_*``); Q2 is SQL on ``curves`` and Q3 SQL on ``trials``.
Finally the directory is compacted (``arrowscope compact DIR``) and its size
measured again (``bytes_compacted``), with Q1 re-run on the compacted files.

Backend ``s3`` logs into ``--uri`` (``s3://bucket/prefix``, reached through the
``AWS_*`` variables) instead of ``DIR``, which then holds the local spools: the
writer's (``DIR/spool-write``) and a second, empty one for the queries
(``DIR/spool-read``), so that Q1 includes downloading every part, as a reader
on another machine would. ``bytes`` are then the objects under the prefix.

Run: ``python drivers/arrowscope_driver.py --mode idiom --dir /tmp/asc --json``
(``--backend s3 --uri s3://bucket/run`` for an S3 store).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers._common import Bench, Skipped, directory_bytes, main, parse_args
from workload import CurvePoint, Reference, ScoreRow, TrialData

MODES = ("idiom", "batch")
Q1_SQL = "select trial, score from trials order by score asc, trial asc limit 1"
Q2_SQL = """
    select epoch, phase, value from curves
    where trial = $trial and metric = 'metric0'
    order by epoch, phase
"""
Q3_SQL = "select trial, score, hyperparams from trials order by trial"


class ArrowscopeBench(Bench):
    """One arrowscope round in project ``bench``, client ``c``."""

    tool = "arrowscope"

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        import arrowscope

        self.asc: Any = arrowscope
        self.root: Any = None
        self.db: Any = None
        self.location = str(self.directory)
        if self.backend == "s3":
            if not args.uri:
                raise ValueError("--backend s3 needs --uri s3://bucket/prefix")
            self.location = args.uri
        if self.mode == "batch":
            self._require_batch_api()

    def _require_batch_api(self) -> None:
        """Skip the batch mode unless ``MetricResults`` has the batch methods."""
        metric_results = getattr(self.asc, "MetricResults", None)
        if metric_results is None:
            return  # checked again on the first metric scope
        if not all(hasattr(metric_results, m) for m in ("add_train_results", "add_valid_results")):
            raise Skipped("MetricResults has no add_train_results/add_valid_results")

    def _spool(self, name: str) -> None:
        """Open the next S3 repositories with the spool ``DIR/<name>`` (no-op on local disk)."""
        if self.backend == "s3":
            os.environ["ARROWSCOPE_SPOOL"] = str(self.directory / name)

    def setup(self) -> None:
        super().setup()
        self._spool("spool-write")
        self.root = self.asc.Root.at(self.location)

    def log(self, trials: Sequence[TrialData]) -> int:
        asc = self.asc
        with (
            self.root.get_project("bench") as project,
            project.get_client("c") as client,
            client.new_round(main_metric_name="metric0") as rnd,
        ):
            for data in trials:
                stub = asc.HyperparameterSamplerStub(data.hyperparams)
                rnd.with_optimizer(stub, asc.HyperparameterSpace({}))
                with rnd.new_rvs_trial() as trial:
                    for split in range(self.workload.S):
                        with trial.new_validation_split() as split_scope:
                            split_scope.with_n_epochs(self.workload.E)
                            if self.mode == "batch":
                                self._log_split_batch(split_scope, data, split)
                            else:
                                self._log_split_idiom(split_scope, data, split)
        close = getattr(self.root, "close", None)
        if callable(close):
            close()
        return self.workload.n_values

    def _log_split_idiom(self, split_scope: Any, data: TrialData, split: int) -> None:
        """One ``managed_metric`` block per epoch and metric."""
        train, valid = data.train[split], data.valid[split]
        names = self.workload.metric_names  # a property that builds the list: once per split
        for epoch in range(self.workload.E):
            split_scope.next_epoch()
            for m, name in enumerate(names):
                with split_scope.managed_metric(name, higher_score_is_better=False) as metric:
                    metric.add_train_result(train[m][epoch])
                    metric.add_valid_result(valid[m][epoch])

    def _log_split_batch(self, split_scope: Any, data: TrialData, split: int) -> None:
        """One ``managed_metric`` block per metric with all of the split's epochs."""
        train, valid = data.train[split], data.valid[split]
        for m, name in enumerate(self.workload.metric_names):
            with split_scope.managed_metric(name, higher_score_is_better=False) as metric:
                if not hasattr(metric, "add_train_results"):
                    raise Skipped("MetricResults has no add_train_results/add_valid_results")
                metric.add_train_results(array("d", train[m]))
                metric.add_valid_results(array("d", valid[m]))

    def reopen(self) -> None:
        self._spool("spool-read")
        self.root = self.asc.Root.at(self.location)

    def best_trial(self) -> int:
        with (
            self.root.get_project("bench") as project,
            project.get_client("c") as client,
            client.resume_last_round() as rnd,
        ):
            return int(rnd.get_best_trial_id())

    def _connect(self) -> Any:
        if self.db is None:
            self.db = self.asc.connect(self.location)
        return self.db

    def curve(self, trial: int) -> list[CurvePoint]:
        rows = self._connect().sql(Q2_SQL, params={"trial": trial}).fetchall()
        by_epoch: dict[int, dict[str, float]] = {}
        for epoch, phase, value in rows:
            by_epoch.setdefault(int(epoch), {})[str(phase)] = float(value)
        return [(e, v.get("train"), v["valid"]) for e, v in sorted(by_epoch.items())]

    def scores(self) -> list[ScoreRow]:
        rows = self._connect().sql(Q3_SQL).fetchall()
        return [ScoreRow(int(t), float(score), json.loads(hp)) for t, score, hp in rows]

    def _sql_best_trial(self) -> int:
        """Q1 as SQL on a new connection."""
        db = self.asc.connect(self.location)
        try:
            return int(db.sql(Q1_SQL).fetchall()[0][0])
        finally:
            db.close()

    def disk_bytes(self) -> int | str:
        """The stored data; ``_cache/`` (derived tables, deletable) is reported apart."""
        if self.backend != "s3":
            return directory_bytes(self.directory) - self.cache_bytes()
        return _bucket_bytes(self.location)

    def cache_bytes(self) -> int:
        """Bytes of the derived-table cache that connections keep under ``_cache/``."""
        cache = self.directory / "_cache"
        return directory_bytes(cache) if self.backend != "s3" and cache.is_dir() else 0

    def extras(self, expected: Reference) -> dict[str, Any]:
        report = super().extras(expected)
        report["cache_bytes"] = self.cache_bytes()
        start = time.perf_counter()
        report["q1_sql_answer"] = self._sql_best_trial()
        report["q1_sql_s"] = time.perf_counter() - start
        report["q1_sql_ok"] = report["q1_sql_answer"] == expected.best_trial
        if self.db is not None:
            self.db.close()
            self.db = None
        report.update(self._compact(expected))
        return report

    def _compact(self, expected: Reference) -> dict[str, Any]:
        """Run ``arrowscope compact DIR``; measure the bytes and re-check Q1 after it."""
        script = Path(sys.executable).with_name("arrowscope")
        target = self.location
        commands = [[str(script), "compact", target]] if script.exists() else []
        commands.append([sys.executable, "-m", "arrowscope", "compact", target])
        # The console script's entry point, for a package importable but not installed.
        entry = "import sys; from arrowscope.cli import main; sys.exit(main())"
        commands.append([sys.executable, "-c", entry, "compact", target])
        failures = []
        for command in commands:
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - start
            if done.returncode == 0:
                size = self.disk_bytes()
                assert isinstance(size, int)
                return {
                    "compact_s": seconds,
                    "bytes_compacted": size,
                    "bytes_per_value_compacted": size / self.workload.n_values,
                    "q1_compacted_ok": self._sql_best_trial() == expected.best_trial,
                }
            failures.append(done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"])
        return {"compaction": f"unavailable: {failures[-1][0]}"}


def _bucket_bytes(uri: str) -> int:
    """Sum of the sizes of the objects under an ``s3://bucket/prefix``."""
    import boto3

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    pages = boto3.client("s3").get_paginator("list_objects_v2")
    prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    return sum(
        item["Size"]
        for page in pages.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    )


if __name__ == "__main__":
    sys.exit(main(ArrowscopeBench, parse_args(__doc__ or "", ["parquet", "s3"], MODES, uri=True)))
