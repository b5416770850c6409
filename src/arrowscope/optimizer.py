"""Hyperparameter optimizers: how a round picks the next trial's hyperparameters.

A round calls ``optimizer.find_next_best_hyperparams(round_report, hp_space)`` once
per new trial. ``round_report`` covers every earlier trial of the round, whatever its
status, in id order; the trial being created is not in it. Implementations only read
it through :class:`RoundHistory`, so they work on any report that has those methods.

Example:
    >>> space = HyperparameterSpace({"a": RandInt(1, 3), "b": Choice(["x", "y"])})
    >>> grid = GridSearch()
    >>> class History(list):
    ...     def get_all_hyperparams(self, as_flat=True, use_wildcards=False):
    ...         return [hp.to_flat_dict() for hp in self]
    >>> history = History()
    >>> for _ in range(6):
    ...     history.append(grid.find_next_best_hyperparams(history, space))
    >>> len({hp.to_json() for hp in history})
    6
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arrowscope.hyperparams import (
    Boolean,
    Choice,
    ContinuousDistribution,
    HyperparameterSamples,
    HyperparameterSpace,
    LogNormal,
    LogUniform,
    Normal,
    Quantized,
    RandInt,
    RoundHistory,
    Scalar,
    Uniform,
)

logger = logging.getLogger(__name__)

# Representative points of a continuous dimension, as (mean offset in std units) after
# the mean, min and max; taken in this order until the grid has enough of them.
_STD_OFFSETS = (1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 0.25, -0.25, 2.5, -2.5)
# How far from the mean an unbounded side is represented, in std units.
_UNBOUNDED_SPAN = 4.0


class HyperparameterSamplerStub:
    """Always proposes the same hyperparameters, whatever the history and space.

    Args:
        samples: The hyperparameters to return (nested, flat or mixed keys).
    """

    def __init__(self, samples: Mapping[str, Any]) -> None:
        self.samples = HyperparameterSamples(samples)

    def __repr__(self) -> str:
        return f"HyperparameterSamplerStub({self.samples.to_flat_dict()!r})"

    def find_next_best_hyperparams(
        self, round_report: RoundHistory, hp_space: HyperparameterSpace
    ) -> HyperparameterSamples:
        return self.samples


class RandomSearch:
    """Draws every flat key of the space independently, ignoring the history.

    The instance owns a ``random.Random(seed)``: two instances with the same integer seed
    propose the same sequence. ``seed=None`` seeds from the operating system. Processes
    sharing a round should use different seeds, or they propose the same points.

    Args:
        seed: The seed of the instance's generator.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"RandomSearch(seed={self.seed!r})"

    def find_next_best_hyperparams(
        self, round_report: RoundHistory, hp_space: HyperparameterSpace
    ) -> HyperparameterSamples:
        return hp_space.rvs(self._rng)

    def spawn(self) -> RandomSearch:
        """An independent search for a trial run in another process.

        Its seed is drawn from this instance's generator, so a seeded search run
        in parallel proposes the same set of points every time, and each worker's
        copy draws different ones (a pickled copy of this instance would repeat
        this instance's next draw in every worker).
        """
        return RandomSearch(self._rng.getrandbits(63))


def _value_key(value: object) -> tuple[bool, object]:
    # Keeps True apart from 1 when matching history values to grid values.
    return (isinstance(value, bool), value)


def _representative_points(dist: ContinuousDistribution, count: int) -> list[float]:
    """Up to ``count`` distinct points of ``dist``: mean, min, max, then mean ± k·std."""
    mean, std = dist.mean, dist.std
    low = mean - _UNBOUNDED_SPAN * std if dist.min is None else dist.min
    high = mean + _UNBOUNDED_SPAN * std if dist.max is None else dist.max
    points: list[float] = []
    for x in (mean, low, high, *(mean + k * std for k in _STD_OFFSETS)):
        if not math.isfinite(x):
            continue
        point = dist.quantize(x) if isinstance(dist, Quantized) else float(x)
        if dist.contains(point) and point not in points:
            points.append(point)
        if len(points) == count:
            break
    return points


@dataclass(frozen=True)
class _Grid:
    """The finite grid a :class:`GridSearch` walks, and the walk itself."""

    keys: tuple[str, ...]
    points: tuple[tuple[Scalar, ...], ...]
    fixed: tuple[tuple[str, Scalar], ...]
    # Per dimension: the identity of each point (see _value_key) → its index.
    lookup: tuple[dict[tuple[bool, object], int], ...]

    @classmethod
    def build(cls, space: HyperparameterSpace, n_continuous: int, seed: int) -> _Grid:
        """Discrete dimensions first (values in a seeded fixed order), then continuous ones."""
        discrete: list[tuple[str, tuple[Scalar, ...]]] = []
        continuous: list[tuple[str, tuple[Scalar, ...]]] = []
        fixed: list[tuple[str, Scalar]] = []
        for key, dist in space.items():
            if isinstance(dist, (RandInt, Choice, Boolean)):
                values: list[Scalar] = list(dist.values())
                random.Random(f"{seed}:{key}").shuffle(values)
                discrete.append((key, tuple(values)))
            elif isinstance(dist, (Uniform, LogUniform, Normal, LogNormal, Quantized)):
                points = _representative_points(dist, n_continuous)
                # Only a distribution whose moments overflow leaves no point: draw one.
                chosen = points or [dist.rvs(random.Random(f"{seed}:{key}"))]
                continuous.append((key, tuple(chosen)))
            else:
                fixed.append((key, dist))
        dims = discrete + continuous
        lookup = tuple({_value_key(v): i for i, v in enumerate(p)} for _, p in dims)
        return cls(tuple(k for k, _ in dims), tuple(p for _, p in dims), tuple(fixed), lookup)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(p) for p in self.points)

    def budget(self, expected_n_trials: int) -> int:
        """``expected_n_trials`` clamped into [sum of the sizes, product of the sizes]."""
        return max(min(math.prod(self.sizes), expected_n_trials), sum(self.sizes))

    def indices(self, step: int) -> tuple[int, ...]:
        """The grid point visited at ``step``: a bijection of ``range(product)`` onto the grid.

        ``step`` is written in mixed radix, largest dimension as the fastest digit. Each
        dimension's index is the running sum of the digits so far, modulo its size, so
        the first steps move every dimension at once (a diagonal) and each dimension shows
        all of its values within its first ``size`` steps.
        """
        sizes = self.sizes
        out = [0] * len(sizes)
        running = 0
        for dim in sorted(range(len(sizes)), key=lambda d: -sizes[d]):
            step, digit = divmod(step, sizes[dim])
            running += digit
            out[dim] = running % sizes[dim]
        return tuple(out)

    def index_of(self, flat: Mapping[str, Any]) -> tuple[int, ...] | None:
        """The grid indices of earlier hyperparameters, or ``None`` if not a grid point."""
        out: list[int] = []
        for key, lookup in zip(self.keys, self.lookup, strict=True):
            index = lookup.get(_value_key(flat[key])) if key in flat else None
            if index is None:
                return None
            out.append(index)
        return tuple(out)

    def first_unseen(self, seen: set[tuple[int, ...]]) -> tuple[int, ...] | None:
        """The first point of the walk not in ``seen``; ``None`` once all were seen."""
        # The walk is a bijection, so len(seen) + 1 steps always reach an unseen point.
        for step in range(min(math.prod(self.sizes), len(seen) + 1)):
            candidate = self.indices(step)
            if candidate not in seen:
                return candidate
        return None

    def sample(self, indices: tuple[int, ...]) -> HyperparameterSamples:
        values = {k: p[i] for k, p, i in zip(self.keys, self.points, indices, strict=True)}
        return HyperparameterSamples({**dict(self.fixed), **values})


class GridSearch:
    """A deterministic grid explorer that tries maximally different points first.

    The grid has every value of each discrete dimension (in a fixed order shuffled by
    ``seed``) and, for each continuous one, up to ``max(3, expected_n_trials)`` points
    among: mean, min (mean − 4σ if unbounded), max (mean + 4σ), mean ± σ, ± σ/2, ± 1.5σ,
    ± σ/4, ± 2.5σ; quantized when the distribution is, minus points it does not contain
    and duplicates. Fixed values of the space are copied into every proposal.

    Each call rebuilds the state from ``round_report.get_all_hyperparams()``: it walks
    the grid along a fixed bijective path and returns the first point no earlier trial
    used. So the same history always gives the same proposal, and an all-discrete space
    of ``P`` combinations gets ``P`` distinct proposals in ``P`` trials. Once every grid
    point has been used, it falls back to random search seeded by ``(seed, len(history))``.

    ``expected_n_trials`` is clamped into [sum, product] of the grid's dimension sizes:
    fewer trials cannot show every value of every dimension, more cannot all be distinct.
    A warning is logged when this changes a value you gave (info when it was 0, "auto").

    Args:
        expected_n_trials: How many trials you plan to run; 0 lets the grid decide.
        seed: Seeds the order of discrete values and the random fallback.

    Raises:
        ValueError: ``expected_n_trials`` is negative or ``seed`` is not an int.
    """

    def __init__(self, expected_n_trials: int = 0, seed: int = 0) -> None:
        for name, value in (("expected_n_trials", expected_n_trials), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"GridSearch({name}={value!r}): {name} must be an int")
        if expected_n_trials < 0:
            raise ValueError(f"GridSearch(expected_n_trials={expected_n_trials!r}): must be >= 0")
        self.expected_n_trials = expected_n_trials
        self.seed = seed
        self._logged: set[tuple[int, int]] = set()

    def __repr__(self) -> str:
        return f"GridSearch(expected_n_trials={self.expected_n_trials!r}, seed={self.seed!r})"

    def find_next_best_hyperparams(
        self, round_report: RoundHistory, hp_space: HyperparameterSpace
    ) -> HyperparameterSamples:
        grid = _Grid.build(hp_space, max(3, self.expected_n_trials), self.seed)
        self._log_budget(grid)
        history = round_report.get_all_hyperparams(as_flat=True, use_wildcards=False)
        seen = {idx for hps in history if (idx := grid.index_of(hps)) is not None}
        chosen = grid.first_unseen(seen)
        if chosen is None:
            return hp_space.rvs(random.Random(f"{self.seed}:{len(history)}"))
        return grid.sample(chosen)

    @staticmethod
    def estimate_ideal_n_trials(hp_space: HyperparameterSpace) -> int:
        """A trial count that explores ``hp_space`` reasonably: ``ceil(0.29 × clamp(1))``.

        ``clamp(1)`` is ``expected_n_trials=1`` clamped as above, which is the sum of the
        grid's dimension sizes (3 points per continuous dimension). Three ``RandInt(1, 3)``
        dimensions give ``ceil(0.29 × 9) = 3``.
        """
        return math.ceil(0.29 * _Grid.build(hp_space, 3, 0).budget(1))

    def _log_budget(self, grid: _Grid) -> None:
        budget = grid.budget(self.expected_n_trials)
        if budget == self.expected_n_trials or (self.expected_n_trials, budget) in self._logged:
            return
        self._logged.add((self.expected_n_trials, budget))
        logger.log(
            logging.INFO if self.expected_n_trials == 0 else logging.WARNING,
            "GridSearch: expected_n_trials=%d changed to %d, the closest value in [%d, %d] "
            "(sum and product of the grid's dimension sizes %s); past %d trials the grid "
            "is exhausted and random search is used",
            self.expected_n_trials,
            budget,
            sum(grid.sizes),
            math.prod(grid.sizes),
            list(grid.sizes),
            math.prod(grid.sizes),
        )
