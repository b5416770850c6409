"""Pruning on a synthetic curve family whose bad trials are known in advance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

optuna = pytest.importorskip("optuna")

import arrowscope as asc  # noqa: E402
from arrowscope.automl import AutoML, KFoldCrossValidationSplitter  # noqa: E402
from arrowscope.optuna import OptunaSearch, Pruned, PruningCallback  # noqa: E402

EPOCHS = 8
# Trial qualities, in order: good trials (0.1) first, then bad ones (1.0) among good ones.
QUALITIES = [0.1] * 4 + [1.0, 0.1, 1.0, 1.0, 0.1, 1.0]
BAD = {i for i, q in enumerate(QUALITIES) if q > 0.5}


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


class Sequence_:
    """Proposes the qualities in order."""

    def __init__(self) -> None:
        self.calls = 0

    def find_next_best_hyperparams(self, report: Any, space: Any) -> asc.HyperparameterSamples:
        self.calls += 1
        return asc.HyperparameterSamples({"q": QUALITIES[self.calls - 1]})


def loss(q: float, epoch: int, fold: int = 0) -> float:
    return q + 1.0 / epoch + 0.01 * fold


PRUNERS: dict[str, Callable[[], Any]] = {
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    "percentile": lambda: optuna.pruners.PercentilePruner(50.0, n_startup_trials=3),
    "successive-halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=2),
}


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_hand_written_loop_prunes_exactly_the_bad_trials(name: str, tmp_path: Path) -> None:
    pruning = PruningCallback(PRUNERS[name]())
    root = asc.Root.at(tmp_path / "runs")
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        rnd.with_optimizer(Sequence_(), asc.HyperparameterSpace({}))
        for _ in QUALITIES:
            try:
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    split.with_n_epochs(EPOCHS)
                    for _ in range(EPOCHS):
                        epoch = split.next_epoch()
                        with split.managed_metric("loss", False) as m:
                            m.add_valid_result(loss(trial.get_hyperparams()["q"], epoch))
                        pruning.check(split)
            except Pruned:
                pass
    root.close()
    db = asc.connect(tmp_path / "runs")
    rows = db.sql("select trial, status, error from splits order by trial").fetchall()
    pruned = {t for t, status, error in rows if error and error.startswith("Pruned: ")}
    assert pruned == BAD
    assert all(status == "FAILED" for t, status, _e in rows if t in BAD)
    trials = db.sql("select trial, status, score, error from trials order by trial").fetchall()
    assert [t for t, status, _s, _e in trials if status == "SUCCESS"] == sorted(
        set(range(len(QUALITIES))) - BAD
    )
    assert all(
        score is None and error.startswith("Pruned: ") for t, _s, score, error in trials if t in BAD
    )
    epochs = dict(db.sql("select trial, max(epoch) from metrics group by trial").fetchall())
    assert all(epochs[t] < EPOCHS for t in BAD) and all(
        epochs[t] == EPOCHS for t in set(epochs) - BAD
    )


def test_hyperband_never_prunes_a_good_trial() -> None:
    pruning = PruningCallback(optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS))
    root = asc.Root.in_memory()
    with root.default_project() as p, p.default_client() as c, c.new_round("loss") as rnd:
        rnd.with_optimizer(Sequence_(), asc.HyperparameterSpace({}))
        for _ in QUALITIES:
            try:
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    split.with_n_epochs(EPOCHS)
                    for _ in range(EPOCHS):
                        epoch = split.next_epoch()
                        with split.managed_metric("loss", False) as m:
                            m.add_valid_result(loss(trial.get_hyperparams()["q"], epoch))
                        pruning.check(split)
            except Pruned:
                pass
        statuses = [t.get_status().name for t in rnd]
    assert all(statuses[i] == "SUCCESS" for i in set(range(len(QUALITIES))) - BAD)


def test_automl_goes_on_after_pruned_trials_and_tpe_sees_them() -> None:
    pruning = PruningCallback(optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))

    def objective(split: asc.TrialSplit, hps: Any, train: Any, valid: Any) -> None:
        fold = split.split_number
        for _ in range(split.n_epochs or 0):
            epoch = split.next_epoch()
            with split.managed_metric("loss", higher_score_is_better=False) as m:
                m.add_valid_result(loss(hps["q"], epoch, fold))
            pruning.check(split)

    class Then:
        """The known qualities, then TPE."""

        def __init__(self) -> None:
            self.fixed = Sequence_()
            self.tpe = OptunaSearch(optuna.samplers.TPESampler(seed=0))

        def find_next_best_hyperparams(self, report: Any, space: Any) -> Any:
            if self.fixed.calls < len(QUALITIES):
                self.tpe.find_next_best_hyperparams(report, space)  # keeps it in sync
                return self.fixed.find_next_best_hyperparams(report, space)
            return self.tpe.find_next_best_hyperparams(report, space)

    optimizer = Then()
    automl = AutoML(
        objective,
        {"q": asc.Choice([0.1, 1.0])},
        root=asc.Root.in_memory(),
        main_metric="loss",
        optimizer=optimizer,
        n_trials=len(QUALITIES) + 1,
        epochs=EPOCHS,
        splitter=KFoldCrossValidationSplitter(2),
        refit_best_trial=False,
        show_progress=False,
    )
    result = automl.fit(list(range(10)))
    statuses = [t.get_status().name for t in result.report]
    assert [i for i, s in enumerate(statuses) if s == "FAILED"] == sorted(BAD)
    assert result.best_score == pytest.approx(0.1 + 1 / EPOCHS + 0.005)
    # Pruned trials reached the sampler as PRUNED, with their curves.
    pruned = [t for t in optimizer.tpe.study.trials if t.state.name == "PRUNED"]
    assert len(pruned) == len(BAD)
    assert all(t.params == {"q": 1.0} and t.intermediate_values for t in pruned)
    assert len(result.report[sorted(BAD)[0]]) == 1  # the pruned trial stopped at its first split
