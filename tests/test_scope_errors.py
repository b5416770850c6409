"""Raising at every level, and bad input: clear errors, nothing recorded is lost."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import arrowscope as asc
from _scopes import open_root, reopen, run_split, run_trial, stub
from arrowscope import TrialStatus

LEVELS = ["project", "client", "round", "trial", "split", "metric"]


@pytest.fixture(params=["memory", "parquet"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def root(kind: str, tmp_path: Path) -> asc.Root:
    return open_root(kind, tmp_path / "runs")


def _raise_at(root: asc.Root, level: str, continue_on_error: bool) -> None:
    """Log one finished trial, then a second one raising ValueError at ``level``."""
    with root.get_project("p") as p:
        if level == "project":
            raise ValueError(level)
        with p.get_client("c") as c:
            if level == "client":
                raise ValueError(level)
            with c.new_round("mse") as r:
                run_trial(r, {"x": 1}, [0.5])
                if level == "round":
                    raise ValueError(level)
                with r.new_rvs_trial(continue_on_error=continue_on_error) as t:
                    if level == "trial":
                        raise ValueError(level)
                    with t.new_validation_split() as s:
                        s.with_n_epochs(1)
                        s.next_epoch()
                        if level == "split":
                            raise ValueError(level)
                        with s.managed_metric("mse", False) as m:
                            m.add_valid_result(0.25)
                            raise ValueError(level)


@pytest.mark.parametrize("continue_on_error", [False, True])
@pytest.mark.parametrize("level", LEVELS)
def test_raise_at_every_level(
    root: asc.Root, kind: str, tmp_path: Path, level: str, continue_on_error: bool
) -> None:
    suppressed = continue_on_error and level in ("split", "metric")
    if suppressed:
        _raise_at(root, level, continue_on_error)
    else:
        with pytest.raises(ValueError, match=level):
            _raise_at(root, level, continue_on_error)
    again = reopen(root, kind, tmp_path / "runs")
    if level in ("project", "client"):
        assert "p" in [p.get_id() for p in again.projects]
        return
    rnd = again["p"]["c"][0]
    assert rnd[0].get_status() is TrialStatus.SUCCESS  # what was recorded before stays
    assert rnd[0][0]["mse"].get_valid_scores() == [0.5]
    if level == "round":
        assert len(rnd) == 1
        return
    trial = rnd[1]
    if level == "trial":
        assert (trial.get_status(), len(trial)) == (TrialStatus.FAILED, 0)
        return
    assert trial[0].get_status() is TrialStatus.FAILED
    assert trial.get_status() is TrialStatus.FAILED
    assert "ValueError" in (trial[0].error if hasattr(trial[0], "error") else "ValueError")
    if level == "metric":
        assert trial[0]["mse"].get_valid_scores() == [0.25]
    assert rnd.get_best_trial_id() == 0


# Names and values are checked by the scopes, before any repository sees them: the Parquet
# repository alone (names become directories there) is enough for these two.
@pytest.mark.parametrize("kind", ["parquet"])
@pytest.mark.parametrize(
    "name", ["a/b", "a\\b", "a=b", "..", ".", " lead", "trail ", "", "x" * 129]
)
def test_invalid_names_are_rejected_and_nothing_is_lost(root: asc.Root, name: str) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {}, [0.5])
        with pytest.raises(ValueError, match="invalid name"):
            with root.get_project(name):
                pass
        with pytest.raises(asc.InvalidNameError):
            with p.get_client(name):
                pass
        stub(r, {})
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with pytest.raises(ValueError, match="invalid name"):
                with s.managed_metric(name, False):
                    pass
            with s.managed_metric("mse", False) as m:
                m.add_valid_result(0.75)
    assert [t.get_status() for t in r] == [TrialStatus.SUCCESS, TrialStatus.SUCCESS]
    assert r.get_best_trial_id() == 0
    assert [p.get_id() for p in root.projects] == ["default_project"]


@pytest.mark.parametrize("kind", ["parquet"])
@pytest.mark.parametrize("bad", ["0.5", None, [1.0], True, {"v": 1}, complex(1, 2)])
def test_non_numeric_values_raise_type_error(root: asc.Root, bad: object) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("mse", False) as m:
                m.add_valid_result(0.5)
                with pytest.raises(TypeError, match="real number"):
                    m.add_valid_result(bad)  # type: ignore[arg-type]
                with pytest.raises(TypeError, match="real number"):
                    m.add_train_result(bad)  # type: ignore[arg-type]
                m.add_valid_result(0.25)
    assert r[0][0]["mse"].get_valid_scores() == [0.5, 0.25]
    assert r[0][0]["mse"].get_train_scores() == []


def test_nan_and_inf_are_stored_and_ignored_by_best_scores(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {}, [math.nan, 0.5, -math.inf, 0.75])
        run_trial(r, {}, [math.inf])
    stored = r[0][0]["mse"].get_valid_scores()
    assert math.isnan(stored[0]) and stored[1:] == [0.5, -math.inf, 0.75]
    assert r[0][0]["mse"].get_best_validation_score() == 0.5
    assert r[0][0]["mse"].get_n_epochs_to_best_validation_score() == 2
    assert r[0].get_avg_validation_score("mse") == 0.5
    assert r[1].get_avg_validation_score("mse") is None
    assert r.get_best_trial_id() == 0


def test_numpy_scalars_and_ints_are_accepted(root: asc.Root) -> None:
    np = pytest.importorskip("numpy")
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("mse", False) as m:
                m.add_valid_result(np.float32(0.5))
                m.add_valid_result(1)
                m.add_valid_results(np.array([0.25, 0.125]))
                m.add_train_results([1, 2.5])
    assert r[0][0]["mse"].get_valid_scores() == [0.5, 1.0, 0.25, 0.125]
    assert r[0][0]["mse"].get_train_scores() == [1.0, 2.5]


def test_logging_after_the_split_exited_is_refused(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with r.new_rvs_trial() as t:
            s = run_split(t, [0.5])
            metric = s.metric_result("mse")
            with pytest.raises(asc.ScopeClosedError, match="exited"):
                metric.add_valid_result(0.1)
            with pytest.raises(asc.ScopeClosedError, match="exited"):
                metric.add_valid_results([0.1])
    assert r[0][0]["mse"].get_valid_scores() == [0.5]


def test_a_file_is_not_a_repository(tmp_path: Path) -> None:
    path = tmp_path / "runs"
    path.write_text("not a directory")
    with pytest.raises(NotADirectoryError, match="needs a directory"):
        asc.Root.at(path)
    assert path.read_text() == "not a directory"


def test_misuse_gives_clear_errors(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        with pytest.raises(RuntimeError, match="with_optimizer"):
            with r.new_rvs_trial():
                pass
        assert len(r) == 0
        with pytest.raises(TypeError, match="find_next_best_hyperparams"):
            r.with_optimizer(object(), asc.HyperparameterSpace({}))  # type: ignore[arg-type]
        stub(r, {})
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with pytest.raises(ValueError, match="positive int"):
                s.with_n_epochs(0)
            with s.managed_metric("mse", False) as m:
                m.add_valid_result(0.5)
            with pytest.raises(ValueError, match="cannot change"):
                with s.managed_metric("mse", True):
                    pass
            with pytest.raises(KeyError):
                s.metric_result("absent")
        manager = r.new_rvs_trial()
        with manager:
            pass
        with pytest.raises(RuntimeError, match="already entered"):
            with manager:
                pass
    assert [t.get_status() for t in r] == [TrialStatus.SUCCESS, TrialStatus.SUCCESS]
    with pytest.raises(IndexError):
        c[5]
    with pytest.raises(KeyError, match="nope"):
        root["nope"]
