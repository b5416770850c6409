"""Data for the UI tests, written through the scope API (also a script for other processes).

``build(path)`` writes project ``vision``:

* client ``resnet`` round 0: 12 trials × 3 splits × 8 epochs of ``acc``
  (higher is better, train and valid); a hyperparameter ``act`` one of whose
  values is hostile HTML, ``lr`` log-uniform, ``depth`` an integer, ``opt``
  constant; trials 4 and 9 fail with hostile text in their error;
* client ``resnet`` round 1: 4 trials (to compare with round 0);
* client ``live``: one round of 2 trials, which ``python _ui_data.py add PATH``
  grows by one trial from another process.

``EXPECTED`` holds what the pages must show, computed from the same numbers.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import arrowscope as asc

HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_ERROR = "<script>alert(2)</script> diverged"
PROJECT, CLIENT, LIVE = "vision", "resnet", "live"
N_TRIALS, N_SPLITS, N_EPOCHS = 12, 3, 8
FAILING = (4, 9)


def _space() -> asc.HyperparameterSpace:
    return asc.HyperparameterSpace(
        {
            "lr": asc.LogUniform(1e-4, 1e-1),
            "depth": asc.RandInt(1, 8),
            "act": asc.Choice(["relu", "tanh", HOSTILE]),
            "opt": "adam",
        }
    )


def _value(trial: int, split: int, epoch: int, phase: str) -> float:
    """A learning curve rising towards a level that depends on the trial."""
    level = 0.5 + 0.03 * ((trial * 7) % 11)
    noise = 0.004 * ((trial + 3 * split + 5 * epoch) % 5)
    return level * (1 - 0.5**epoch) + noise + (0.05 if phase == "train" else 0.0)


def _trial(rnd: asc.Round, fail: bool) -> None:
    with rnd.new_rvs_trial() as trial:
        number = int(trial.get_id() or 0)
        for s in range(N_SPLITS):
            with trial.new_validation_split() as split:
                split.with_n_epochs(N_EPOCHS)
                for e in range(1, N_EPOCHS + 1):
                    split.next_epoch()
                    with split.managed_metric("acc", higher_score_is_better=True) as m:
                        m.add_train_result(_value(number, s, e, "train"))
                        m.add_valid_result(_value(number, s, e, "valid"))
        if fail:
            raise ValueError(HOSTILE_ERROR)


def _round(client: asc.Client, n_trials: int, seed: int, failing: tuple[int, ...] = ()) -> None:
    with client.new_round(main_metric_name="acc") as rnd:
        rnd.with_optimizer(asc.RandomSearch(seed=seed), _space())
        for i in range(n_trials):
            with contextlib.suppress(ValueError):  # a failing trial is recorded FAILED
                _trial(rnd, i in failing)


def build(path: Path) -> None:
    """Write the test data into ``path`` (see the module docstring)."""
    root = asc.Root.at(path)
    with root.get_project(PROJECT) as project:
        with project.get_client(CLIENT) as client:
            _round(client, N_TRIALS, seed=0, failing=FAILING)
            _round(client, 4, seed=1)
        with project.get_client(LIVE) as client:
            _round(client, 2, seed=2)
    root.close()


def add_trial(path: Path) -> None:
    """Add one trial to the last round of client ``live``."""
    root = asc.Root.at(path)
    with root.get_project(PROJECT) as project, project.get_client(LIVE) as client:
        with client.resume_last_round() as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=3), _space())
            _trial(rnd, False)
    root.close()


def best_valid_score(trial: int) -> float:
    """The trial's score: the mean over splits of its best validation value."""
    per_split = [
        max(_value(trial, s, e, "valid") for e in range(1, N_EPOCHS + 1)) for s in range(N_SPLITS)
    ]
    return sum(per_split) / len(per_split)


def ranking() -> list[int]:
    """Round 0's successful trials, best first (ties: lowest trial)."""
    ok = [t for t in range(N_TRIALS) if t not in FAILING]
    return sorted(ok, key=lambda t: (-best_valid_score(t), t))


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    {"build": build, "add": add_trial}[command](where)
