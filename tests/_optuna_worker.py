"""A process running (or resuming) a round searched by OptunaSearch; for test_optuna_search.

``python tests/_optuna_worker.py DIR N_TRIALS`` resumes the last round of DIR (creating
round 0), runs N_TRIALS trials of a 2-D quadratic with a seeded TPE, then proposes once
more and prints, as JSON, the study's trials (state, value, params) and the proposal.
"""

from __future__ import annotations

import json
import sys

import optuna

import arrowscope as asc
from arrowscope.optuna import OptunaSearch

SPACE = asc.HyperparameterSpace({"x": asc.Uniform(-2.0, 2.0), "k": asc.RandInt(0, 5)})


def loss(hps: asc.HyperparameterSamples) -> float:
    return float((hps["x"] - 0.5) ** 2 + (hps["k"] - 3) ** 2)


def main(directory: str, n_trials: int, seed: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = OptunaSearch(optuna.samplers.TPESampler(seed=seed, n_startup_trials=4))
    root = asc.Root.at(directory)
    with root.default_project() as project, project.default_client() as client:
        with client.optim_round(False, "loss") as rnd:
            rnd.with_optimizer(search, SPACE)
            for _ in range(n_trials):
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("loss", higher_score_is_better=False) as metric:
                        metric.add_valid_result(loss(trial.get_hyperparams()))
            proposal = search.find_next_best_hyperparams(rnd, SPACE)
    root.close()
    trials = [
        {"state": t.state.name, "value": t.value, "params": t.params} for t in search.study.trials
    ]
    print(json.dumps({"trials": trials, "proposal": dict(proposal)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
