"""NaN and ±inf values are found by SQL filters, in fresh and compacted parts, by every reader."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import polars as pl
import pytest

import arrowscope as asc

FILTERS = {
    "isnan(value)": 2,
    "value = 'nan'::double": 2,
    "value = 'inf'::double": 1,
    "value = '-inf'::double": 1,
    "isinf(value)": 2,
    "isfinite(value)": 3,
}


def _log(runs: Path, trials: int) -> None:
    root = asc.Root.at(runs, flush_interval=0, auto_compact_parts=0)
    space = asc.HyperparameterSpace({"x": asc.Uniform(0, 1)})
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round("acc") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), space)
            for _ in range(trials):
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("acc", higher_score_is_better=True) as m:
                        for value in (0.5, math.nan, 0.7, math.inf, -math.inf, math.nan, 0.25):
                            m.add_valid_result(value)
    root.close()


def _counts(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, int]:
    return {
        f: con.sql(f"select count(*) from {source} where {f}").fetchall()[0][0] for f in FILTERS
    }


@pytest.mark.parametrize("compacted", [False, True])
def test_nan_filters_are_right_for_every_reader(tmp_path: Path, compacted: bool) -> None:
    runs = tmp_path / "runs"
    _log(runs, trials=3)
    if compacted:
        repo = asc.ParquetRepository(runs)
        assert repo.compact() > 0
        repo.close()
    expected = {f: n * 3 for f, n in FILTERS.items()}
    assert _counts(asc.connect(runs), "metrics") == expected
    plain = f"read_parquet('{runs}/metrics/**/*.parquet')"
    assert _counts(duckdb.connect(), plain) == expected
    frame = asc.scan(runs, "metrics").collect()
    assert frame.filter(pl.col("value").is_nan()).height == expected["isnan(value)"]
    assert frame.filter(pl.col("value").is_infinite()).height == expected["isinf(value)"]
    # the best finite value ignores them
    con = asc.connect(runs)
    assert con.sql("select distinct score from splits").fetchall() == [(0.7,)]


def test_no_float_column_is_written_with_min_max_statistics(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    runs = tmp_path / "runs"
    _log(runs, trials=1)
    for path in runs.rglob("*.parquet"):
        meta = pq.read_metadata(path)
        for group in range(meta.num_row_groups):
            for column in range(meta.num_columns):
                chunk = meta.row_group(group).column(column)
                if chunk.physical_type in ("DOUBLE", "FLOAT"):
                    assert chunk.statistics is None or not chunk.statistics.has_min_max, path
