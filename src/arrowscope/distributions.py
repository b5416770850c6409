"""Hyperparameter distributions: plain, immutable data, standard library only.

Every distribution is a frozen dataclass with ``rvs(rng)`` (``rng`` is a
``random.Random`` or a numpy Generator), ``contains(value)``, ``is_discrete``,
``to_json()`` (read back by :func:`distribution_from_json`) and ``kind`` (its JSON
type name). Discrete ones (``RandInt``, ``Choice``, ``Boolean``) list ``values()``;
numeric ones give ``min``/``max`` (``None`` when unbounded), ``mean`` and ``std``.
Constructors raise ``ValueError`` (``TypeError`` for a wrong type) naming the value.

Example:
    >>> import random
    >>> RandInt(2, 4).rvs(random.Random(0)) in (2, 3, 4)
    True
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from statistics import NormalDist
from typing import Any, ClassVar, Protocol, TypeAlias

from arrowscope.values import check_int64, check_reserved_text, check_text, exact_float

SEPARATOR = "__"
Scalar: TypeAlias = "int | float | bool | str | None"

_STD_NORMAL = NormalDist()
_TOL = 1e-9
# inv_cdf needs 0 < p < 1; a draw of exactly 0.0 is moved to the smallest positive float.
_P_MIN = math.ulp(0.0)
_P_MAX = math.nextafter(1.0, 0.0)


class RandomSource(Protocol):
    """Anything with ``random() -> float`` in [0, 1): ``random.Random`` or a numpy Generator."""

    def random(self) -> float: ...


def _real(owner: object, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner!r}: {name}={value!r} must be an int or a float")
    if not math.isfinite(value):
        raise ValueError(f"{owner!r}: {name}={value!r} must be finite")
    return float(value)


def _check_interval(owner: object, low: object, high: object) -> None:
    if _real(owner, "low", low) >= _real(owner, "high", high):
        raise ValueError(f"{owner!r}: low must be < high")


def _finite(value: object) -> float | None:
    """``value`` as a float if it is a finite real number (bools excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _in_bounds(value: object, low: float | None, high: float | None) -> bool:
    x = _finite(value)
    return x is not None and (low is None or x >= low) and (high is None or x <= high)


def value_key(value: object) -> tuple[bool, object]:
    """A hashable identity that keeps ``True`` apart from ``1`` (but ``1 == 1.0``)."""
    return (isinstance(value, bool), value)


@dataclass(frozen=True)
class Uniform:
    """Continuous uniform on ``[low, high]``."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"
    is_discrete: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_interval(self, self.low, self.high)

    def rvs(self, rng: RandomSource) -> float:
        return self.low + (self.high - self.low) * rng.random()

    def contains(self, value: object) -> bool:
        return _in_bounds(value, self.low, self.high)

    @property
    def min(self) -> float:
        return self.low

    @property
    def max(self) -> float:
        return self.high

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)


@dataclass(frozen=True)
class LogUniform:
    """``exp(Uniform(log(low), log(high)))``; needs ``0 < low < high``."""

    low: float
    high: float
    kind: ClassVar[str] = "log_uniform"
    is_discrete: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_interval(self, self.low, self.high)
        if self.low <= 0:
            raise ValueError(f"{self!r}: low must be > 0")

    def rvs(self, rng: RandomSource) -> float:
        log_low, log_high = math.log(self.low), math.log(self.high)
        x = math.exp(log_low + (log_high - log_low) * rng.random())
        return min(max(x, self.low), self.high)

    def contains(self, value: object) -> bool:
        return _in_bounds(value, self.low, self.high)

    @property
    def min(self) -> float:
        return self.low

    @property
    def max(self) -> float:
        return self.high

    @property
    def mean(self) -> float:
        return (self.high - self.low) / math.log(self.high / self.low)

    @property
    def std(self) -> float:
        second = (self.high**2 - self.low**2) / (2 * math.log(self.high / self.low))
        return math.sqrt(max(second - self.mean**2, 0.0))

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)


@dataclass(frozen=True)
class RandInt:
    """A uniform integer in ``[low, high]``, both ends included."""

    low: int
    high: int
    kind: ClassVar[str] = "rand_int"
    is_discrete: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name, bound in (("low", self.low), ("high", self.high)):
            if isinstance(bound, bool) or not isinstance(bound, numbers.Integral):
                raise TypeError(f"{self!r}: {name}={bound!r} must be an int")
        if self.low > self.high:
            raise ValueError(f"{self!r}: low must be <= high")

    def rvs(self, rng: RandomSource) -> int:
        n = self.high - self.low + 1
        return self.low + min(int(rng.random() * n), n - 1)

    def contains(self, value: object) -> bool:
        x = _finite(value)
        return x is not None and x.is_integer() and self.low <= x <= self.high

    def values(self) -> range:
        return range(self.low, self.high + 1)

    @property
    def min(self) -> int:
        return self.low

    @property
    def max(self) -> int:
        return self.high

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def std(self) -> float:
        return math.sqrt(((self.high - self.low + 1) ** 2 - 1) / 12)

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)


@dataclass(frozen=True, init=False, repr=False)
class Choice:
    """One of a fixed list of scalars, each equally likely. ``True`` and ``1`` are distinct."""

    choices: tuple[Scalar, ...]
    kind: ClassVar[str] = "choice"
    is_discrete: ClassVar[bool] = True

    def __init__(self, values: Iterable[Scalar]) -> None:
        if isinstance(values, (str, bytes, Mapping)):
            raise TypeError(f"Choice({values!r}): values must be a list or tuple of scalars")
        items = tuple(as_scalar(f"Choice value #{i}", v) for i, v in enumerate(values))
        object.__setattr__(self, "choices", items)
        if not items:
            raise ValueError(f"{self!r}: values must hold at least one scalar")
        if len({value_key(v) for v in items}) != len(items):
            raise ValueError(f"{self!r}: values must be distinct")

    def __repr__(self) -> str:
        return f"Choice({list(self.choices)!r})"

    def rvs(self, rng: RandomSource) -> Scalar:
        n = len(self.choices)
        return self.choices[min(int(rng.random() * n), n - 1)]

    def contains(self, value: object) -> bool:
        try:
            return value_key(value) in {value_key(v) for v in self.choices}
        except TypeError:  # unhashable value
            return False

    def values(self) -> tuple[Scalar, ...]:
        return self.choices

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "values": list(self.choices)}


@dataclass(frozen=True)
class Boolean:
    """``False`` or ``True``, each with probability 1/2."""

    kind: ClassVar[str] = "boolean"
    is_discrete: ClassVar[bool] = True

    def rvs(self, rng: RandomSource) -> bool:
        return rng.random() < 0.5

    def contains(self, value: object) -> bool:
        return isinstance(value, bool)

    def values(self) -> tuple[bool, bool]:
        return (False, True)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True)
class _Gaussian:
    """``N(mu, sigma)`` restricted to ``[lo, hi]``; either bound may be infinite."""

    mu: float
    sigma: float
    lo: float
    hi: float

    @classmethod
    def checked(
        cls, owner: object, mu: object, sigma: object, bounds: tuple[float, float], std_name: str
    ) -> _Gaussian:
        mean_name = std_name.replace("std", "mean")
        g = cls(_real(owner, mean_name, mu), _real(owner, std_name, sigma), *bounds)
        if g.sigma <= 0:
            raise ValueError(f"{owner!r}: {std_name} must be > 0")
        if g.lo >= g.hi:
            raise ValueError(f"{owner!r}: low must be < high")
        if g.mass <= 0:
            raise ValueError(f"{owner!r}: the bounds hold no probability mass; widen them")
        return g

    @property
    def a(self) -> float:
        return (self.lo - self.mu) / self.sigma

    @property
    def b(self) -> float:
        return (self.hi - self.mu) / self.sigma

    @property
    def mass(self) -> float:
        return _STD_NORMAL.cdf(self.b) - _STD_NORMAL.cdf(self.a)

    def draw(self, rng: RandomSource) -> float:
        """Invert the CDF on the allowed range, so that tight bounds never make it loop."""
        lo, hi = _STD_NORMAL.cdf(self.a), _STD_NORMAL.cdf(self.b)
        p = min(max(lo + (hi - lo) * rng.random(), _P_MIN), _P_MAX)
        return min(max(self.mu + self.sigma * _STD_NORMAL.inv_cdf(p), self.lo), self.hi)

    def mean(self) -> float:
        return (
            self.mu + self.sigma * (_STD_NORMAL.pdf(self.a) - _STD_NORMAL.pdf(self.b)) / self.mass
        )

    def std(self) -> float:
        shift = (_STD_NORMAL.pdf(self.a) - _STD_NORMAL.pdf(self.b)) / self.mass
        var = 1 + (_xpdf(self.a) - _xpdf(self.b)) / self.mass - shift**2
        return self.sigma * math.sqrt(max(var, 0.0))

    def exp_moment(self, k: int) -> float:
        """``E[exp(k X)]``, the k-th moment of the matching log-normal; ``inf`` on overflow."""
        log_scale = k * self.mu + (k * self.sigma) ** 2 / 2
        if log_scale > 700:
            return math.inf
        ks = k * self.sigma
        tail = _STD_NORMAL.cdf(self.b - ks) - _STD_NORMAL.cdf(self.a - ks)
        return math.exp(log_scale) * tail / self.mass


def _xpdf(z: float) -> float:
    return 0.0 if math.isinf(z) else z * _STD_NORMAL.pdf(z)


def _bound(owner: object, name: str, value: float | None, default: float) -> float:
    return default if value is None else _real(owner, name, value)


@dataclass(frozen=True, init=False, repr=False)
class Normal:
    """Gaussian ``N(mean, std)``, truncated to ``[low, high]`` when bounds are given.

    ``mean`` and ``std`` (the properties) are those of the truncated distribution; the
    constructor's arguments are kept as ``loc`` and ``scale``.
    """

    loc: float
    scale: float
    low: float | None
    high: float | None
    _g: _Gaussian = field(repr=False, compare=False)
    kind: ClassVar[str] = "normal"
    is_discrete: ClassVar[bool] = False

    def __init__(
        self, mean: float, std: float, low: float | None = None, high: float | None = None
    ) -> None:
        for name, value in (("loc", mean), ("scale", std), ("low", low), ("high", high)):
            object.__setattr__(self, name, value)
        bounds = (_bound(self, "low", low, -math.inf), _bound(self, "high", high, math.inf))
        object.__setattr__(self, "_g", _Gaussian.checked(self, mean, std, bounds, "std"))

    def __repr__(self) -> str:
        return (
            f"Normal(mean={self.loc!r}, std={self.scale!r}, low={self.low!r}, high={self.high!r})"
        )

    def rvs(self, rng: RandomSource) -> float:
        return self._g.draw(rng)

    def contains(self, value: object) -> bool:
        return _in_bounds(value, self.low, self.high)

    @property
    def min(self) -> float | None:
        return self.low

    @property
    def max(self) -> float | None:
        return self.high

    @property
    def mean(self) -> float:
        return self._g.mean()

    @property
    def std(self) -> float:
        return self._g.std()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "mean": self.loc,
            "std": self.scale,
            "low": self.low,
            "high": self.high,
        }


@dataclass(frozen=True)
class LogNormal:
    """``exp(N(log_mean, log_std))``, truncated to ``[low, high]`` (``0 < low``) when given."""

    log_mean: float
    log_std: float
    low: float | None = None
    high: float | None = None
    _g: _Gaussian = field(init=False, repr=False, compare=False)
    kind: ClassVar[str] = "log_normal"
    is_discrete: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name, value in (("low", self.low), ("high", self.high)):
            if value is not None and _real(self, name, value) <= 0:
                raise ValueError(f"{self!r}: {name} must be > 0")
        lo = -math.inf if self.low is None else math.log(self.low)
        hi = math.inf if self.high is None else math.log(self.high)
        object.__setattr__(
            self, "_g", _Gaussian.checked(self, self.log_mean, self.log_std, (lo, hi), "log_std")
        )

    def rvs(self, rng: RandomSource) -> float:
        x = math.exp(min(self._g.draw(rng), 709.0))
        return min(max(x, self.low or 0.0), math.inf if self.high is None else self.high)

    def contains(self, value: object) -> bool:
        return _in_bounds(value, self.low, self.high) and (_finite(value) or 0.0) > 0

    @property
    def min(self) -> float:
        """``low``, or 0 (the infimum of the support, itself excluded) when unbounded."""
        return 0.0 if self.low is None else self.low

    @property
    def max(self) -> float | None:
        return self.high

    @property
    def mean(self) -> float:
        return self._g.exp_moment(1)

    @property
    def std(self) -> float:
        mean, second = self._g.exp_moment(1), self._g.exp_moment(2)
        if not (math.isfinite(mean) and math.isfinite(second)):
            return math.inf
        return math.sqrt(max(second - mean**2, 0.0))

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)


_Quantizable: TypeAlias = "Uniform | LogUniform | Normal | LogNormal"


@dataclass(frozen=True)
class Quantized:
    """A continuous draw rounded to the nearest multiple of ``step`` inside ``dist``'s range.

    ``mean`` and ``std`` are those of ``dist``; ``min``/``max`` are its extreme multiples.
    """

    dist: _Quantizable
    step: float
    kind: ClassVar[str] = "quantized"
    is_discrete: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.dist, (Uniform, LogUniform, Normal, LogNormal)):
            raise TypeError(
                f"{self!r}: dist must be a Uniform, LogUniform, Normal or LogNormal, "
                f"not {type(self.dist).__name__}"
            )
        if _real(self, "step", self.step) <= 0:
            raise ValueError(f"{self!r}: step must be > 0")
        k_lo, k_hi = self._k_range()
        if k_lo > k_hi:
            raise ValueError(
                f"{self!r}: no multiple of step lies in [{self.dist.min}, {self.dist.max}]"
            )

    def _at(self, k: float) -> float:
        decimals = max(0, -int(Decimal(repr(float(self.step))).as_tuple().exponent))
        return round(k * self.step, decimals)

    def _k_range(self) -> tuple[float, float]:
        """The smallest and largest k such that ``k * step`` is in ``dist`` (may be infinite)."""
        lo, hi = self.dist.min, self.dist.max
        k_lo = -math.inf if lo is None else float(math.ceil(lo / self.step - _TOL))
        k_hi = math.inf if hi is None else float(math.floor(hi / self.step + _TOL))
        # Float error near the bounds can leave an end multiple just outside: step inward.
        for _ in range(2):
            if math.isfinite(k_lo) and k_lo <= k_hi and not self.dist.contains(self._at(k_lo)):
                k_lo += 1
            if math.isfinite(k_hi) and k_lo <= k_hi and not self.dist.contains(self._at(k_hi)):
                k_hi -= 1
        return k_lo, k_hi

    def quantize(self, x: float) -> float:
        """Return the multiple of ``step`` nearest to ``x`` that ``dist`` contains."""
        k_lo, k_hi = self._k_range()
        return self._at(min(max(float(round(x / self.step)), k_lo), k_hi))

    def rvs(self, rng: RandomSource) -> float:
        return self.quantize(self.dist.rvs(rng))

    def contains(self, value: object) -> bool:
        x = _finite(value)
        if x is None or not self.dist.contains(x):
            return False
        k = x / self.step
        return abs(k - round(k)) <= _TOL * max(1.0, abs(k))

    @property
    def min(self) -> float | None:
        k_lo = self._k_range()[0]
        return self._at(k_lo) if math.isfinite(k_lo) else None

    @property
    def max(self) -> float | None:
        k_hi = self._k_range()[1]
        return self._at(k_hi) if math.isfinite(k_hi) else None

    @property
    def mean(self) -> float:
        return self.dist.mean

    @property
    def std(self) -> float:
        return self.dist.std

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "dist": self.dist.to_json(), "step": self.step}


ContinuousDistribution: TypeAlias = "Uniform | LogUniform | Normal | LogNormal | Quantized"
DiscreteDistribution: TypeAlias = "RandInt | Choice | Boolean"
Distribution: TypeAlias = "ContinuousDistribution | DiscreteDistribution"
DISTRIBUTION_TYPES = (Uniform, LogUniform, RandInt, Choice, Boolean, Normal, LogNormal, Quantized)


def _to_json(dist: Uniform | LogUniform | RandInt | LogNormal) -> dict[str, Any]:
    params = {f.name: getattr(dist, f.name) for f in fields(dist) if not f.name.startswith("_")}
    return {"type": dist.kind, **params}


def _quantized_from_json(dist: Mapping[str, Any], step: float) -> Quantized:
    inner = distribution_from_json(dist)
    if not isinstance(inner, (Uniform, LogUniform, Normal, LogNormal)):
        raise ValueError(
            f"quantized: dist {dict(dist)!r} must be uniform, log_uniform, normal or log_normal"
        )
    return Quantized(inner, step)


_DECODERS: dict[str, Callable[..., Distribution]] = {
    "uniform": Uniform,
    "log_uniform": LogUniform,
    "rand_int": RandInt,
    "choice": Choice,
    "boolean": Boolean,
    "normal": Normal,
    "log_normal": LogNormal,
    "quantized": _quantized_from_json,
}


def distribution_from_json(data: Mapping[str, Any]) -> Distribution:
    """Rebuild a distribution from its ``to_json()`` dict.

    Args:
        data: A mapping with a ``"type"`` field and the distribution's parameters.

    Returns:
        The distribution, equal to the one that produced ``data``.

    Raises:
        ValueError: Unknown ``type``, missing or unexpected parameters, or invalid values.
    """
    if not isinstance(data, Mapping) or "type" not in data:
        raise ValueError(
            f"a distribution's JSON must be an object with a 'type' field, got {data!r}"
        )
    params = {k: v for k, v in data.items() if k != "type"}
    constructor = _DECODERS.get(data["type"]) if isinstance(data["type"], str) else None
    if constructor is None:
        raise ValueError(
            f"unknown distribution type {data['type']!r}; allowed: {sorted(_DECODERS)}"
        )
    try:
        inspect.signature(constructor).bind(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for distribution type {data['type']!r}: {exc}") from exc
    return constructor(**params)


def as_scalar(where: str, value: object) -> Scalar:
    """Return ``value`` as a builtin scalar that is stored and read back unchanged.

    numpy numbers become int, float or bool; exact Fractions and Decimals become
    float (see :mod:`arrowscope.values` for the rules).

    Raises:
        TypeError: ``value`` is not an int, float, bool, str or None.
        ValueError: An int outside the signed 64-bit range, a number with no exact
            float64 value, a str with a lone surrogate, or one of the strings
            ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (reserved for the floats).
    """
    if value is None or isinstance(value, bool):
        return value
    if getattr(getattr(value, "dtype", None), "kind", None) == "b":
        return bool(value)
    if isinstance(value, str):
        text = check_text(str(value), f"{where}: the value")
        return check_reserved_text(text, f"{where}: the value")
    if isinstance(value, numbers.Integral):
        return check_int64(int(value), f"{where}: the int")
    if isinstance(value, (numbers.Real, Decimal)):
        return exact_float(value, f"{where}: the value")
    raise TypeError(
        f"{where}: a value of type {type(value).__name__} ({value!r:.80}) is not allowed; "
        "use int, float, bool, str or None"
    )
