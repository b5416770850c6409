"""Data written by arrowscope 0.1 (storage format 1) reads, resumes and compacts the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

import arrowscope as asc

FORMAT1 = Path(__file__).with_name("data") / "format1"
BEST_LOSS = 0.23214285714285715


@pytest.fixture
def old_dir(tmp_path: Path) -> Path:
    """A copy of the format 1 directory (opening a directory may write to it)."""
    target = tmp_path / "runs"
    shutil.copytree(FORMAT1, target)
    return target


def test_views_answer_as_version_0_1_did(old_dir: Path) -> None:
    con = asc.connect(old_dir)
    trials = con.sql("select trial, status, score from trials order by trial").fetchall()
    assert trials == [
        (0, "SUCCESS", 0.3375),
        (1, "SUCCESS", 0.275),
        (2, "SUCCESS", BEST_LOSS),
        (3, "FAILED", None),
    ]
    assert con.sql("select best_trial, best_score, n_trials from rounds").fetchall() == [
        (2, BEST_LOSS, 4)
    ]
    # The second retrain split replaced the first: only its value counts.
    retrain = con.sql("select distinct score from splits where split = -1").fetchall()
    assert retrain == [(9.0,)]
    events = con.sql("select count(*) from events where clock is null").fetchall()[0][0]
    assert events == con.sql("select count(*) from events").fetchall()[0][0] > 0


def test_reports_read_format_1(old_dir: Path) -> None:
    root = asc.Root.at(old_dir)
    rnd = root["vision"]["resnet"][0]
    assert rnd.get_best_trial_id() == 2
    assert rnd.main_metric_name == "loss" and rnd.is_higher_score_better() is False
    assert rnd[2].get_avg_validation_score("loss") == pytest.approx(BEST_LOSS)
    assert rnd[0].retrained_split is not None
    assert rnd[0].retrained_split["loss"].get_valid_scores() == [9.0]
    assert rnd[3].get_status() is asc.TrialStatus.FAILED
    root.close()


def test_a_new_writer_resumes_a_format_1_round_and_compacts_it(old_dir: Path) -> None:
    root = asc.Root.at(old_dir, flush_interval=0)
    space = asc.HyperparameterSpace({"lr": asc.Choice([0.5])})
    with root.get_project("vision") as project, project.get_client("resnet") as client:
        with client.resume_last_round() as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=1), space)
            with rnd.last_trial() as trial:  # re-opened: its events now have clocks
                pass
            with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                with split.managed_metric("loss", higher_score_is_better=False) as m:
                    m.add_valid_result(0.125)
            assert rnd.get_best_trial_id() == 4
    assert root.repository.compact() > 0
    root.close()
    plain = duckdb.sql(
        f"select count(*) from read_parquet('{old_dir}/metrics/**/*.parquet', union_by_name = true)"
    ).fetchall()
    con = asc.connect(old_dir)
    assert plain == con.sql("select count(*) from metrics").fetchall()
    assert con.sql("select best_trial, n_trials from rounds").fetchall() == [(4, 5)]
    assert con.sql("select status from trials where trial = 3").fetchall() == [("FAILED",)]
