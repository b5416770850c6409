"""Hyperparameter distributions, spaces and samples.

Everything here is plain, immutable data with no dependency outside the standard
library. A hyperparameter name is a path of tokens joined with ``__``:
``{"a__b": 1}`` and ``{"a": {"b": 1}}`` are the same hyperparameters. The flat
view sorts keys alphabetically at every nesting level, so ``a__b`` comes before
``a0`` (``("a", "b") < ("a0",)``).

Every distribution is a frozen dataclass with ``rvs(rng)`` (``rng`` is a
``random.Random`` or a numpy Generator), ``contains(value)``, ``is_discrete``,
``to_json()`` (read back by :func:`distribution_from_json`) and ``kind`` (its JSON
type name). Discrete ones (``RandInt``, ``Choice``, ``Boolean``) list ``values()``;
numeric ones give ``min``/``max`` (``None`` when unbounded), ``mean`` and ``std``.
Constructors raise ``ValueError`` (``TypeError`` for a wrong type) naming the value.

Example:
    >>> import random
    >>> space = HyperparameterSpace({"opt": {"lr": LogUniform(1e-4, 1e-1)}, "depth": RandInt(2, 4)})
    >>> hp = space.rvs(random.Random(0))
    >>> list(hp)
    ['depth', 'opt__lr']
    >>> hp.to_wildcards().keys() == {"depth", "*lr"}
    True
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import numbers
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from statistics import NormalDist
from typing import Any, ClassVar, Protocol, TypeAlias

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


def _value_key(value: object) -> tuple[bool, object]:
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
        items = tuple(_as_scalar(f"Choice value #{i}", v) for i, v in enumerate(values))
        object.__setattr__(self, "choices", items)
        if not items:
            raise ValueError(f"{self!r}: values must hold at least one scalar")
        if len({_value_key(v) for v in items}) != len(items):
            raise ValueError(f"{self!r}: values must be distinct")

    def __repr__(self) -> str:
        return f"Choice({list(self.choices)!r})"

    def rvs(self, rng: RandomSource) -> Scalar:
        n = len(self.choices)
        return self.choices[min(int(rng.random() * n), n - 1)]

    def contains(self, value: object) -> bool:
        try:
            return _value_key(value) in {_value_key(v) for v in self.choices}
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
_DISTRIBUTION_TYPES = (Uniform, LogUniform, RandInt, Choice, Boolean, Normal, LogNormal, Quantized)


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


def _as_scalar(where: str, value: object) -> Scalar:
    """Return ``value`` as a builtin scalar (numpy numbers become int or float)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(
        f"{where}: a value of type {type(value).__name__} ({value!r:.80}) is not allowed; "
        "use int, float, bool, str or None"
    )


def _as_space_value(key: str, value: object) -> Distribution | Scalar:
    if isinstance(value, _DISTRIBUTION_TYPES):
        return value
    if value is None or isinstance(value, (bool, str, numbers.Real)):
        return _as_scalar(key, value)
    raise TypeError(
        f"hyperparameter {key!r}: a value of type {type(value).__name__} is not allowed; use a "
        "distribution (Uniform, LogUniform, RandInt, Choice, Boolean, Normal, LogNormal, "
        "Quantized) or a fixed int, float, bool, str or None"
    )


def _collect(
    mapping: Mapping[Any, Any], prefix: tuple[str, ...], out: dict[tuple[str, ...], Any]
) -> None:
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"hyperparameter key {key!r} must be a str, not {type(key).__name__}")
        path = prefix + tuple(key.split(SEPARATOR))
        if "" in path:
            raise ValueError(
                f"hyperparameter key {SEPARATOR.join(path)!r}: every name between "
                f"{SEPARATOR!r} separators must be non-empty"
            )
        if isinstance(value, Mapping):
            _collect(value, path, out)
        elif path in out:
            raise ValueError(
                f"hyperparameter {SEPARATOR.join(path)!r} is given twice (in nested and flat form)"
            )
        else:
            out[path] = value


def flatten(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten nested, flat or mixed hyperparameters into ``{"a__b": value}``.

    Keys are sorted alphabetically at every nesting level. An empty nested mapping
    contributes no key.

    Args:
        mapping: Nested mappings and/or keys already joined with ``__``.

    Returns:
        A new dict with flat keys, in the canonical order.

    Raises:
        TypeError: A key is not a str.
        ValueError: A key has an empty part (``"a____b"``), is given twice, or holds a
            value and nested keys at once (``{"a": 1, "a__b": 2}``).
    """
    paths: dict[tuple[str, ...], Any] = {}
    _collect(mapping, (), paths)
    ordered = sorted(paths)
    for shorter, longer in itertools.pairwise(ordered):
        if longer[: len(shorter)] == shorter:
            raise ValueError(
                f"hyperparameter {SEPARATOR.join(shorter)!r} holds a value and also nested keys "
                f"such as {SEPARATOR.join(longer)!r}; keep only one of them"
            )
    return {SEPARATOR.join(path): paths[path] for path in ordered}


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Turn flat (or mixed) hyperparameters into nested dicts, in the canonical order.

    Raises:
        TypeError, ValueError: As :func:`flatten`.
    """
    out: dict[str, Any] = {}
    for key, value in flatten(flat).items():
        *parents, leaf = key.split(SEPARATOR)
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


def _wildcard_candidates(tokens: Sequence[str]) -> dict[str, int]:
    """Map each pattern a key can be shortened to onto the number of suffix tokens it keeps.

    Patterns drop the leading token(s) and keep a suffix, optionally preceded by a gap and
    one more contiguous block that does not include the first token (``*b*c`` for
    ``a__b__q__c``). The full key is always a candidate.
    """
    n = len(tokens)
    out = {SEPARATOR.join(tokens): n}
    for kept in range(1, n):
        suffix = SEPARATOR.join(tokens[n - kept :])
        out.setdefault(f"*{suffix}", kept)
        for start in range(1, n - kept - 1):
            for end in range(start + 1, n - kept):
                out.setdefault(f"*{SEPARATOR.join(tokens[start:end])}*{suffix}", kept)
    return out


def _shortest_unique(key: str, candidates: dict[str, int], counts: Counter[str]) -> str:
    unique = [pattern for pattern in candidates if counts[pattern] == 1]
    # Shortest first, then the one keeping the longest suffix, then lexicographic.
    return min(unique, key=lambda p: (len(p), -candidates[p], p), default=key)


def _wildcard_keys(flat_keys: Sequence[str]) -> list[str]:
    candidates = [_wildcard_candidates(key.split(SEPARATOR)) for key in flat_keys]
    counts: Counter[str] = Counter(p for c in candidates for p in c)
    return [_shortest_unique(k, c, counts) for k, c in zip(flat_keys, candidates, strict=True)]


class HyperparameterSpace(Mapping[str, "Distribution | Scalar"]):
    """An immutable mapping of flat hyperparameter names to distributions or fixed values.

    Args:
        mapping: Nested mappings and/or flat ``__`` keys; values are distributions or
            fixed scalars (int, float, bool, str, None).

    Raises:
        TypeError, ValueError: As :func:`flatten`, or for a value that is neither a
            distribution nor a scalar.

    Example:
        >>> space = HyperparameterSpace({"mul": {"by": RandInt(1, 3)}, "mul__bias": 0.5})
        >>> list(space)
        ['mul__bias', 'mul__by']
        >>> HyperparameterSpace.from_json(space.to_json()) == space
        True
    """

    __slots__ = ("_flat",)

    def __init__(self, mapping: Mapping[str, Any] | None = None) -> None:
        flat = flatten(mapping or {})
        self._flat: dict[str, Distribution | Scalar] = {
            key: _as_space_value(key, value) for key, value in flat.items()
        }

    def __getitem__(self, key: str) -> Distribution | Scalar:
        return self._flat[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def __repr__(self) -> str:
        return f"HyperparameterSpace({self._flat!r})"

    def to_flat_dict(self) -> dict[str, Distribution | Scalar]:
        """Return a new dict of flat key → distribution or fixed value, in canonical order."""
        return dict(self._flat)

    def rvs(self, rng: RandomSource | None = None) -> HyperparameterSamples:
        """Draw one value per flat key, independently, in key order.

        Args:
            rng: A ``random.Random`` or numpy Generator; a fresh unseeded
                ``random.Random`` when ``None``.

        Returns:
            Samples with the same keys; fixed values are copied as they are.
        """
        source: RandomSource = random.Random() if rng is None else rng
        return HyperparameterSamples(
            {
                key: value.rvs(source) if isinstance(value, _DISTRIBUTION_TYPES) else value
                for key, value in self._flat.items()
            }
        )

    def to_json(self) -> str:
        """Return a flat JSON object: distributions as their ``to_json()`` dicts, scalars as-is."""
        return json.dumps(
            {
                key: value.to_json() if isinstance(value, _DISTRIBUTION_TYPES) else value
                for key, value in self._flat.items()
            }
        )

    @classmethod
    def from_json(cls, text: str) -> HyperparameterSpace:
        """Rebuild a space from :meth:`to_json` text.

        Raises:
            ValueError: The text is not a JSON object, or a distribution is invalid.
        """
        data = _load_json_object(text, cls.__name__)
        return cls(
            {
                key: distribution_from_json(value) if isinstance(value, dict) else value
                for key, value in data.items()
            }
        )


def _load_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}.from_json: not valid JSON ({exc}): {text[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{what}.from_json: expected a JSON object, got {text[:80]!r}")
    return data


class HyperparameterSamples(Mapping[str, Scalar]):
    """Immutable hyperparameter values, keyed by flat ``__`` names in canonical order.

    Built from nested, flat or mixed mappings: ``{"a__b": 1}`` equals ``{"a": {"b": 1}}``.
    ``samples["a"]`` returns the nested dict under ``a`` when ``a`` is not itself a flat
    key, while ``in``, ``len`` and iteration only see flat keys. Equality holds with any
    mapping that flattens to the same values. Like a dict, samples are not hashable.

    Args:
        mapping: Nested mappings and/or flat ``__`` keys with scalar values.

    Raises:
        TypeError: A value is not an int, float, bool, str or None (numpy numbers are
            converted), or a key is not a str.
        ValueError: As :func:`flatten`.

    Example:
        >>> hp = HyperparameterSamples({"a__b": 1, "c": "x"})
        >>> hp == {"a": {"b": 1}, "c": "x"}, hp["a"], hp.to_json()
        (True, {'b': 1}, '{"a__b": 1, "c": "x"}')
    """

    __slots__ = ("_flat",)

    def __init__(self, mapping: Mapping[str, Any] | None = None) -> None:
        flat = flatten(mapping or {})
        self._flat: dict[str, Scalar] = {
            key: _as_scalar(f"hyperparameter {key!r}", value) for key, value in flat.items()
        }

    def __getitem__(self, key: str) -> Any:
        if key in self._flat:
            return self._flat[key]
        prefix = key + SEPARATOR
        below = {k[len(prefix) :]: v for k, v in self._flat.items() if k.startswith(prefix)}
        if not below:
            raise KeyError(key)
        return nest(below)

    def __contains__(self, key: object) -> bool:
        return key in self._flat

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HyperparameterSamples):
            return self._flat == other._flat
        if isinstance(other, Mapping):
            try:
                return self._flat == HyperparameterSamples(other)._flat
            except (TypeError, ValueError):
                return False
        return NotImplemented

    def __repr__(self) -> str:
        return f"HyperparameterSamples({self._flat!r})"

    def to_flat_dict(self, use_wildcards: bool = False) -> dict[str, Scalar]:
        """Return a new flat dict in canonical order (wildcard keys if ``use_wildcards``)."""
        return self.to_wildcards() if use_wildcards else dict(self._flat)

    def to_nested_dict(self) -> dict[str, Any]:
        """Return new nested dicts, sorted at every level."""
        return nest(self._flat)

    def to_wildcards(self) -> dict[str, Scalar]:
        """Return the flat dict with each key shortened to its shortest unambiguous pattern.

        A key ``t1__…__tn`` becomes the shortest of: itself, ``*`` + a suffix of it, or
        ``*`` + a block + ``*`` + a suffix (``a__b__q__c`` → ``*b*c``), that no other key
        of these samples produces. Ties go to the longest suffix, then to lexicographic
        order. Values and order are unchanged.

        Example:
            >>> HyperparameterSamples({"step1__lr": 1, "step2__lr": 2, "a__b__c": 3}).to_wildcards()
            {'*c': 3, 'step1__lr': 1, 'step2__lr': 2}
        """
        return dict(zip(_wildcard_keys(list(self._flat)), self._flat.values(), strict=True))

    def to_json(self) -> str:
        """Return the flat JSON object, keys in canonical order."""
        return json.dumps(self._flat)

    @classmethod
    def from_json(cls, text: str) -> HyperparameterSamples:
        """Rebuild samples from JSON text (flat or nested object).

        Raises:
            ValueError: The text is not a JSON object.
            TypeError: A value is a list.
        """
        return cls(_load_json_object(text, cls.__name__))


def wildcard_keys_union(
    flat_dicts: Iterable[Mapping[str, Any]], discard_singles: bool = False
) -> list[str]:
    """Return the union of the wildcard keys of several trials' hyperparameters.

    Each mapping's wildcard keys are computed from that mapping alone
    (:meth:`HyperparameterSamples.to_wildcards`). This is the rule of
    ``RoundReport.list_hyperparameters_wildcards``.

    Args:
        flat_dicts: One hyperparameter mapping per trial, in trial order.
        discard_singles: Keep only the keys that took at least 2 distinct values (``True``
            and ``1`` are distinct; ``1`` and ``1.0`` are not).

    Returns:
        The keys in first-seen order (trials in the given order, keys in flat order).
    """
    seen: dict[str, set[tuple[bool, object]]] = {}
    for hps in flat_dicts:
        for key, value in HyperparameterSamples(hps).to_wildcards().items():
            seen.setdefault(key, set()).add(_value_key(value))
    return [key for key, values in seen.items() if not discard_singles or len(values) >= 2]
