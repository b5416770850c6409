"""The seed's shared members: from_context, dummy, without_context, copy, append, flow."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import arrowscope as asc
from _scopes import open_root, run_split, run_trial, stub
from arrowscope import ScopedLocation, TrialStatus


@pytest.fixture(params=["memory", "parquet"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> asc.Root:
    return open_root(str(request.param), tmp_path / "runs")


@pytest.mark.parametrize(
    ("cls", "location"),
    [
        (asc.Project, ("default_project",)),
        (asc.Client, ("default_project", "default_client")),
        (asc.Round, ("default_project", "default_client", 0)),
        (asc.Trial, ("default_project", "default_client", 0, 0)),
        (asc.TrialSplit, ("default_project", "default_client", 0, 0, 0)),
        (asc.MetricResults, ("default_project", "default_client", 0, 0, 0, "main")),
    ],
)
def test_dummy_builds_the_default_chain(cls: type, location: tuple[object, ...]) -> None:
    scope = cls.dummy()  # type: ignore[attr-defined]
    assert isinstance(scope, cls)
    assert scope.location.as_tuple() == location
    if cls is asc.Round:
        assert scope.main_metric_name is None and len(scope) == 0
    if cls is asc.Trial:
        assert scope.get_status() is TrialStatus.PLANNED and scope.get_hyperparams() == {}


def _stored_rows(root: asc.Root) -> tuple[int, ...]:
    """How many rows each table holds, flushed or not: what a write would change."""
    repo = root.repository
    return tuple(
        len(repo.parquet_files(t)) + repo.pending(t).num_rows
        for t in ("metrics", "events", "catalog")
    )


def test_from_context_reads_without_writing(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 0.5}, [0.5, 0.25], [0.75])
    root.save()
    before = _stored_rows(root)
    loc = ScopedLocation("default_project", "default_client", 0)
    rnd = asc.Round.from_context(root.context.at(loc))
    assert isinstance(rnd, asc.Round) and len(rnd) == 1 and rnd.main_metric_name == "mse"
    trial = asc.Trial.from_context(root.context.at(loc.child(0)))
    assert isinstance(trial, asc.Trial) and trial.get_id() == 0
    assert trial.get_hyperparams() == {"lr": 0.5} and trial.get_status() is TrialStatus.SUCCESS
    assert len(trial) == 2 and trial.get_avg_validation_score("mse") == 0.5
    assert trial.created_time == r[0].created_time and trial.end_time == r[0].end_time
    assert trial.start_time is not None and trial.created_time <= trial.start_time
    split = asc.TrialSplit.from_context(root.context.at(loc.child(0).child(0)))
    assert isinstance(split, asc.TrialSplit) and split.get_status() is TrialStatus.SUCCESS
    assert split.metric_result("mse").get_valid_scores() == [0.5, 0.25]
    metric = asc.MetricResults.from_context(root.context.at(loc.child(0).child(1).child("mse")))
    assert isinstance(metric, asc.MetricResults) and list(metric) == [0.75]
    assert asc.Client.from_context(root.context.at(loc.parent())).get_id() == "default_client"
    assert _stored_rows(root) == before


def test_from_context_on_a_missing_location_gives_a_fresh_unsaved_record(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 0.5}, [0.5])
    root.save()
    before = _stored_rows(root)
    client = ScopedLocation("default_project", "default_client")
    rnd = asc.Round.from_context(root.context.at(client.child(5)))
    assert isinstance(rnd, asc.Round)
    assert (rnd.round_number, len(rnd), rnd.main_metric_name) == (5, 0, None)
    trial = asc.Trial.from_context(root.context.at(client.child(0).child(7)))
    assert isinstance(trial, asc.Trial) and trial.get_id() == 7
    assert trial.get_status() is TrialStatus.PLANNED and trial.get_hyperparams() == {}
    assert len(trial) == 0 and trial.get_avg_validation_score("mse") is None
    other = asc.Client.from_context(root.context.at(ScopedLocation("nowhere", "nobody")))
    assert isinstance(other, asc.Client) and len(other) == 0
    metric = asc.MetricResults.from_context(
        root.context.at(client.child(0).child(0).child(0).child("nope"))
    )
    assert metric.get_valid_scores() == [] and metric.is_higher_score_better()
    assert _stored_rows(root) == before
    assert [x.get_id() for x in root["default_project"]["default_client"]] == [0]
    assert [x.get_id() for x in root] == ["default_project"]


def test_scopes_loaded_by_from_context_refuse_writes(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {}, [0.5])
    loc = ScopedLocation("default_project", "default_client", 0, 0)
    trial = asc.Trial.from_context(root.context.at(loc))
    with pytest.raises(asc.ScopeClosedError, match=r"read-only.*last_trial"):
        with trial.new_validation_split():
            pass
    split = asc.TrialSplit.from_context(root.context.at(loc.child(0)))
    with pytest.raises(asc.ScopeClosedError, match="read-only"):
        split.start()
    with pytest.raises(asc.ScopeClosedError, match="read-only"):
        with split.managed_metric("acc", higher_score_is_better=True):
            pass
    with pytest.raises(asc.ScopeClosedError):
        with split.managed_metric("mse", higher_score_is_better=False) as m:
            m.add_valid_result(0.125)
    assert len(r[0]) == 1 and r[0][0]["mse"].get_valid_scores() == [0.5]


def test_refresh_reads_what_another_writer_added(root: asc.Root, tmp_path: Path) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 1}, [0.5])
    root.save()
    loc = ScopedLocation("default_project", "default_client", 0, 0)
    trial = asc.Trial.from_context(root.context.at(loc))
    split = asc.TrialSplit.from_context(root.context.at(loc.child(0)))
    other = _another_writer(root, tmp_path)
    with other.default_project() as p, p.default_client() as c, c.resume_last_round() as r2:
        with r2.last_trial() as t2:
            run_split(t2, [0.25])
        r2.with_metric("mae")
    other.save()
    ended = trial.end_time
    assert len(trial) == 1 and trial.end_time == ended  # this handle's view, until it refreshes
    assert trial.refresh() is trial
    assert len(trial) == 2 and trial.get_avg_validation_score("mse") == 0.375
    assert ended is not None and trial.end_time is not None and trial.end_time > ended
    rnd = asc.Round.from_context(root.context.at(loc.parent()))
    assert rnd.main_metric_name == "mae" and r.main_metric_name == "mse"
    assert r.refresh().main_metric_name == "mae"
    assert split.refresh().get_status() is TrialStatus.SUCCESS
    assert split.metric_result("mse").get_valid_scores() == [0.5]


def test_refresh_refuses_a_store_with_fewer_children_than_the_handle(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        trial = run_trial(r, {}, [0.5])
    trial._splits[4] = TrialStatus.SUCCESS  # a split this handle knows and the store does not
    with pytest.raises(ValueError, match=r"splits \[4\] are not stored"):
        trial.refresh()
    split = asc.TrialSplit.from_context(root.context.at(trial.location.child(0)))
    split._metrics["acc"] = split._load_child("acc")
    with pytest.raises(ValueError, match=r"metrics \['acc'\]"):
        split.refresh()


def _another_writer(root: asc.Root, tmp_path: Path) -> asc.Root:
    """A second root on the same store, as another process would open it."""
    if root.repository.location is None:
        return asc.Root.from_repo(None, root.repository)
    return asc.Root.at(tmp_path / "runs")


def test_without_context_reads_but_refuses_writes(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {}, [0.5])
    detached = r.without_context()
    assert detached.get_best_trial_id() == 0 and len(detached) == 1
    with pytest.raises(RuntimeError, match="detached"):
        detached.with_metric("acc")
    assert r.main_metric_name == "mse"


def test_copy_is_a_handle_on_the_same_round_with_its_own_settings(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {"lr": 1})
        clone = r.copy()
        assert clone is not r and clone.location == r.location
        stub(clone, {"lr": 2})  # changes the clone's optimizer only
        with r.new_rvs_trial() as t:
            assert t.get_hyperparams() == {"lr": 1}
        with clone.new_rvs_trial() as t:
            assert t.get_hyperparams() == {"lr": 2}
        assert len(r) == len(clone) == 2  # one round, seen through both handles


def test_append_replaces_an_existing_id_and_appends_the_next_one(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c:
        with c.new_round("mse") as source:
            stub(source, {"lr": 3})
            with source.new_rvs_trial(continue_on_error=True) as t, t.new_validation_split():
                raise ValueError("boom")
            run_trial(source, {"lr": 4}, [0.25])
        with c.new_round("mse") as r:
            run_trial(r, {"lr": 1}, [0.5])
            r.append(source[0])  # id 0 exists: its record is replaced
            assert len(r) == 1 and r[0].get_hyperparams() == {"lr": 3}
            assert r[0].get_status() is TrialStatus.FAILED
            r.append(source[1])  # the next id: appended
            assert len(r) == 2 and r[1].get_hyperparams() == {"lr": 4}
            assert r[1].get_status() is TrialStatus.SUCCESS
            with pytest.raises(ValueError, match="skips"):
                r.append(asc.TrialReport(r._reader, r.location.child(7)))
            assert len(r) == 2


def test_parent_report_and_metric_results(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 1}, [0.5])
        stub(r, {})
        with r.new_rvs_trial() as t:
            assert t.parent is r and t.parent.parent is c
            s = run_split(t, [0.25, 0.5])
            assert set(s.metric_results) == {"mse"}
            assert list(s.metric_results["mse"]) == [0.25, 0.5]
            assert isinstance(t.report, asc.TrialReport) and len(t.report) == 1
    assert isinstance(r.report, asc.RoundReport) and r.report.get_best_trial_id() == 1


def test_flow_logs_reach_the_scope_and_its_ancestors(
    root: asc.Root, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arrowscope.flow")
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 1}, [0.5])
        with r.new_rvs_trial(continue_on_error=True) as t, t.new_validation_split():
            raise ValueError("boom")
    names = {record.name for record in caplog.records}
    trial_logger = "arrowscope.flow.default_project.default_client.0.0"
    assert trial_logger in names
    assert any("best so far" in record.getMessage() for record in caplog.records)
    assert any("boom" in record.getMessage() for record in caplog.records)
    assert r.flow.name == "arrowscope.flow.default_project.default_client.0"
    assert t.flow.parent is r.flow  # records propagate from the trial to its round
