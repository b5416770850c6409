"""StoredTrials, the incremental reader, against the views it mirrors (the oracle)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

import arrowscope as asc
from arrowscope.optuna import StoredTrials


def random_round(root: asc.Root, seed: int, n_trials: int) -> None:
    rng = random.Random(seed)
    space = asc.HyperparameterSpace({"x": asc.Uniform(0.0, 1.0)})
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        rnd.with_optimizer(asc.RandomSearch(seed), space)
        for _ in range(n_trials):
            with rnd.new_rvs_trial(continue_on_error=True) as trial:
                for _split in range(rng.randint(0, 3)):
                    with trial.new_validation_split() as split:
                        with split.managed_metric("loss", False) as m:
                            for _ in range(rng.randint(0, 4)):
                                m.add_valid_result(rng.choice([rng.random(), math.nan, math.inf]))
                        with split.managed_metric("acc", True) as m:
                            m.add_valid_result(rng.random())
                        if rng.random() < 0.2:
                            raise RuntimeError("a failing split")


@pytest.mark.parametrize("seed", [0, 1])
def test_scores_and_statuses_match_the_views(seed: int, tmp_path: Path) -> None:
    root = asc.Root.at(tmp_path / "runs")
    random_round(root, seed, 12)
    stored = StoredTrials(root.repository, "default_project", "default_client", 0)
    changed = stored.update()
    assert changed == set(range(12))
    db = asc.connect(root)
    rows = db.sql("select trial, status, score, hyperparams from trials order by trial").fetchall()
    for trial, status, score, _hps in rows:
        record = stored.trials[trial]
        assert record.status.value == status
        got = record.scores.get("loss")
        assert (got is None and score is None) or got == pytest.approx(score)
    curves = db.sql(
        "select trial, epoch, value from curves where metric = 'loss' and phase = 'valid'"
    ).fetchall()
    for trial, epoch, value in curves:
        mine = stored.trials[trial].curves["loss"][epoch - 1]
        assert (math.isnan(mine) and math.isnan(value)) or mine == pytest.approx(value)
    assert stored.main_metric_name == "loss" and stored.direction("acc") is True
    assert stored.update() == set()  # nothing changed: nothing re-read
    root.close()
