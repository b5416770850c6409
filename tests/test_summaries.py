"""Split summaries: recorded at each split's exit, combined by the views, checked by verify."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

import arrowscope as asc
from _rounds import split_resumed_by_two_writers
from arrowscope.query import QuerySession
from arrowscope.schema import view_sql
from arrowscope.store import ParquetRepository

FORMAT1 = Path(__file__).with_name("data") / "format1"


def _search(runs: Path, trials: int = 3) -> None:
    root = asc.Root.at(runs, flush_interval=0)
    space = asc.HyperparameterSpace({"x": asc.Uniform(0, 1)})
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round("loss") as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), space)
            for t in range(trials):
                with rnd.new_rvs_trial() as trial:
                    for s in range(2):
                        with trial.new_validation_split() as split:
                            with split.managed_metric("loss", higher_score_is_better=False) as m:
                                for e in range(5):
                                    m.add_train_result(1.0 / (e + 1))
                                    m.add_valid_result(abs(e - 2 - t + s) + 0.5)
    root.close()


def _reads_values(runs: Path, project: str = "p", client: str = "c") -> bool:
    """Whether computing split scores for round 0 plans a scan of the metric values."""
    session = QuerySession(ParquetRepository(runs), by_round=True)
    session.focus(project, client, 0)
    plan = session.connection.sql("explain " + view_sql("_split_metric")).fetchall()[0][1]
    session.close()
    return "_metrics_round" in plan


def test_scores_are_read_from_summaries_not_values(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _search(runs)
    assert not _reads_values(runs)
    con = asc.connect(runs)
    from_views = con.sql("select * from _split_metric order by trial, split").fetchall()
    from_values = con.sql("select * from _split_metric_values order by trial, split").fetchall()
    assert len(from_views) == 6 and from_views == from_values


def test_format_1_directories_compute_scores_from_values(tmp_path: Path) -> None:
    runs = tmp_path / "old"
    shutil.copytree(FORMAT1, runs)
    assert _reads_values(runs, "vision", "resnet")


def test_a_split_resumed_by_two_processes_combines_its_summaries(tmp_path: Path) -> None:
    """Epochs 1-3 logged by one writer, 4-6 by another; each records its own summary."""
    runs = tmp_path / "runs"
    split_resumed_by_two_writers(runs, [0.5, 0.25, float("nan"), 0.25, 0.75, 0.125])
    con = asc.connect(runs)
    row = con.sql("select n_valid, best, n_epochs_to_best, last from _split_metric").fetchall()
    assert row == [(6, 0.125, 6, 0.125)]
    assert con.sql("select score from trials").fetchall() == [(0.125,)]
    assert con.sql("select count(*) from events where valid_count is not null").fetchall() == [(2,)]
    verify = _verify(runs)
    assert verify.returncode == 0, verify.stdout


def _verify(runs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arrowscope.cli", "verify", str(runs)],
        capture_output=True,
        text=True,
    )


def test_verify_names_a_summary_that_disagrees_with_its_values(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _search(runs, trials=2)
    ok = _verify(runs)
    assert ok.returncode == 0 and "every summary agrees" in ok.stdout
    # Damage one summary: trial 1, split 0 now claims a best it never reached.
    for path in (runs / "events").rglob("*.parquet"):
        table = pq.read_table(path)
        target = pc.and_(
            pc.and_(pc.equal(table["trial"], 1), pc.equal(table["split"], 0)),
            pc.is_valid(table["valid_best"]),
        )
        if pc.any(target).as_py():
            damaged = pc.if_else(target, -1.0, table["valid_best"])
            table = table.set_column(
                table.schema.get_field_index("valid_best"), "valid_best", damaged
            )
            meta = pq.read_metadata(path).metadata
            pq.write_table(table.replace_schema_metadata(meta), path)
    bad = _verify(runs)
    assert bad.returncode == 1
    assert "summary differs from the values" in bad.stdout
    plain = duckdb.sql(f"select count(*) from read_parquet('{runs}/events/**/*.parquet')")
    assert plain.fetchall()[0][0] > 0  # plain DuckDB still reads the directory
