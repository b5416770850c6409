"""Hyperparameter importance of a round, computed by Optuna's evaluators."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from arrowscope.hyperparams import HyperparameterSpace
from arrowscope.optuna._distributions import params_of, space_to_optuna

if TYPE_CHECKING:
    import polars as pl
    from optuna.distributions import BaseDistribution

    from arrowscope.location import ScopedLocation


class _Round(Protocol):
    """What importance reads of a ``RoundReport`` (a protocol: reports import this module)."""

    @property
    def location(self) -> ScopedLocation: ...

    def summary(
        self, metric_name: str | None = None, use_wildcards: bool = False
    ) -> Sequence[tuple[float | None, int, Any, Mapping[str, Any]]]: ...

    def is_higher_score_better(self, metric_name: str | None = None) -> bool: ...


EVALUATORS = ("fanova", "ped-anova")
# A positive numeric range wider than this ratio is searched on a log scale.
_LOG_SPAN = 100.0


def hyperparameter_importance(
    report: _Round,
    metric: str | None = None,
    evaluator: str = "fanova",
    space: HyperparameterSpace | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """How much each hyperparameter explains the score of the round's successful trials.

    The SUCCESS trials with a finite score for ``metric`` become a study, and Optuna's
    evaluator apportions the score's variance between the hyperparameters: fANOVA
    (``FanovaImportanceEvaluator``, a random forest, seeded) or PED-ANOVA
    (``PedAnovaImportanceEvaluator``: how the top 10 % of trials differ from all).
    Each hyperparameter's range is ``space``'s when given (a round opened by
    ``with_optimizer`` passes its own); otherwise it is read from the values: ints and
    floats span their observed range (log-scaled when positive and wider than a factor
    100), anything else is categorical. Hyperparameters that some trials lack, or that
    never vary, are left out.

    Args:
        report: The round.
        metric: The metric whose score is explained; None for the main metric.
        evaluator: ``"fanova"`` or ``"ped-anova"``.
        space: The space the trials were drawn from, if known.
        seed: Seeds fANOVA's forest.

    Returns:
        Columns ``name`` and ``importance`` (Float64, summing to 1), most important first.

    Raises:
        ValueError: An unknown evaluator, fewer than 2 scored trials, or no varying
            hyperparameter.
    """
    import optuna
    import polars as pl
    from optuna.trial import create_trial

    if evaluator not in EVALUATORS:
        raise ValueError(f"evaluator={evaluator!r}: expected one of {', '.join(EVALUATORS)}")
    rows = [(s, hps) for s, _t, _st, hps in report.summary(metric) if _finite(s)]
    if len(rows) < 2:
        raise ValueError(
            f"round {report.location}: importance needs at least 2 SUCCESS trials with a "
            f"finite score, it has {len(rows)}"
        )
    distributions = _distributions([hps for _s, hps in rows], space)
    if not distributions:
        raise ValueError(f"round {report.location}: no hyperparameter varies between trials")
    higher = report.is_higher_score_better(metric)
    study = optuna.create_study(direction="maximize" if higher else "minimize")
    for score, hps in rows:
        params, _missing = params_of(hps, distributions)
        study.add_trial(create_trial(params=params, distributions=distributions, value=score))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        chosen = (
            optuna.importance.FanovaImportanceEvaluator(seed=seed)
            if evaluator == "fanova"
            else optuna.importance.PedAnovaImportanceEvaluator()
        )
        found = optuna.importance.get_param_importances(study, evaluator=chosen, normalize=True)
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return pl.DataFrame(
        {"name": [n for n, _ in ranked], "importance": [float(v) for _, v in ranked]},
        schema={"name": pl.String, "importance": pl.Float64},
    )


def _finite(score: float | None) -> bool:
    return score is not None and math.isfinite(score)


def _distributions(
    trials: Sequence[Mapping[str, Any]], space: HyperparameterSpace | None
) -> dict[str, BaseDistribution]:
    """Distributions of the keys every trial has, and that take more than one value."""
    keys = set(trials[0]).intersection(*trials[1:])
    if space is not None:
        known = space_to_optuna(space)
        keys &= set(known)
    else:
        known = {}
    out: dict[str, BaseDistribution] = {}
    for key in sorted(keys):
        values = [t[key] for t in trials]
        if len({(type(v), v) for v in values}) < 2:
            continue
        dist = known.get(key) or _inferred(values)
        if all(params_of({key: v}, {key: dist})[0] for v in values):
            out[key] = dist
    return out


def _inferred(values: list[Any]) -> BaseDistribution:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numbers and all(math.isfinite(v) for v in values):
        low, high = min(values), max(values)
        log = low > 0 and high / low > _LOG_SPAN
        if all(isinstance(v, int) for v in values):
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    distinct: dict[tuple[type, Any], Any] = {}
    for value in values:
        distinct.setdefault((type(value), value), value)
    return CategoricalDistribution(sorted(distinct.values(), key=repr))
