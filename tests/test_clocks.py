"""A scope's latest event wins by the hybrid logical clock, whatever the wall clocks say.

Each scenario runs in a subprocess whose ``time.time_ns`` is shifted on
purpose (an NTP step back, a restored VM, a machine whose clock is behind);
the answers are then read by this process, which has the true clock.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import arrowscope as asc

PRELUDE = textwrap.dedent(
    """
    import contextlib, sys, time
    import arrowscope as asc

    _real_time_ns = time.time_ns
    _offset = [0]

    def shift(seconds):
        '''Move this process's wall clock by ``seconds`` (negative: back in time).'''
        _offset[0] += int(seconds * 1e9)

    time.time_ns = lambda: _real_time_ns() + _offset[0]
    SPACE = asc.HyperparameterSpace({"lr": asc.Uniform(0.0, 1.0)})

    @contextlib.contextmanager
    def open_round(new=True):
        '''Round 0 of project p, client c in sys.argv[1] (new, or resumed), with an optimizer.'''
        root = asc.Root.at(sys.argv[1])
        with root.get_project("p") as project, project.get_client("c") as client:
            with (client.new_round("acc") if new else client.resume_last_round()) as rnd:
                rnd.with_optimizer(asc.RandomSearch(seed=0), SPACE)
                yield rnd

    def log_split(trial, values, metric="acc", higher=True, retrain=False):
        opened = trial.retrain_split() if retrain else trial.new_validation_split()
        with opened as split, split.managed_metric(metric, higher) as m:
            for value in values:
                m.add_valid_result(value)
    """
)


def run(runs: Path, script: str, *args: str) -> str:
    """Run ``script`` (after the prelude) with ``runs`` as ``sys.argv[1]``; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), str(runs), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_main_metric_set_after_a_step_back(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        with open_round() as rnd:
            shift(-3600)
            rnd.with_metric("loss")
            print(rnd.main_metric_name, rnd.refresh().main_metric_name)
        """,
    )
    assert out.split() == ["loss", "loss"]
    con = asc.connect(tmp_path)
    assert con.sql("select main_metric_name from rounds").fetchall() == [("loss",)]
    root = asc.Root.at(tmp_path)
    assert root["p"]["c"][0].main_metric_name == "loss"
    root.close()


def test_a_reopened_trial_that_fails_after_a_step_back(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        with open_round() as rnd:
            with rnd.new_rvs_trial() as trial:
                log_split(trial, [0.5])
            shift(-3600)
            try:
                with rnd.last_trial() as trial:
                    raise RuntimeError("diverged")
            except RuntimeError:
                pass
            print(trial.get_status().value, rnd[0].get_status().value)
        """,
    )
    assert out.split() == ["FAILED", "FAILED"]
    con = asc.connect(tmp_path)
    assert con.sql("select status, error from trials").fetchall() == [
        ("FAILED", "RuntimeError: diverged")
    ]


def test_a_retrain_split_replaced_after_a_step_back(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        with open_round() as rnd:
            with rnd.new_rvs_trial() as trial:
                log_split(trial, [0.5])
                log_split(trial, [0.25, 0.125], retrain=True)
                shift(-3600)
                log_split(trial, [0.75], retrain=True)  # replaces the first retrain split
            print(rnd[0].retrained_split["acc"].get_valid_scores())
        """,
    )
    assert out.strip() == "[0.75]"
    con = asc.connect(tmp_path)
    assert con.sql("select score from splits where split = -1").fetchall() == [(0.75,)]
    root = asc.Root.at(tmp_path)
    retrain = root["p"]["c"][0][0].retrained_split
    assert retrain is not None and retrain["acc"].get_valid_scores() == [0.75]
    root.close()


def test_a_step_back_inside_a_retrain_split(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        with open_round() as rnd:
            with rnd.new_rvs_trial() as trial:
                log_split(trial, [0.5])
                with trial.retrain_split() as split:
                    shift(-1)
                    with split.managed_metric("acc", True) as m:
                        m.add_valid_result(0.25)
                        m.add_valid_result(0.375)
                print(trial.retrained_split["acc"].get_valid_scores())
        """,
    )
    assert out.strip() == "[0.25, 0.375]"
    con = asc.connect(tmp_path)
    assert con.sql("select score, n_epochs_to_best from splits where split = -1").fetchall() == [
        (0.375, 2)
    ]


def test_two_writers_whose_clocks_differ_by_an_hour(tmp_path: Path) -> None:
    # The first writer's clock is an hour ahead: it creates the round and a trial.
    run(
        tmp_path,
        """
        shift(3600)
        with open_round() as rnd:
            with rnd.new_rvs_trial() as trial:
                log_split(trial, [0.5])
        """,
    )
    # The second, on time, resumes it: a new main metric, the trial re-opened and failed.
    run(
        tmp_path,
        """
        with open_round(new=False) as rnd:
            rnd.with_metric("loss")
            try:
                with rnd.last_trial() as trial:
                    raise RuntimeError("preempted")
            except RuntimeError:
                pass
        """,
    )
    con = asc.connect(tmp_path)
    assert con.sql("select main_metric_name from rounds").fetchall() == [("loss",)]
    assert con.sql("select status from trials").fetchall() == [("FAILED",)]
    at_and_clock = con.sql(
        "select \"at\", clock from events where level = 'trial' order by clock"
    ).fetchall()
    # The second writer's events sort after the first's although its clock is an hour behind.
    assert [c for _, c in at_and_clock] == sorted(c for _, c in at_and_clock)
    assert len(at_and_clock) == 5  # PLANNED, RUNNING, SUCCESS; then RUNNING, FAILED
