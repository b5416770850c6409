"""The rows the report queries return, with names (``schemas/queries/*.sql``)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class RoundState(NamedTuple):
    """``round_state``: a round's main metric, creation time and latest clock."""

    main_metric_name: str | None
    created_at: datetime | None
    last_clock: int | None


class ScopeState(NamedTuple):
    """``scope_states``: one trial's or split's current state."""

    level: str
    trial: int
    split: int | None
    status: str | None
    hyperparams: str | None
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    record: int
    last_clock: int


class SplitValues(NamedTuple):
    """``split_values``: one metric of one split, its direction and its curves."""

    split: int
    metric: str
    higher_is_better: bool
    train: list[float]
    valid: list[float]


class SplitScore(NamedTuple):
    """``split_scores``: one metric of one split, its best valid value and epoch."""

    split: int
    metric: str
    higher_is_better: bool
    best: float | None
    n_epochs_to_best: int | None


class TrialMetric(NamedTuple):
    """``trial_metrics``: one metric of one trial, its direction and scores."""

    metric: str
    higher_is_better: bool
    score: float | None
    n_epochs_to_best: float | None


class TrialScore(NamedTuple):
    """``trial_scores``: one trial of a round with its score for one metric."""

    trial: int
    status: str | None
    hyperparams: str | None
    score: float | None
