"""SPEC §6 acceptance scenarios S1–S25 and S27, on both repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

import arrowscope as asc
from _scopes import failing_trial, open_root, reopen, run_split, run_trial, stub
from arrowscope import TrialStatus

SUCCESS, FAILED = TrialStatus.SUCCESS, TrialStatus.FAILED


@pytest.fixture(params=["memory", "parquet"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def root(kind: str, tmp_path: Path) -> asc.Root:
    return open_root(kind, tmp_path / "runs")


def test_s1_defaults_nesting_ids_lengths(root: asc.Root, kind: str, tmp_path: Path) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {"lr": 0.5})
        with r.new_rvs_trial() as t:
            assert t.get_status() is TrialStatus.RUNNING
            with t.new_validation_split() as s:
                s.with_n_epochs(2)
                assert s.get_status() is TrialStatus.PLANNED
                epochs = []
                for train, valid in [(1.0, 0.75), (0.5, 0.5)]:
                    epochs.append(s.next_epoch())
                    assert s.get_status() is TrialStatus.RUNNING
                    with s.managed_metric("mse", False) as m:
                        m.add_train_result(train)
                        m.add_valid_result(valid)
        assert epochs == [1, 2]
        assert (p.get_id(), c.get_id(), r.get_id(), r.round_number) == (
            "default_project",
            "default_client",
            0,
            0,
        )
        assert (t.get_id(), s.get_id(), m.get_id()) == (0, 0, "mse")
        assert s.get_status() is SUCCESS and t.get_status() is SUCCESS
        assert t.get_avg_validation_score("mse") == 0.5
        assert [len(root), len(p), len(c), len(r), len(t), len(s), len(m)] == [1, 1, 1, 1, 1, 1, 2]
        assert m.get_train_scores() == [1.0, 0.5]
    again = reopen(root, kind, tmp_path / "runs")
    rnd = again["default_project"]["default_client"][0]
    assert rnd.main_metric_name == "mse"
    assert len(rnd) == 1 and len(rnd[0]) == 1
    assert rnd[0].get_status() is SUCCESS
    assert rnd[0][0]["mse"].get_valid_scores() == [0.75, 0.5]
    assert rnd[0][0]["mse"].get_train_scores() == [1.0, 0.5]


def test_s2_fresh_store_and_resume_on_empty_client(root: asc.Root) -> None:
    assert [p.get_id() for p in root.projects] == ["default_project"]
    with root.default_project() as p, p.default_client() as c:
        assert [x.get_id() for x in p] == ["default_client"]
        assert len(c) == 0
        with c.resume_last_round() as r:
            assert (r.get_id(), r.main_metric_name, len(r)) == (0, None, 0)
        assert len(c) == 1
        with c.new_round("acc") as r:
            assert r.get_id() == 1


def test_s3_named_project_and_client(root: asc.Root) -> None:
    with root.get_project("vision") as p2, p2.get_client("alice") as c2, c2.new_round("acc") as r:
        assert (p2.get_id(), c2.get_id(), r.get_id()) == ("vision", "alice", 0)
    assert [p.get_id() for p in root.projects] == ["default_project", "vision"]
    assert [c.get_id() for c in root["vision"]] == ["alice"]
    with p2.default_client():
        pass
    assert [c.get_id() for c in root["vision"]] == ["alice", "default_client"]
    with root.get_project("vision") as again:
        assert [c.get_id() for c in again] == ["alice", "default_client"]
        assert len(again["alice"]) == 1


def _s4(root: asc.Root) -> asc.Client:
    with root.default_project() as p, p.default_client() as c:
        with c.new_round("mse") as r:
            run_trial(r, {"lr": 0.125}, [0.5])
            run_trial(r, {"lr": 0.25}, [0.25])
        with c.new_round("acc") as r:
            run_trial(r, {"lr": 0.5}, [0.5], metric="acc", hib=True)
            run_trial(r, {"lr": 0.75}, [0.75], metric="acc", hib=True)
    return c


def test_s4_rounds_and_client_report(root: asc.Root) -> None:
    c = _s4(root)
    assert len(c) == 2
    df = c.to_rounds_with_best_scores_df()
    assert df.columns == [
        "round_number",
        "n trials",
        "main metric name",
        "best score for main metric",
        "best trial status",
        "best hyperparameters",
    ]
    assert df.rows() == [
        (0, 2, "mse", 0.25, "SUCCESS", '{"lr": 0.25}'),
        (1, 2, "acc", 0.75, "SUCCESS", '{"lr": 0.75}'),
    ]


class Recorder:
    """An optimizer that records its calls and always answers the same samples."""

    def __init__(self, samples: dict[str, object]) -> None:
        self.samples = samples
        self.calls: list[tuple[int, object, object]] = []

    def find_next_best_hyperparams(self, report: asc.RoundReport, space: object) -> object:
        self.calls.append((len(report), report.get_id(), space))
        return asc.HyperparameterSamples(self.samples)


def test_s5_resume_last_round_and_optim_round(root: asc.Root, kind: str, tmp_path: Path) -> None:
    c = _s4(root)
    recorder = Recorder({"lr": 1.0})
    with c.resume_last_round() as r:
        assert (r.get_id(), len(r), r.main_metric_name) == (1, 2, "acc")
        r.with_optimizer(recorder, asc.HyperparameterSpace({}))
        with r.new_rvs_trial() as t:
            run_split(t, [1.0], "acc", True)
        assert [(n, i) for n, i, _ in recorder.calls] == [(2, 1)]
        assert t.get_id() == 2
        assert r.get_best_trial_id() == 2
        assert r.get_best_trial().get_avg_validation_score("acc") == 1.0
    with c.optim_round(False, "loss") as r:
        assert (r.get_id(), r.main_metric_name) == (1, "loss")
    assert c[1].main_metric_name == "loss"
    with c.optim_round(True, "mse") as r:
        assert r.get_id() == 2
    again = reopen(root, kind, tmp_path / "runs")
    assert again["default_project"]["default_client"][1].main_metric_name == "loss"


def test_s6_optimizer_contract_and_hyperparams(root: asc.Root) -> None:
    recorder = Recorder({"a__b": 1, "c": "x"})
    space = asc.HyperparameterSpace({})
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        r.with_optimizer(recorder, space)
        trials = []
        for _ in range(3):
            with r.new_rvs_trial() as t:
                s = run_split(t, [0.5])
            trials.append((t, s))
    assert [n for n, _, _ in recorder.calls] == [0, 1, 2]
    assert all(sp is space for _, _, sp in recorder.calls)
    for t, s in trials:
        assert t.get_hyperparams() == {"a": {"b": 1}, "c": "x"}
        assert list(t.get_hyperparams().to_flat_dict().items()) == [("a__b", 1), ("c", "x")]
        assert s.get_hyperparams() == t.get_hyperparams()
        assert t.created_time <= s.created_time
    stored = root["default_project"]["default_client"][0][1]
    assert stored.get_hyperparams() == {"a": {"b": 1}, "c": "x"}
    assert stored[0].get_hyperparams() == {"a": {"b": 1}, "c": "x"}


def test_s7_best_trial_lower_is_better_and_summary(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 0}, [0.75, 0.5])
        run_trial(r, {"lr": 1}, [0.25])
        run_trial(r, {"lr": 2}, [1.0, 0.75])
    assert [t.get_avg_validation_score("mse") for t in r] == [0.5, 0.25, 0.75]
    assert r.get_best_trial_id() == 1
    assert r.get_best_hyperparams() == {"lr": 1}
    assert r.is_higher_score_better() is False
    assert [row[1] for row in r.summary()] == [1, 0, 2]
    assert r.best_result_summary() == (0.25, 1, SUCCESS, {"lr": 1})


def test_s8_ties_and_failed_trials_last(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("acc") as r:
        for value in [0.5, 0.75, 0.75]:
            run_trial(r, {}, [value], metric="acc", hib=True)
        failing_trial(r, 0.125, ValueError("boom"))
        failing_trial(r, 0.125, ValueError("boom"))
    assert [t.get_status() for t in r][3:] == [FAILED, FAILED]
    assert [t[0].get_status() for t in r][3:] == [FAILED, FAILED]
    assert r.get_best_trial_id() == 1
    summary = r.summary()
    assert [row[1] for row in summary] == [1, 2, 0, 3, 4]
    assert [row[0] for row in summary] == [0.75, 0.75, 0.5, None, None]


def test_s9_averaging_curves_and_epochs_to_best(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        t = run_trial(r, {}, [0.5, 0.25], [0.75, 1.0])
    assert t.get_avg_validation_score("mse") == 0.5
    assert t.get_avg_validation_score("mse", over_time=True) == [0.625, 0.625]
    assert [s["mse"].get_n_epochs_to_best_validation_score() for s in t] == [2, 1]
    assert t.get_avg_n_epoch_to_best_validation_score("mse") == 1.5
    assert r.to_scores_over_time_df().select("trial_number", "epoch", "mse").rows() == [
        (0, 1, 0.625),
        (0, 2, 0.625),
    ]


def test_s10_failing_split_without_continue(root: asc.Root, kind: str, tmp_path: Path) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {"lr": 1})
        with pytest.raises(ValueError, match="boom"), r.new_rvs_trial() as t:
            run_split(t, [0.5])
            with t.new_validation_split() as s:
                s.with_n_epochs(1)
                s.next_epoch()
                with s.managed_metric("mse", False) as m:
                    m.add_valid_result(0.25)
                raise ValueError("boom")
    assert [x.get_status() for x in r[0]] == [SUCCESS, FAILED]
    assert r[0][1]["mse"].get_valid_scores() == [0.25]
    assert t.get_status() is FAILED and t.end_time is not None
    assert r[0].get_status() is FAILED and r[0].end_time is not None
    assert t.get_avg_validation_score("mse") is None
    assert r.get_best_trial_id() is None
    assert r.summary() == [(None, 0, FAILED, {"lr": 1})]
    rnd = reopen(root, kind, tmp_path / "runs")["default_project"]["default_client"][0]
    assert rnd.summary() == [(None, 0, FAILED, {"lr": 1})]
    assert "ValueError: boom" in (rnd[0].error or "")


def test_s11_failing_split_with_continue(root: asc.Root) -> None:
    ran_after = False
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with r.new_rvs_trial(continue_on_error=True) as t:
            run_split(t, [0.5])
            with t.new_validation_split() as s:
                s.with_n_epochs(1)
                s.next_epoch()
                with s.managed_metric("mse", False) as m:
                    m.add_valid_result(0.25)
                raise ValueError("boom")
            ran_after = True
    assert ran_after
    assert [x.get_status() for x in r[0]] == [SUCCESS, FAILED]
    assert r[0].get_status() is SUCCESS
    assert r[0].get_avg_validation_score("mse") == 0.5
    assert r.get_best_trial_id() == 0


def test_s12_every_split_fails_then_a_trial_succeeds(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with r.new_rvs_trial(continue_on_error=True) as t0:
            for _ in range(2):
                with t0.new_validation_split():
                    raise RuntimeError("split failed")
        t1 = run_trial(r, {}, [0.75])
    assert [s.get_status() for s in r[0]] == [FAILED, FAILED]
    assert r[0].get_status() is FAILED
    assert (t1.get_id(), t1.get_status()) == (1, SUCCESS)
    assert r.get_best_trial_id() == 1
    assert [row[1] for row in r.summary()] == [1, 0]


@pytest.mark.parametrize("continue_on_error", [True, False])
def test_s13_keyboard_interrupt(
    root: asc.Root, kind: str, tmp_path: Path, continue_on_error: bool
) -> None:
    with root.default_project() as p, p.default_client() as c, pytest.raises(KeyboardInterrupt):
        with c.new_round("mse") as r:
            stub(r, {})
            with r.new_rvs_trial(continue_on_error=continue_on_error) as t:
                with t.new_validation_split():
                    raise KeyboardInterrupt
    rnd = reopen(root, kind, tmp_path / "runs")["default_project"]["default_client"][0]
    # SPEC "Decisions": a trial reached by KeyboardInterrupt becomes ABORTED.
    assert rnd[0][0].get_status() is TrialStatus.ABORTED
    assert rnd[0].get_status() is TrialStatus.ABORTED


@pytest.mark.parametrize(
    ("exc", "escapes", "split_status"),
    [
        (SystemExit(3), True, TrialStatus.ABORTED),
        (SystemError("x"), True, FAILED),
        (EOFError("x"), True, FAILED),
        (GeneratorExit(), True, FAILED),
        (MemoryError("x"), False, FAILED),
        (ValueError("x"), False, FAILED),
    ],
)
def test_s14_exception_classes_under_continue(
    root: asc.Root, exc: BaseException, escapes: bool, split_status: TrialStatus
) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        try:
            with r.new_rvs_trial(continue_on_error=True) as t, t.new_validation_split():
                raise exc
            escaped = False
        except BaseException as caught:
            assert caught is exc
            escaped = True
    assert escaped is escapes
    assert r[0][0].get_status() is split_status
    expected = TrialStatus.ABORTED if isinstance(exc, SystemExit) else FAILED
    assert r[0].get_status() is expected


def test_s14_next_epoch_without_n_epochs(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with pytest.raises(ValueError, match="with_n_epochs"):
            with r.new_rvs_trial() as t, t.new_validation_split() as s:
                s.next_epoch()
    assert r[0][0].get_status() is FAILED and r[0].get_status() is FAILED


def test_s15_errors_outside_a_split_and_inside_a_metric(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        with pytest.raises(ValueError, match="after"):
            with r.new_rvs_trial(continue_on_error=True) as t:
                run_split(t, [0.5])
                raise ValueError("after the split")
        assert r[0][0].get_status() is SUCCESS and r[0].get_status() is FAILED
        assert r.get_best_trial_id() is None
        with r.new_rvs_trial(continue_on_error=True) as t:
            with t.new_validation_split() as s, s.managed_metric("mse", False) as m:
                m.add_valid_result(1.0)
                raise ValueError("inside the metric")
    assert r[1][0].get_status() is FAILED
    assert r[1][0]["mse"].get_valid_scores() == [1.0]
    assert r[1].get_status() is FAILED


def test_s16_trials_without_splits_or_metrics(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c:
        with c.new_round("mse") as r:
            stub(r, {})
            with r.new_rvs_trial():
                pass
            with r.new_rvs_trial() as t, t.new_validation_split():
                pass
        assert [(t.get_status(), len(t)) for t in r] == [(SUCCESS, 0), (SUCCESS, 1)]
        assert r[1][0].get_status() is SUCCESS
        assert r[1].get_avg_validation_score("mse") is None
        assert r.get_best_trial_id() is None
        with c.new_round(None) as r2:
            run_trial(r2, {}, [0.5], metric="m")
        with pytest.raises(ValueError, match="not defined"):
            r2.get_best_trial_id()
        assert r2.get_best_trial_id("m") == 0


def test_s17_s18_retrain_split(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 0}, [0.75, 0.5])
        run_trial(r, {"lr": 1}, [0.25])
        run_trial(r, {"lr": 2}, [1.0, 0.75])
        ended_before = r[1].end_time
        with r.refitting_best_trial() as t, t.retrain_split() as s:
            assert (t.get_id(), s.get_id()) == (1, -1)
            assert t.get_hyperparams() == {"lr": 1} and s.get_hyperparams() == {"lr": 1}
            s.with_n_epochs(1)
            s.next_epoch()
            with s.managed_metric("mse", False) as m:
                m.add_train_result(0.125)
        retrain = r[1].retrained_split
        assert retrain is not None and retrain.get_status() is SUCCESS
        assert retrain["mse"].get_train_scores() == [0.125]
        assert retrain["mse"].get_valid_scores() == []
        assert len(r[1]) == 1 and [x.get_id() for x in r[1]] == [0]
        assert r[1].get_status() is SUCCESS and r[1].get_avg_validation_score("mse") == 0.25
        assert r[1].end_time > ended_before
        assert len(r) == 3 and r.get_best_trial_id() == 1
        with pytest.raises(ValueError, match="refit failed"):
            with r.refitting_best_trial() as t, t.retrain_split():
                raise ValueError("refit failed")
        assert r[1].retrained_split.get_status() is FAILED
        assert r[1].retrained_split.get_metric_names() == []
        assert r[1].get_status() is SUCCESS and r.get_best_trial_id() == 1


def test_s19_nothing_to_refit(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        with pytest.raises(ValueError, match="nothing to refit"), r.refitting_best_trial():
            pass
        assert len(r) == 0
        failing_trial(r, 0.5, ValueError("x"))
        failing_trial(r, 0.5, ValueError("x"))
        with pytest.raises(ValueError, match="nothing to refit"), r.refitting_best_trial():
            pass
        assert len(r) == 2


def test_s20_last_trial(root: asc.Root) -> None:
    recorder = Recorder({"lr": 3})
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        with pytest.raises(ValueError, match="no trial"), r.last_trial():
            pass
        run_trial(r, {"lr": 1}, [0.625])
        run_trial(r, {"lr": 2}, [0.75])
        r.with_optimizer(recorder, asc.HyperparameterSpace({}))
        with r.last_trial() as t:
            assert t.get_id() == 1
            s = run_split(t, [0.25])
            assert s.get_id() == 1
        assert recorder.calls == []
        assert t.get_hyperparams() == {"lr": 2}
        assert r[1].get_status() is SUCCESS and r[1].get_avg_validation_score("mse") == 0.5
        assert r.get_best_trial_id() == 1


def test_s21_several_metrics(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        stub(r, {})
        for mse, acc, f1 in [(0.5, 0.75, 0.5), (0.25, 0.5, 0.25)]:
            with r.new_rvs_trial() as t, t.new_validation_split() as s:
                s.with_n_epochs(1)
                s.next_epoch()
                for name, value, hib in [("mse", mse, False), ("acc", acc, True), ("f1", f1, True)]:
                    with s.managed_metric(name, hib) as m:
                        m.add_valid_result(value)
    assert r.get_metric_names() == ["mse", "acc", "f1"]
    assert s.get_metric_names() == ["acc", "f1", "mse"]
    assert r[0][0].get_metric_names() == ["acc", "f1", "mse"]
    assert (r.get_best_trial_id(), r.get_best_trial_id("acc"), r.get_best_trial_id("f1")) == (
        1,
        0,
        0,
    )
    assert r.is_higher_score_better("acc") is True
    with pytest.raises(ValueError):
        r.is_higher_score_better("zzz")
    assert r.get_best_trial_id("zzz") is None


@pytest.mark.parametrize(
    ("values", "hib", "flags", "best", "n"),
    [
        ([0.5, 0.25, 0.25, 0.75], False, [True, True, False, False], 0.25, 2),
        ([1.0, 3.0, 3.0], True, [True, True, False], 3.0, 2),
        ([], True, [], None, None),
    ],
)
def test_s22_epochs_to_best_and_new_best(
    root: asc.Root,
    values: list[float],
    hib: bool,
    flags: list[bool],
    best: float | None,
    n: int | None,
) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("m") as r:
        stub(r, {})
        seen = []
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("m", hib) as m:
                for value in values:
                    m.add_valid_result(value)
                    seen.append(m.is_new_best_score())
                assert m.is_new_best_score() is (flags[-1] if flags else False)
    assert seen == flags
    for metric in (m, r[0][0]["m"]):
        assert metric.get_best_validation_score() == best
        assert metric.get_n_epochs_to_best_validation_score() == n
    if values:
        assert m.get_final_validation_score() == values[-1]
    else:
        with pytest.raises(IndexError):
            m.get_final_validation_score()


def _s23(root: asc.Root, failed_hps: dict[str, object]) -> asc.Round:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        run_trial(r, {"opt__lr": 0.5, "opt__name": "adam", "flag": True}, [0.5, 0.25], [0.75, 0.5])
        run_trial(r, {"opt__lr": 0.125, "opt__name": "sgd", "flag": False}, [1.0, 2.0], [3.0, 4.0])
        stub(r, failed_hps)
        with r.new_rvs_trial(continue_on_error=True) as t, t.new_validation_split():
            raise ValueError("fails")
    return r


def test_s23_curve_frames(root: asc.Root) -> None:
    r = _s23(root, {"opt__lr": 0.25, "opt__name": "sgd", "flag": True})
    df = r.to_scores_over_time_df()
    assert df.columns == ["trial_number", "epoch", "mse", "flag", "*lr", "*name"]
    assert df.rows() == [
        (0, 1, 0.625, "True", 0.5, "'adam'"),
        (0, 2, 0.375, "True", 0.5, "'adam'"),
        (1, 1, 2.0, "False", 0.125, "'sgd'"),
        (1, 2, 3.0, "False", 0.125, "'sgd'"),
    ]
    kept = r.to_scores_over_time_df(wildcards_to_keep=["*lr"])
    assert kept.columns == ["trial_number", "epoch", "mse", "*lr"]
    trial_df = r[0].to_scores_over_time_df("mse")
    assert trial_df.columns == ["split_number", "epoch", "phase", "mse"]
    assert trial_df.select("split_number", "epoch", "phase").rows() == [
        (0, 1, "train"),
        (0, 2, "train"),
        (0, 1, "valid"),
        (0, 2, "valid"),
        (1, 1, "train"),
        (1, 2, "train"),
        (1, 1, "valid"),
        (1, 2, "valid"),
    ]


def test_s24_scatter_frame(root: asc.Root) -> None:
    r = _s23(root, {"opt__lr": 0.25, "opt__name": "sgd", "flag": True})
    df = r.to_round_scatterplot_df()
    assert df.columns == ["trial_number", "status", "mse", "flag", "*lr", "*name"]
    assert df.rows() == [
        (0, "SUCCESS", 0.375, "True", 0.5, "'adam'"),
        (1, "SUCCESS", 2.0, "False", 0.125, "'sgd'"),
        (2, "FAILED", None, "True", 0.25, "'sgd'"),
    ]
    assert r.to_round_scatterplot_df(wildcards_to_keep=[]).columns == [
        "trial_number",
        "status",
        "mse",
    ]


def test_s25_reports_on_an_empty_round(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("mse") as r:
        pass
    assert r.get_best_trial_id() is None and r.get_best_trial() is None
    assert r.get_best_hyperparams() == {}
    with pytest.raises(ValueError):
        r.is_higher_score_better()
    assert r.summary() == [] and r.best_result_summary() is None
    assert r.get_metric_names() == [] and r.get_n_val_splits() == 0
    assert r.list_hyperparameters_wildcards() == []
    assert r.list_successful_avg_validation_scores() == []
    scatter, over_time = r.to_round_scatterplot_df(), r.to_scores_over_time_df()
    assert (scatter.columns, scatter.height) == (["trial_number", "status", "mse"], 0)
    assert (over_time.columns, over_time.height) == (["trial_number", "epoch", "mse"], 0)
    assert c.to_rounds_with_best_scores_df().rows() == [(0, 0, "mse", None, None, None)]


def test_s27_project_report(root: asc.Root) -> None:
    with root.default_project() as p:
        with p.get_client("alice") as alice:
            with alice.new_round("mse") as r:
                run_trial(r, {"lr": 0.125}, [0.5])
                run_trial(r, {"lr": 0.25}, [0.25])
            with alice.new_round("acc") as r:
                run_trial(r, {"lr": 0.5}, [0.5], metric="acc", hib=True)
                run_trial(r, {"lr": 0.75}, [0.75], metric="acc", hib=True)
        with p.default_client() as c, c.new_round("mse") as r:
            run_trial(r, {"b": 2}, [0.5])
        with p.get_client("zed"):
            pass
        df = p.to_clients_with_best_scores_df()
    assert df.columns == [
        "client_name",
        "most recent round_number",
        "n trials for most recent round",
        "main metric name",
        "best score for main metric",
        "best trial status",
        "best hyperparameters",
    ]
    assert df.rows() == [
        ("alice", 1, 2, "acc", 0.75, "SUCCESS", '{"lr": 0.75}'),
        ("default_client", 0, 1, "mse", 0.5, "SUCCESS", '{"b": 2}'),
        ("zed", None, 0, None, None, None, None),
    ]
