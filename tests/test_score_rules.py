"""One score rule: random rounds, run through the scopes, agree with a plain oracle everywhere.

Hypothesis builds rounds -- trials that succeed or raise, splits that fail,
several metrics with their own directions, NaN and infinite values, retrain
splits replaced, trials re-opened with ``last_trial`` -- and runs them
through the real scope API on both repositories. The oracle below is SPEC
§3 written as plainly as possible; the views (``arrowscope.connect``), the
reports of a fresh handle and the live objects of the run must all give its
answers.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arrowscope as asc

METRICS = ("acc", "loss")
VALUES = st.one_of(
    st.sampled_from([0.0, 0.25, 0.5, 1.0, -1.0]),  # ties are common
    st.floats(-10, 10, allow_nan=False, width=32),
    st.just(math.nan),
    st.sampled_from([math.inf, -math.inf]),
)


@dataclass
class SplitPlan:
    fails: bool
    values: dict[str, list[float]]  # metric -> valid values (train: the same, negated)


@dataclass
class TrialPlan:
    raises: bool
    splits: list[SplitPlan]
    retrains: list[list[float]] = field(default_factory=list)  # main-metric values per record
    reopen: SplitPlan | None = None  # a split added by last_trial() after the trial ended


@dataclass
class RoundPlan:
    main: str
    directions: dict[str, bool]
    trials: list[TrialPlan]


def _split(metrics: list[str]) -> st.SearchStrategy[SplitPlan]:
    per_metric = st.fixed_dictionaries({m: st.lists(VALUES, max_size=4) for m in metrics})
    return st.builds(SplitPlan, fails=st.booleans(), values=per_metric)


@st.composite
def rounds(draw: st.DrawFn) -> RoundPlan:
    main = draw(st.sampled_from(METRICS))
    directions = {m: draw(st.booleans()) for m in METRICS}
    trials = []
    for _ in range(draw(st.integers(0, 4))):
        metrics = draw(st.lists(st.sampled_from(METRICS), unique=True, max_size=2))
        trials.append(
            TrialPlan(
                raises=draw(st.booleans()) and draw(st.booleans()),
                splits=draw(st.lists(_split(metrics), max_size=3)),
                retrains=draw(st.lists(st.lists(VALUES, max_size=2), max_size=2)),
                reopen=draw(st.none() | _split(metrics)),
            )
        )
    return RoundPlan(main, directions, trials)


# -- the oracle: SPEC §3, plainly ---------------------------------------------------------
def best(values: list[float], higher: bool) -> tuple[float, int] | None:
    finite = [(v, i + 1) for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return None
    target = max(v for v, _ in finite) if higher else min(v for v, _ in finite)
    return target, next(e for v, e in finite if v == target)


@dataclass
class Expected:
    status: str
    splits: list[SplitPlan]  # validation splits, in order (re-opened one last)

    def score(self, metric: str, directions: dict[str, bool]) -> float | None:
        if self.status != "SUCCESS":
            return None
        bests = [
            b[0]
            for s in self.splits
            if not s.fails and metric in s.values
            if (b := best(s.values[metric], directions[metric])) is not None
        ]
        return sum(bests) / len(bests) if bests else None


def expected_trials(plan: RoundPlan) -> list[Expected]:
    out = []
    for trial in plan.trials:
        status = _status(trial.raises, trial.splits)
        splits = list(trial.splits)
        if trial.reopen is not None:
            splits.append(trial.reopen)
            status = _status(False, splits)  # re-entry decides again from every split
        out.append(Expected(status, splits))
    return out


def _status(raises: bool, splits: list[SplitPlan]) -> str:
    if raises or (splits and all(s.fails for s in splits)):
        return "FAILED"
    return "SUCCESS"


def expected_best(plan: RoundPlan, metric: str) -> tuple[int, float] | None:
    trials = expected_trials(plan)
    recorded = [t for t in trials if any(metric in s.values for s in t.splits)]
    if not recorded:
        return None
    higher = plan.directions[metric]
    scored = [(t.score(metric, plan.directions), n) for n, t in enumerate(trials)]
    eligible = [(s, n) for s, n in scored if s is not None]
    if not eligible:
        return None
    score, number = min(eligible, key=lambda sn: (-sn[0] if higher else sn[0], sn[1]))
    return number, score


# -- running a plan through the scopes ---------------------------------------------------
def run(plan: RoundPlan, root: asc.Root) -> dict[str, Any]:
    """Log ``plan``; return what the live objects said along the way."""
    live: dict[str, Any] = {"split_best": []}
    space = asc.HyperparameterSpace({"x": asc.Uniform(0, 1)})
    with root.get_project("p") as project, project.get_client("c") as client:
        with client.new_round(plan.main) as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), space)
            for trial_plan in plan.trials:
                try:
                    with rnd.new_rvs_trial(continue_on_error=True) as trial:
                        for split_plan in trial_plan.splits:
                            _log_split(trial, split_plan, plan.directions, live)
                        for values in trial_plan.retrains:
                            with trial.retrain_split() as split:
                                _log_metric(split, plan.main, values, plan.directions)
                        if trial_plan.raises:
                            raise RuntimeError("the trial failed")
                except RuntimeError:
                    pass
                if trial_plan.reopen is not None:
                    with rnd.last_trial(continue_on_error=True) as trial:
                        _log_split(trial, trial_plan.reopen, plan.directions, live)
                live.setdefault("status", []).append(trial.get_status().value)
    return live


def _log_split(
    trial: asc.Trial, plan: SplitPlan, directions: dict[str, bool], live: dict[str, Any]
) -> None:
    with trial.new_validation_split() as split:
        for metric, values in plan.values.items():
            found = _log_metric(split, metric, values, directions)
            live["split_best"].append((found.get_best_validation_score(), values, metric))
        if plan.fails:
            raise ValueError("the split failed")


def _log_metric(
    split: asc.TrialSplit, metric: str, values: list[float], directions: dict[str, bool]
) -> asc.MetricResults:
    with split.managed_metric(metric, directions[metric]) as m:
        for value in values:
            m.add_train_result(-value)
            m.add_valid_result(value)
    return m


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def check(plan: RoundPlan, root: asc.Root, live: dict[str, Any]) -> None:
    trials = expected_trials(plan)
    # live objects: the in-memory rule (best_of) and statuses
    assert live.get("status", []) == [t.status for t in trials]
    for found, values, metric in live["split_best"]:
        expected = best(values, plan.directions[metric])
        assert same(found, None if expected is None else expected[0])

    con = asc.connect(root)
    rows = con.sql("select trial, status, score from trials order by trial").fetchall()
    assert [(n, t.status) for n, t in enumerate(trials)] == [r[:2] for r in rows]
    for (n, _status, score), t in zip(rows, trials, strict=True):
        assert same(score, t.score(plan.main, plan.directions)), n
    best_main = expected_best(plan, plan.main)
    round_row = con.sql("select best_trial, best_score, n_trials from rounds").fetchall()
    if trials:
        assert round_row[0][2] == len(trials)
        if best_main is None:
            assert round_row[0][:2] == (None, None)
        else:
            assert round_row[0][0] == best_main[0] and same(round_row[0][1], best_main[1])
    for n, trial_plan in enumerate(plan.trials):
        retrain = con.sql(
            "select score from splits where trial = $1 and split = -1", params=[n]
        ).fetchall()
        if trial_plan.retrains:
            last = best(trial_plan.retrains[-1], plan.directions[plan.main])
            assert len(retrain) == 1 and same(retrain[0][0], last and last[0])
    con.close()

    rnd = asc.Root.from_repo(None, root.repository)["p"]["c"][0]  # a fresh handle
    for metric in METRICS:
        expected = expected_best(plan, metric)
        assert rnd.get_best_trial_id(metric) == (None if expected is None else expected[0])
        for n, t in enumerate(trials):
            assert same(rnd[n].get_avg_validation_score(metric), t.score(metric, plan.directions))
        summary = rnd.summary(metric)
        ranked = [row[1] for row in summary if row[0] is not None]
        if expected is not None:
            assert ranked[0] == expected[0]


@settings(
    max_examples=10,  # each run draws new rounds
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=rounds())
@pytest.mark.parametrize("backend", ["memory", "parquet"])
def test_reports_views_and_live_objects_follow_one_rule(backend: str, plan: RoundPlan) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "memory":
            root = asc.Root.in_memory()
        else:
            root = asc.Root.at(Path(tmp) / "runs", flush_interval=0)
        live = run(plan, root)
        check(plan, root, live)
        root.close()
