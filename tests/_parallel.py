"""What the parallel-trial tests run in workers, and how they check a round.

Workers import this module to unpickle the objective, so it lives at module level
in a module of its own (a test module would be imported again by each worker).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import arrowscope as asc
from arrowscope import TrialSplit
from arrowscope.automl import AutoML, KFoldCrossValidationSplitter

N_EPOCHS = 3
N_FOLDS = 2
SPACE = {"x": asc.Uniform(0.0, 1.0), "k": asc.RandInt(1, 1000)}
DATA = list(range(8))


def value(hps: dict[str, Any], fold: int, phase: str, epoch: int) -> float:
    """What the objective logs: a function of where it logs, so readers can check it."""
    base = (hps["x"] - 0.3) ** 2 + hps["k"] * 1e-6 + 1.0 / epoch
    return base if phase == "train" else base + 0.01 * fold


def objective(split: TrialSplit, hps: dict[str, Any], train: Any, valid: Any) -> None:
    """Logs ``mse`` train and valid values for ``split.n_epochs`` epochs."""
    fold = 0 if valid is None else DATA.index(valid[0]) * N_FOLDS // len(DATA)
    for _ in range(split.n_epochs):
        epoch = split.next_epoch()
        with split.managed_metric("mse", higher_score_is_better=False) as metric:
            metric.add_train_result(value(hps, fold, "train", epoch))
            if valid is not None:
                metric.add_valid_result(value(hps, fold, "valid", epoch))


def failing_objective(split: TrialSplit, hps: dict[str, Any], train: Any, valid: Any) -> None:
    """Raises outside any metric block, where ``continue_on_error`` does not reach."""
    raise SystemError(f"worker failed on x={hps['x']}")


def automl(directory: Path, n_trials: int, **options: object) -> AutoML:
    """An AutoML over :func:`objective`: seeded random search, no refit, no progress line."""
    return AutoML(
        objective,
        SPACE,
        root=directory,
        main_metric="mse",
        n_trials=n_trials,
        epochs=N_EPOCHS,
        optimizer=asc.RandomSearch(seed=7),
        splitter=KFoldCrossValidationSplitter(N_FOLDS),
        refit_best_trial=False,
        show_progress=False,
        **options,  # type: ignore[arg-type]
    )


def check_round(directory: Path, round_number: int, n_trials: int) -> int:
    """Check a round written by :func:`objective`; returns its best trial.

    Trial numbers are 0..n_trials-1, all SUCCESS with distinct hyperparameters;
    every value is present with the value its place implies; the best trial of
    the ``rounds`` view is the one recomputed here from the ``metrics`` view.
    """
    db = asc.connect(directory)
    where = "where project = 'default_project' and round = $round"
    trials = db.sql(
        f"select trial, status, hyperparams from trials {where} order by trial",
        params={"round": round_number},
    ).fetchall()
    assert [t[0] for t in trials] == list(range(n_trials))
    assert {t[1] for t in trials} == {"SUCCESS"}
    assert len({t[2] for t in trials}) == n_trials, "two trials got the same hyperparameters"
    hps = {t[0]: asc.HyperparameterSamples.from_json(t[2]) for t in trials}

    rows = db.sql(
        f"select trial, split, phase, epoch, value from metrics {where} and split >= 0",
        params={"round": round_number},
    ).fetchall()
    assert len(rows) == n_trials * N_FOLDS * 2 * N_EPOCHS
    assert {(t, s, p, e) for t, s, p, e, _ in rows} == {
        (t, s, p, e)
        for t in range(n_trials)
        for s in range(N_FOLDS)
        for p in ("train", "valid")
        for e in range(1, N_EPOCHS + 1)
    }
    best_of_split: dict[tuple[int, int], float] = {}
    for trial, split, phase, epoch, logged in rows:
        assert logged == value(hps[trial], split, phase, epoch)
        if phase == "valid":
            key = (trial, split)
            best_of_split[key] = min(best_of_split.get(key, logged), logged)
    per_trial: dict[int, list[float]] = defaultdict(list)
    for (trial, _split), best in best_of_split.items():
        per_trial[trial].append(best)
    scores = {t: sum(v) / len(v) for t, v in per_trial.items()}
    expected = min(scores, key=lambda t: (scores[t], t))

    ((best_trial,),) = db.sql(
        f"select best_trial from rounds {where}", params={"round": round_number}
    ).fetchall()
    assert best_trial == expected
    return expected
