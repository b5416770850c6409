"""Importance, grouped scores and other ranking rules, on rounds built through the scopes."""

from __future__ import annotations

import math
import random
from pathlib import Path

import polars as pl
import pytest

import arrowscope as asc


def build(
    root: asc.Root, trials: list[tuple[dict, list[list[float]]]], metric: str = "mse"
) -> None:
    """One trial per entry: its hyperparameters and each split's validation curve."""
    with root.default_project() as p, p.default_client() as c, c.new_round(metric) as rnd:
        for hps, splits in trials:
            rnd.with_optimizer(asc.HyperparameterSamplerStub(hps), asc.HyperparameterSpace({}))
            with rnd.new_rvs_trial() as trial:
                for curve in splits:
                    with trial.new_validation_split() as split:
                        with split.managed_metric(metric, higher_score_is_better=False) as m:
                            m.add_valid_results(curve)


@pytest.fixture(scope="module")
def seeds_round(tmp_path_factory: pytest.TempPathFactory) -> asc.Root:
    """lr x depth, 3 seeds each; scores known by hand."""
    root = asc.Root.at(tmp_path_factory.mktemp("runs"))
    trials = []
    for lr, depth, base in ((0.1, 2, 1.0), (0.1, 4, 0.5), (0.01, 2, 2.0)):
        for seed in range(3):
            # Two splits; each split's best is base + seed/4, its last base + seed/4 + 1.
            curve = [base + seed / 4 + 2, base + seed / 4, base + seed / 4 + 1]
            trials.append(({"lr": lr, "depth": depth, "seed": seed}, [curve, curve]))
    trials.append(({"lr": 0.5, "depth": 2, "seed": 0}, []))  # no split: no score
    build(root, trials)
    return root


def rnd_of(root: asc.Root) -> asc.Round:
    return root["default_project"]["default_client"][0]


def test_scores_by_groups_everything_but_the_seed(seeds_round: asc.Root) -> None:
    frame = rnd_of(seeds_round).scores_by(["lr", "depth"])
    assert frame.columns == ["lr", "depth", "n_trials", "mean", "std", "best", "best_trial"]
    assert frame.select("lr", "depth", "n_trials", "mean", "best", "best_trial").rows() == [
        (0.1, 4, 3, 0.75, 0.5, 3),
        (0.1, 2, 3, 1.25, 1.0, 0),
        (0.01, 2, 3, 2.25, 2.0, 6),
    ]
    assert frame["std"].to_list() == pytest.approx([0.25, 0.25, 0.25])


def test_other_ranking_rules(seeds_round: asc.Root) -> None:
    rnd = rnd_of(seeds_round)
    last = rnd.scores_by(["lr", "depth"], rank="last")
    assert last["mean"].to_list() == [1.75, 2.25, 3.25]
    mean = rnd.ranked_trials(rank="mean")
    # mean over epochs of (b+2, b, b+1) is b+1
    assert mean.row(0, named=True)["score"] == pytest.approx(1.5) and mean["trial"][0] == 3
    best = rnd.ranked_trials()
    assert best["trial"].to_list()[:3] == [3, 4, 0] and best.height == 9
    assert [s for s, t, _st, _h in rnd.summary()[:3]] == best["score"].to_list()[:3]
    with pytest.raises(ValueError, match="rank='median'"):
        rnd.ranked_trials(rank="median")
    with pytest.raises(ValueError, match="at least one"):
        rnd.scores_by([])


def test_scores_by_matches_the_readme_query(seeds_round: asc.Root) -> None:
    db = asc.connect(seeds_round)
    sql = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
    query = sql.split("-- scores by lr and depth, every seed together\n")[1].split(";")[0]
    rows = db.sql(query).fetchall()
    expected = rnd_of(seeds_round).scores_by(["lr", "depth"])
    assert [(float(lr), int(d), n) for lr, d, n, *_rest in rows] == [
        (lr, d, n) for lr, d, n in expected.select("lr", "depth", "n_trials").rows()
    ]
    assert [r[3] for r in rows] == pytest.approx(expected["mean"].to_list())


optuna = pytest.importorskip("optuna")


@pytest.mark.parametrize("evaluator", ["fanova", "ped-anova"])
def test_importance_ranks_what_matters_first(evaluator: str) -> None:
    rng = random.Random(0)
    trials = []
    for _ in range(40):
        hps = {"x": rng.uniform(-1, 1), "noise": rng.uniform(-1, 1), "c": rng.choice("ab")}
        score = 4 * hps["x"] ** 2 + (1.5 if hps["c"] == "b" else 0.0)
        trials.append((hps, [[score]]))
    root = asc.Root.in_memory()
    build(root, trials)
    frame = rnd_of(root).get_hyperparameter_importance(evaluator=evaluator)
    assert frame.columns == ["name", "importance"] and frame.schema["importance"] == pl.Float64
    assert frame["name"][0] == "x"
    if evaluator == "fanova":  # PED-ANOVA's top 10 % of 40 trials is too few to place c
        assert frame["name"].to_list() == ["x", "c", "noise"]
    assert math.isclose(frame["importance"].sum(), 1.0)
    assert frame["importance"].to_list() == sorted(frame["importance"].to_list(), reverse=True)


def test_importance_needs_scored_trials() -> None:
    root = asc.Root.in_memory()
    build(root, [({"x": 1.0}, [[1.0]])])
    with pytest.raises(ValueError, match="at least 2 SUCCESS trials"):
        rnd_of(root).get_hyperparameter_importance()
    with pytest.raises(ValueError, match="evaluator='anova'"):
        rnd_of(root).get_hyperparameter_importance(evaluator="anova")
