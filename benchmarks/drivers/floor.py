"""The floor: Python ``array``s → one Parquet file → DuckDB.

Logging appends each value and a ``time.time_ns()`` stamp to two ``array``s (the
cheapest thing a Python tracker can do per value) plus, once per split, where
the split's values start. At the end everything is written as ONE zstd Parquet
file with the columns arrowscope stores (trial, split, metric, phase, epoch,
value, logged_at) and the trial's hyperparameters as constant columns. Q1-Q3
are SQL over that file in a fresh DuckDB connection.

Run: ``python drivers/floor.py --T 20 --S 3 --E 20 --M 2 --dir /tmp/floor --json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers._common import Bench, main, parse_args
from workload import ACTIVATIONS, CurvePoint, ScoreRow, TrialData

FILE_NAME = "metrics.parquet"

# Values of one split are logged epoch by epoch, metric by metric, train then valid,
# so a value's key follows from its position in the split's block.
SPLIT_BEST = """
    with split_best as (
        select trial, split, min(value) as best
        from metrics
        where metric = 'metric0' and phase = 'valid'
        group by trial, split
    )
"""
Q1_SQL = (
    SPLIT_BEST
    + """
    select trial, avg(best) as score from split_best
    group by trial order by score asc, trial asc limit 1
"""
)
Q2_SQL = """
    select epoch,
           avg(value) filter (where phase = 'train') as train,
           avg(value) filter (where phase = 'valid') as valid
    from metrics
    where trial = $trial and metric = 'metric0'
    group by epoch order by epoch
"""
Q3_SQL = (
    SPLIT_BEST
    + """
    , hp as (select distinct trial, lr, depth, act from metrics)
    select s.trial, avg(s.best) as score, any_value(hp.lr), any_value(hp.depth),
           any_value(hp.act)
    from split_best s join hp using (trial)
    group by s.trial order by s.trial
"""
)


class FloorBench(Bench):
    """Arrays in memory, one Parquet file at the end, DuckDB for the queries."""

    tool = "floor"

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.path = self.directory / FILE_NAME
        self.con: Any = None

    def log(self, trials: Sequence[TrialData]) -> int:
        values = array("d")
        stamps = array("q")
        blocks: list[tuple[int, int, int]] = []  # (trial, split, values per split)
        hyperparams: list[tuple[float, int, str]] = []
        add_value, add_stamp, now = values.append, stamps.append, time.time_ns
        for trial in trials:
            hp = trial.hyperparams
            hyperparams.append((float(hp["lr"]), int(hp["depth"]), str(hp["act"])))
            for split, (train, valid) in enumerate(zip(trial.train, trial.valid, strict=True)):
                start = len(values)
                for epoch in range(self.workload.E):
                    for metric in range(self.workload.M):
                        add_value(train[metric][epoch])
                        add_stamp(now())
                        add_value(valid[metric][epoch])
                        add_stamp(now())
                blocks.append((trial.number, split, len(values) - start))
        self._write(values, stamps, blocks, hyperparams)
        return len(values)

    def _write(
        self,
        values: array[float],
        stamps: array[int],
        blocks: list[tuple[int, int, int]],
        hyperparams: list[tuple[float, int, str]],
    ) -> None:
        """Expand the per-split keys into columns and write one Parquet file."""
        per_split = 2 * self.workload.M * self.workload.E
        trial = np.repeat(np.array([b[0] for b in blocks], dtype=np.int32), per_split)
        split = np.repeat(np.array([b[1] for b in blocks], dtype=np.int32), per_split)
        position = np.tile(np.arange(per_split, dtype=np.int32), len(blocks))
        metric_names = pa.array(self.workload.metric_names)
        hp_lr = np.array([h[0] for h in hyperparams])
        hp_depth = np.array([h[1] for h in hyperparams], dtype=np.int32)
        hp_act = np.array([ACTIVATIONS.index(h[2]) for h in hyperparams], dtype=np.int8)
        columns = {
            "trial": trial,
            "split": split,
            "metric": pa.DictionaryArray.from_arrays(
                (position // 2 % self.workload.M).astype(np.int8), metric_names
            ),
            "phase": pa.DictionaryArray.from_arrays(
                (position % 2).astype(np.int8), pa.array(["train", "valid"])
            ),
            "epoch": position // (2 * self.workload.M) + 1,
            "value": np.frombuffer(values, dtype=np.float64),
            "logged_at": pa.array(
                np.frombuffer(stamps, dtype=np.int64) // 1000, pa.timestamp("us", tz="UTC")
            ),
            "lr": hp_lr[trial],
            "depth": hp_depth[trial],
            "act": pa.DictionaryArray.from_arrays(hp_act[trial], pa.array(ACTIVATIONS)),
        }
        table = pa.table(columns)
        pq.write_table(table, self.path, compression="zstd")

    def reopen(self) -> None:
        self.con = duckdb.connect()
        quoted = str(self.path).replace("'", "''")
        self.con.execute(f"create view metrics as select * from read_parquet('{quoted}')")

    def best_trial(self) -> int:
        rows = self.con.execute(Q1_SQL).fetchall()
        return int(rows[0][0])

    def curve(self, trial: int) -> list[CurvePoint]:
        rows = self.con.execute(Q2_SQL, {"trial": trial}).fetchall()
        return [(int(epoch), train, valid) for epoch, train, valid in rows]

    def scores(self) -> list[ScoreRow]:
        rows = self.con.execute(Q3_SQL).fetchall()
        return [
            ScoreRow(int(t), float(score), {"lr": lr, "depth": int(depth), "act": act})
            for t, score, lr, depth, act in rows
        ]


if __name__ == "__main__":
    sys.exit(main(FloorBench, parse_args(__doc__ or "", ["parquet"])))
