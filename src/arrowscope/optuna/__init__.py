"""Optuna behind arrowscope's rounds: samplers, pruners and importance (optional extra).

``pip install 'arrowscope[optuna]'`` brings Optuna, ``cmaes`` (for ``CmaEsSampler``)
and scipy (for ``QMCSampler``). Nothing here imports Optuna until it is used.

* :class:`OptunaSearch` -- an optimizer for ``round.with_optimizer``: any Optuna sampler
  that needs no other heavy dependency (TPE, multivariate TPE, CMA-ES, random, QMC,
  NSGA-II), fed from the round's stored trials.
* :class:`PruningCallback` -- Optuna's pruners (median, percentile, successive halving,
  Hyperband) fed from the round's curves; a pruned split raises :class:`Pruned`.
* :func:`hyperparameter_importance` -- fANOVA or PED-ANOVA over the round's successful
  trials (``round.get_hyperparameter_importance()``).

Distributions convert as :mod:`arrowscope.optuna._distributions` says; one Optuna cannot
express raises :class:`UnsupportedDistributionError`.
"""

from __future__ import annotations

from arrowscope.optuna._distributions import UnsupportedDistributionError, space_to_optuna
from arrowscope.optuna._history import StoredTrials, TrialRecord
from arrowscope.optuna._importance import hyperparameter_importance
from arrowscope.optuna._pruning import Pruned, PruningCallback
from arrowscope.optuna._search import OptunaSearch

__all__ = [
    "OptunaSearch",
    "Pruned",
    "PruningCallback",
    "StoredTrials",
    "TrialRecord",
    "UnsupportedDistributionError",
    "hyperparameter_importance",
    "space_to_optuna",
]
