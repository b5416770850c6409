"""The benchmark workload and its reference answers, in plain Python.

A workload ``W(T, S, E, M)`` is one round of ``T`` trials. Each trial has three
hyperparameters (``lr`` float, ``depth`` int, ``act`` one of ``relu``/``tanh``/``gelu``)
and ``S`` validation splits; each split runs ``E`` epochs and, at every epoch, logs
one train and one valid value for each of the ``M`` metrics ``metric0`` …
``metric{M-1}``: ``T·S·E·M·2`` values in all. Every metric is "lower is better";
``metric0`` is the round's main metric.

Values come from ``random.Random`` seeded per trial, so every driver logs exactly
the same numbers in the same order, whatever else it does with the generator.
Curves decrease towards a per-trial floor, with noise, so best values are not
always at the last epoch.

The reference answers (``reference``) are what every tracker must return:

* Q1: the best trial: the lowest mean, over its splits, of each split's best
  (minimum) valid value of ``metric0``; ties go to the lowest trial number.
* Q2: the learning curve of one trial (``Workload.curve_trial``): per epoch
  (1-based), the mean over splits of the train and of the valid value of ``metric0``.
* Q3: every trial's score (as in Q1) with its hyperparameters.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

ACTIVATIONS = ("relu", "tanh", "gelu")
MAIN_METRIC = "metric0"

Hyperparams = dict[str, float | int | str]
#: One trial's values: ``values[split][metric][epoch]`` (epoch index 0 is epoch 1).
SplitValues = list[list[list[float]]]
#: A learning curve: ``(epoch, mean train value or None, mean valid value)`` per epoch.
CurvePoint = tuple[int, float | None, float]


@dataclass(frozen=True)
class Workload:
    """The shape of one benchmark round.

    Attributes:
        T: number of trials.
        S: validation splits per trial.
        E: epochs per split.
        M: metrics per epoch (each logs one train and one valid value).
        seed: base seed of the value generator.
    """

    T: int
    S: int
    E: int
    M: int
    seed: int = 0

    @property
    def n_values(self) -> int:
        """Number of values the workload logs (``T·S·E·M·2``)."""
        return self.T * self.S * self.E * self.M * 2

    @property
    def metric_names(self) -> list[str]:
        """``["metric0", …, "metric{M-1}"]``."""
        return [f"metric{m}" for m in range(self.M)]

    @property
    def curve_trial(self) -> int:
        """The trial whose learning curve Q2 asks for."""
        return self.T // 2


@dataclass(frozen=True)
class TrialData:
    """Everything one trial logs.

    Attributes:
        number: trial number, 0-based, dense.
        hyperparams: ``lr``, ``depth`` and ``act``.
        train: train values, ``train[split][metric][epoch]``.
        valid: valid values, same layout.
    """

    number: int
    hyperparams: Hyperparams
    train: SplitValues
    valid: SplitValues


@dataclass(frozen=True)
class ScoreRow:
    """One trial's score and hyperparameters (a row of Q3)."""

    trial: int
    score: float
    hyperparams: Hyperparams


@dataclass(frozen=True)
class Reference:
    """The answers every driver's queries must match."""

    best_trial: int
    best_score: float
    curve_trial: int
    curve: list[CurvePoint]
    scores: list[ScoreRow]


def _curve(rng: random.Random, n_epochs: int, start: float, floor: float) -> list[float]:
    """A noisy exponential decay from ``start`` towards ``floor``."""
    rate = rng.uniform(0.05, 0.4)
    noise = 0.02 * (start - floor)
    return [
        floor + (start - floor) * math.exp(-rate * epoch) + rng.gauss(0.0, noise)
        for epoch in range(1, n_epochs + 1)
    ]


def _hyperparams(rng: random.Random) -> Hyperparams:
    """Draw ``lr`` (log-uniform), ``depth`` and ``act``."""
    return {
        "lr": 10.0 ** rng.uniform(-4.0, -1.0),
        "depth": rng.randint(1, 8),
        "act": rng.choice(ACTIVATIONS),
    }


def make_trial(workload: Workload, number: int) -> TrialData:
    """Generate trial ``number`` of ``workload`` (deterministic, independent of other trials)."""
    rng = random.Random(workload.seed * 1_000_003 + number)
    hyperparams = _hyperparams(rng)
    quality = rng.uniform(0.05, 1.0)
    train: SplitValues = []
    valid: SplitValues = []
    for _ in range(workload.S):
        split_floor = quality * rng.uniform(0.9, 1.1)
        train.append([])
        valid.append([])
        for metric in range(workload.M):
            start = (metric + 1) * rng.uniform(2.0, 3.0)
            floor = (metric + 1) * split_floor
            train[-1].append(_curve(rng, workload.E, start, floor * 0.8))
            valid[-1].append(_curve(rng, workload.E, start * 1.05, floor))
    return TrialData(number, hyperparams, train, valid)


def iter_trials(T: int, S: int, E: int, M: int, seed: int = 0) -> Iterator[TrialData]:
    """Yield the trials of ``W(T, S, E, M)`` in trial order."""
    workload = Workload(T, S, E, M, seed)
    for number in range(T):
        yield make_trial(workload, number)


def trial_score(trial: TrialData) -> float:
    """Mean over splits of each split's best (minimum) valid value of ``metric0``."""
    bests = [min(split[0]) for split in trial.valid]
    return sum(bests) / len(bests)


def best_trial(scores: Sequence[ScoreRow]) -> ScoreRow:
    """The row with the lowest score; ties go to the lowest trial number."""
    return min(scores, key=lambda row: (row.score, row.trial))


def learning_curve(trial: TrialData) -> list[CurvePoint]:
    """Per epoch, the mean over splits of the train and valid values of ``metric0``."""
    n_splits = len(trial.valid)
    n_epochs = len(trial.valid[0][0])
    return [
        (
            epoch + 1,
            sum(split[0][epoch] for split in trial.train) / n_splits,
            sum(split[0][epoch] for split in trial.valid) / n_splits,
        )
        for epoch in range(n_epochs)
    ]


def reference(workload: Workload, trials: Sequence[TrialData] | None = None) -> Reference:
    """Compute Q1, Q2 and Q3 for ``workload`` (from ``trials`` if already generated)."""
    if trials is None:
        trials = [make_trial(workload, number) for number in range(workload.T)]
    scores = [ScoreRow(t.number, trial_score(t), dict(t.hyperparams)) for t in trials]
    best = best_trial(scores)
    return Reference(
        best_trial=best.trial,
        best_score=best.score,
        curve_trial=workload.curve_trial,
        curve=learning_curve(trials[workload.curve_trial]),
        scores=scores,
    )
