"""Hyperparameter spaces and samples: nested names, flat ``__`` keys, wildcards.

Everything here is plain, immutable data with no dependency outside the standard
library. A hyperparameter name is a path of tokens joined with ``__``:
``{"a__b": 1}`` and ``{"a": {"b": 1}}`` are the same hyperparameters. The flat
view sorts keys alphabetically at every nesting level, so ``a__b`` comes before
``a0`` (``("a", "b") < ("a0",)``).

The distributions live in :mod:`arrowscope.distributions` and are re-exported here.

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

import itertools
import json
import numbers
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from arrowscope.distributions import (
    DISTRIBUTION_TYPES,
    SEPARATOR,
    Boolean,
    Choice,
    ContinuousDistribution,
    DiscreteDistribution,
    Distribution,
    LogNormal,
    LogUniform,
    Normal,
    Quantized,
    RandInt,
    RandomSource,
    Scalar,
    Uniform,
    as_scalar,
    distribution_from_json,
    value_key,
)
from arrowscope.values import check_text, dumps, loads

__all__ = [
    "SEPARATOR",
    "Boolean",
    "Choice",
    "ContinuousDistribution",
    "DiscreteDistribution",
    "Distribution",
    "HyperparameterOptimizer",
    "HyperparameterSamples",
    "HyperparameterSpace",
    "LogNormal",
    "LogUniform",
    "Normal",
    "Quantized",
    "RandInt",
    "RandomSource",
    "RoundHistory",
    "Scalar",
    "Uniform",
    "distribution_from_json",
    "flatten",
    "nest",
    "wildcard_keys_union",
]


def _as_space_value(key: str, value: object) -> Distribution | Scalar:
    if isinstance(value, DISTRIBUTION_TYPES):
        return value
    if value is None or isinstance(value, (bool, str, numbers.Real)):
        return as_scalar(key, value)
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
        check_text(key, "hyperparameter key")
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
                key: value.rvs(source) if isinstance(value, DISTRIBUTION_TYPES) else value
                for key, value in self._flat.items()
            }
        )

    def to_json(self) -> str:
        """Return a flat JSON object: distributions as their ``to_json()`` dicts, scalars as-is.

        NaN and ±inf are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
        """
        return dumps(
            {
                key: value.to_json() if isinstance(value, DISTRIBUTION_TYPES) else value
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
        data = loads(text)
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
        ValueError: As :func:`flatten`; or a value that would not read back unchanged: an
            int outside the signed 64-bit range, a number with no exact float64 value
            (``Decimal("0.1")``), text with a lone surrogate (keys too), or one of the
            strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which stand for the floats
            in stored JSON (see :mod:`arrowscope.values`).

    Example:
        >>> hp = HyperparameterSamples({"a__b": 1, "c": "x"})
        >>> hp == {"a": {"b": 1}, "c": "x"}, hp["a"], hp.to_json()
        (True, {'b': 1}, '{"a__b": 1, "c": "x"}')
    """

    __slots__ = ("_flat",)

    def __init__(self, mapping: Mapping[str, Any] | None = None) -> None:
        flat = flatten(mapping or {})
        self._flat: dict[str, Scalar] = {
            key: as_scalar(f"hyperparameter {key!r}", value) for key, value in flat.items()
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
        """Equal flat keys and values; a NaN value equals NaN (as stored and read back)."""
        if isinstance(other, HyperparameterSamples):
            return _nan_as_equal(self._flat) == _nan_as_equal(other._flat)
        if isinstance(other, Mapping):
            try:
                return self == HyperparameterSamples(other)
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
        """Return the flat JSON object, keys in canonical order.

        The text is standard JSON that DuckDB, polars and any JSON parser read: NaN
        and ±inf are written as the strings ``"NaN"``, ``"Infinity"`` and
        ``"-Infinity"`` (which is why those three strings are refused as values).
        """
        return dumps(self._flat)

    @classmethod
    def from_json(cls, text: str) -> HyperparameterSamples:
        """Rebuild samples from JSON text (flat or nested object).

        The strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` are read as floats.

        Raises:
            ValueError: The text is not a JSON object.
            TypeError: A value is a list.
        """
        return cls(_load_json_object(text, cls.__name__))


_NAN = object()  # stands for every NaN value when samples are compared


def _nan_as_equal(flat: dict[str, Scalar]) -> dict[str, object]:
    return {k: _NAN if isinstance(v, float) and v != v else v for k, v in flat.items()}


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
            seen.setdefault(key, set()).add(value_key(value))
    return [key for key, values in seen.items() if not discard_singles or len(values) >= 2]


class RoundHistory(Protocol):
    """What an optimizer may read from the round it proposes a trial for.

    Every method covers the earlier trials of the round only (any status, id order).
    """

    def __len__(self) -> int:
        """The number of earlier trials."""
        ...

    def get_all_hyperparams(
        self, as_flat: bool = True, use_wildcards: bool = False
    ) -> Sequence[Mapping[str, Any]]:
        """One hyperparameter mapping per earlier trial (flat ``__`` keys when ``as_flat``)."""
        ...

    def list_successful_avg_validation_scores(self) -> Sequence[float | None]:
        """The main metric's score of each SUCCESS trial, in id order (``None`` if unscored)."""
        ...

    def is_higher_score_better(self, metric_name: str | None = None) -> bool:
        """The direction of ``metric_name`` (default: the main metric)."""
        ...


class HyperparameterOptimizer(Protocol):
    """Proposes the hyperparameters of the next trial of a round."""

    def find_next_best_hyperparams(
        self, round_report: RoundHistory, hp_space: HyperparameterSpace
    ) -> HyperparameterSamples:
        """Return the next trial's hyperparameters, one value per flat key of ``hp_space``."""
        ...
