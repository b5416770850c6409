"""``AutoMLResult``: what a search produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arrowscope.hyperparams import HyperparameterSamples
from arrowscope.reports import RoundReport

__all__ = ["AutoMLResult"]


@dataclass(frozen=True)
class AutoMLResult:
    """What a :meth:`AutoML.fit` produced.

    Attributes:
        round_number: The round the trials were written to.
        best_trial_number: The best trial (SUCCESS with a score; ties to the lowest id),
            or None when no trial qualifies.
        best_score: Its score for the main metric (mean over its splits), or None.
        best_hyperparams: Its hyperparameters (empty when there is no best trial).
        refitted: The refitted pipeline, or what the objective's refit call returned;
            None without a refit.
        report: A read-only report of the round.
    """

    round_number: int
    best_trial_number: int | None
    best_score: float | None
    best_hyperparams: HyperparameterSamples
    refitted: Any
    report: RoundReport
