"""arrowscope distributions as Optuna distributions, and stored values as Optuna params.

=============================  ==============================================================
arrowscope                     Optuna
=============================  ==============================================================
``Uniform(a, b)``              ``FloatDistribution(a, b)``
``LogUniform(a, b)``           ``FloatDistribution(a, b, log=True)``
``RandInt(a, b)``              ``IntDistribution(a, b)``
``Choice([...])``              ``CategoricalDistribution([...])``
``Boolean()``                  ``CategoricalDistribution([False, True])``
``Quantized(Uniform, step)``   ``FloatDistribution(min, max, step=step)`` (its extreme
                               multiples of ``step``)
``Normal`` / ``LogNormal``     with both bounds: ``FloatDistribution(low, high)`` (``log=True``
                               for ``LogNormal``). Optuna's samplers have no prior shape, so
                               the bell is dropped and only the range is searched. Without
                               both bounds: refused (Optuna needs a finite range)
a fixed value                  not searched: copied into every proposal
=============================  ==============================================================

Also refused, with :class:`UnsupportedDistributionError` naming the key: ``Quantized`` over
anything but ``Uniform`` (Optuna has no stepped log or normal range), and a ``Choice`` that
holds both ``True`` and ``1`` (or ``False`` and ``0``), which Optuna cannot tell apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from arrowscope.errors import ArrowscopeError
from arrowscope.hyperparams import (
    Boolean,
    Choice,
    HyperparameterSpace,
    LogNormal,
    LogUniform,
    Normal,
    Quantized,
    RandInt,
    Uniform,
)

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


class UnsupportedDistributionError(ArrowscopeError, ValueError):
    """An arrowscope distribution that Optuna cannot express."""

    def __init__(self, key: str, dist: object, reason: str) -> None:
        self.key = key
        self.distribution = dist
        super().__init__(f"hyperparameter {key!r}: {dist!r} cannot be searched by Optuna: {reason}")


def to_optuna(key: str, dist: object) -> BaseDistribution | None:
    """The Optuna distribution of one entry of a space; ``None`` for a fixed value.

    Raises:
        UnsupportedDistributionError: See the module docstring.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dist, Uniform):
        return FloatDistribution(dist.low, dist.high)
    if isinstance(dist, LogUniform):
        return FloatDistribution(dist.min, dist.max, log=True)
    if isinstance(dist, RandInt):
        return IntDistribution(dist.min, dist.max)
    if isinstance(dist, Boolean):
        return CategoricalDistribution([False, True])
    if isinstance(dist, Choice):
        _check_choice(key, dist)
        return CategoricalDistribution(list(dist.values()))
    if isinstance(dist, Quantized):
        if not isinstance(dist.dist, Uniform):
            raise UnsupportedDistributionError(
                key,
                dist,
                "Optuna steps only linear ranges; use Quantized(Uniform(low, high), step), "
                "or a Choice of the values you want",
            )
        low, high = dist.min, dist.max
        assert low is not None and high is not None  # a Uniform is bounded
        if low == high:
            return CategoricalDistribution([low])
        return FloatDistribution(low, high, step=dist.step)
    if isinstance(dist, (Normal, LogNormal)):
        if dist.low is None or dist.high is None:
            raise UnsupportedDistributionError(
                key,
                dist,
                "Optuna searches a finite range; give both bounds "
                f"({type(dist).__name__}(..., low=..., high=...)), whose range is then "
                "searched without the bell shape",
            )
        return FloatDistribution(dist.low, dist.high, log=isinstance(dist, LogNormal))
    return None


def _check_choice(key: str, dist: Choice) -> None:
    values = dist.values()
    bools = [v for v in values if isinstance(v, bool)]
    numbers = [v for v in values if not isinstance(v, bool) and isinstance(v, (int, float))]
    clashes = [b for b in bools if any(n == b for n in numbers)]
    if clashes:
        raise UnsupportedDistributionError(
            key,
            dist,
            f"it holds {clashes[0]!r} and {int(clashes[0])!r}, which Optuna cannot tell "
            "apart; use strings such as 'true' and '1'",
        )


def space_to_optuna(space: HyperparameterSpace) -> dict[str, BaseDistribution]:
    """Every searched key of ``space`` with its Optuna distribution (fixed values left out).

    Raises:
        UnsupportedDistributionError: A distribution Optuna cannot express.
    """
    out: dict[str, BaseDistribution] = {}
    for key, dist in space.items():
        converted = to_optuna(key, dist)
        if converted is not None:
            out[key] = converted
    return out


def fixed_values(space: HyperparameterSpace) -> dict[str, Any]:
    """The keys of ``space`` that hold a fixed value instead of a distribution."""
    return {key: value for key, value in space.items() if to_optuna(key, value) is None}


MISSING: Any = object()  # what param_value returns for a value outside the distribution


def param_value(dist: BaseDistribution, value: object) -> Any:
    """A stored hyperparameter as a value of ``dist``, or :data:`MISSING` when it is not one."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dist, CategoricalDistribution):
        for choice in dist.choices:
            if type(choice) is type(value) and choice == value:
                return choice
            both_numbers = _is_number(choice) and _is_number(value)
            if both_numbers and float(choice) == float(value):  # type: ignore[arg-type]
                return choice
        return MISSING
    if not _is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    if isinstance(dist, IntDistribution):
        if number != int(number):
            return MISSING
        converted: Any = int(number)
    elif isinstance(dist, FloatDistribution):
        converted = number
    else:
        return MISSING
    return converted if dist._contains(dist.to_internal_repr(converted)) else MISSING


def params_of(
    flat: Mapping[str, Any], distributions: Mapping[str, BaseDistribution]
) -> tuple[dict[str, Any], list[str]]:
    """The Optuna params of stored hyperparameters, and the searched keys left out.

    A key is left out when the trial has no value for it or the value is not in its
    current distribution (the space changed since the trial ran).
    """
    params: dict[str, Any] = {}
    left_out: list[str] = []
    for key, dist in distributions.items():
        value = param_value(dist, flat[key]) if key in flat else MISSING
        if value is MISSING:
            left_out.append(key)
        else:
            params[key] = value
    return params, left_out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
