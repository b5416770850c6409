"""Optimizers against a list-backed round history (SPEC §4.6)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from arrowscope.hyperparams import (
    Boolean,
    Choice,
    HyperparameterOptimizer,
    HyperparameterSamples,
    HyperparameterSpace,
    LogNormal,
    LogUniform,
    Normal,
    Quantized,
    RandInt,
    RoundHistory,
    Uniform,
)
from arrowscope.optimizer import GridSearch, HyperparameterSamplerStub, RandomSearch


class ListHistory:
    """A round history kept in a list: every proposal becomes a finished trial."""

    def __init__(self, trials: Sequence[Mapping[str, Any]] = ()) -> None:
        self.trials = [HyperparameterSamples(t) for t in trials]

    def __len__(self) -> int:
        return len(self.trials)

    def get_all_hyperparams(
        self, as_flat: bool = True, use_wildcards: bool = False
    ) -> list[dict[str, Any]]:
        if use_wildcards:
            return [dict(t.to_wildcards()) for t in self.trials]
        return [dict(t.to_flat_dict()) if as_flat else t.to_nested_dict() for t in self.trials]

    def list_successful_avg_validation_scores(self) -> list[float | None]:
        return [None] * len(self.trials)

    def is_higher_score_better(self, metric_name: str | None = None) -> bool:
        return False


def run(
    optimizer: HyperparameterOptimizer, space: HyperparameterSpace, n_trials: int
) -> list[HyperparameterSamples]:
    history = ListHistory()
    for _ in range(n_trials):
        history.trials.append(optimizer.find_next_best_hyperparams(history, space))
    return history.trials


def as_tuple(samples: HyperparameterSamples) -> tuple[tuple[str, Any], ...]:
    return tuple((k, (type(v), v)) for k, v in samples.items())


THREE_BY_THREE_BY_THREE = HyperparameterSpace(
    {
        "multiplication_1__multiply_by": RandInt(1, 3),
        "multiplication_2__multiply_by": RandInt(1, 3),
        "multiplication_3__multiply_by": RandInt(1, 3),
    }
)
DISCRETE_SPACES = {
    "3x3x3 RandInt": THREE_BY_THREE_BY_THREE,
    "3x3x3 mixed": HyperparameterSpace(
        {"a": RandInt(1, 3), "b": Choice(["x", "y", "z"]), "c": Choice([0, 1, False])}
    ),
    "5x2x2": HyperparameterSpace(
        {"n": RandInt(0, 4), "opt": {"flag": Boolean()}, "c": Choice([1, 2])}
    ),
    "7x1": HyperparameterSpace({"k": RandInt(0, 6), "only": Choice(["one"]), "fixed": "same"}),
    "4x3x2x2": HyperparameterSpace(
        {"a": RandInt(0, 3), "b": RandInt(0, 2), "c": Boolean(), "d": Choice([None, "v"])}
    ),
}


def test_stub_always_returns_its_samples() -> None:
    stub = HyperparameterSamplerStub({"a__b": 1, "c": "x"})
    proposals = run(stub, HyperparameterSpace(), 3)
    assert all(p == {"a": {"b": 1}, "c": "x"} for p in proposals)
    assert all(isinstance(p, HyperparameterSamples) for p in proposals)
    other = stub.find_next_best_hyperparams(ListHistory(), THREE_BY_THREE_BY_THREE)
    assert list(other.items()) == [("a__b", 1), ("c", "x")]


def test_random_search_is_reproducible_per_seed() -> None:
    space = HyperparameterSpace({"lr": LogUniform(1e-4, 1), "n": RandInt(1, 9), "f": Boolean()})
    first, again, other = (run(RandomSearch(s), space, 20) for s in (11, 11, 12))
    assert [as_tuple(s) for s in first] == [as_tuple(s) for s in again]
    assert [as_tuple(s) for s in first] != [as_tuple(s) for s in other]
    assert all(space[k].contains(v) for s in first for k, v in s.items())  # type: ignore[union-attr]
    assert len({s["lr"] for s in first}) == 20


@pytest.mark.parametrize("space", DISCRETE_SPACES.values(), ids=DISCRETE_SPACES.keys())
def test_grid_covers_an_all_discrete_space_without_repeats(space: HyperparameterSpace) -> None:
    product = math.prod(len(list(d.values())) for d in space.values() if hasattr(d, "values"))
    proposals = run(GridSearch(), space, product)
    assert len({as_tuple(p) for p in proposals}) == product
    assert all(list(p) == list(space) for p in proposals)


def test_grid_27_trials_over_3x3x3_give_27_distinct_combinations() -> None:
    proposals = run(GridSearch(expected_n_trials=27), THREE_BY_THREE_BY_THREE, 27)
    assert len({tuple(p.values()) for p in proposals}) == 27


@pytest.mark.parametrize("n_trials", [1, 2, 3, 4, 5, 8])
def test_grid_shows_each_discrete_value_early(n_trials: int) -> None:
    space = DISCRETE_SPACES["4x3x2x2"]
    proposals = run(GridSearch(), space, n_trials)
    for key, dist in space.items():
        seen = {p[key] for p in proposals}
        assert len(seen) == min(n_trials, len(dist.values())), key  # type: ignore[union-attr]


def test_grid_is_deterministic_for_a_given_history() -> None:
    space = HyperparameterSpace(
        {"a": RandInt(0, 4), "u": Uniform(0, 1), "c": Choice(["x", "y", "z"])}
    )
    first = run(GridSearch(expected_n_trials=10), space, 12)
    second = run(GridSearch(expected_n_trials=10), space, 12)
    assert [as_tuple(p) for p in first] == [as_tuple(p) for p in second]
    grid = GridSearch(expected_n_trials=10)
    history = ListHistory(first[:5])
    again = [grid.find_next_best_hyperparams(history, space) for _ in range(3)]
    assert all(as_tuple(p) == as_tuple(first[5]) for p in again)


def test_grid_seed_changes_the_order_of_discrete_values() -> None:
    space = HyperparameterSpace({"k": RandInt(0, 9)})
    orders = {tuple(p["k"] for p in run(GridSearch(seed=s), space, 10)) for s in range(5)}
    assert len(orders) > 1
    assert all(sorted(order) == list(range(10)) for order in orders)


@pytest.mark.parametrize(
    ("dist", "expected_n_trials", "points"),
    [
        (Uniform(0, 4), 0, [2.0, 0.0, 4.0]),
        (Normal(0, 1), 3, [0.0, -4.0, 4.0]),
        (Normal(0, 1), 5, [0.0, -4.0, 4.0, 1.0, -1.0]),
        (
            Uniform(0, 4),
            7,
            [2.0, 0.0, 4.0, 2 + 4 / 12**0.5, 2 - 4 / 12**0.5, 2 + 2 / 12**0.5, 2 - 2 / 12**0.5],
        ),
        (Quantized(Uniform(0, 4), 1), 13, [2.0, 0.0, 4.0, 3.0, 1.0]),
        (
            Normal(0, 1, low=0),
            3,
            [math.sqrt(2 / math.pi), 0.0, math.sqrt(2 / math.pi) + 4 * math.sqrt(1 - 2 / math.pi)],
        ),
    ],
)
def test_grid_representative_points_of_a_continuous_dimension(
    dist: Any, expected_n_trials: int, points: list[float]
) -> None:
    space = HyperparameterSpace({"x": dist})
    proposals = run(GridSearch(expected_n_trials=expected_n_trials), space, len(points))
    assert [p["x"] for p in proposals] == pytest.approx(points)


def test_grid_mixed_space_stays_inside_the_distributions() -> None:
    space = HyperparameterSpace(
        {
            "a__add_n": Uniform(0, 4),
            "b__multiply_n": RandInt(0, 4),
            "c__choice": Choice(["one", "two"]),
            "d": {"ln": LogNormal(0, 1), "q": Quantized(LogUniform(1, 100), 1)},
            "fixed": 7,
        }
    )
    proposals = run(GridSearch(expected_n_trials=6), space, 40)
    assert len({as_tuple(p) for p in proposals}) == 40
    for p in proposals:
        assert p["fixed"] == 7
        assert all(space[k].contains(v) for k, v in p.items() if k != "fixed")  # type: ignore[union-attr]
    assert len({p["a__add_n"] for p in proposals}) == 6


def test_grid_falls_back_to_seeded_random_search_once_exhausted() -> None:
    space = HyperparameterSpace({"a": RandInt(1, 2), "u": Uniform(0, 1)})
    proposals = run(GridSearch(), space, 6)
    assert len({as_tuple(p) for p in proposals[:6]}) == 6
    history = ListHistory(proposals)
    extra = GridSearch().find_next_best_hyperparams(history, space)
    assert as_tuple(extra) == as_tuple(GridSearch().find_next_best_hyperparams(history, space))
    assert extra["u"] not in {p["u"] for p in proposals}
    assert space["u"].contains(extra["u"])  # type: ignore[union-attr]


def test_grid_ignores_history_that_is_not_on_the_grid() -> None:
    space = HyperparameterSpace({"k": RandInt(0, 2)})
    history = ListHistory([{"k": 99}, {"other": 1}, {"k": True}])
    first = GridSearch().find_next_best_hyperparams(history, space)
    assert first == GridSearch().find_next_best_hyperparams(ListHistory(), space)


def test_grid_on_an_empty_or_fixed_space() -> None:
    assert run(GridSearch(), HyperparameterSpace(), 3) == [{}, {}, {}]
    assert run(GridSearch(), HyperparameterSpace({"f": 1.5}), 2) == [{"f": 1.5}] * 2


def test_grid_budget_clamp_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    grid = GridSearch(expected_n_trials=100)
    with caplog.at_level(logging.INFO, logger="arrowscope.optimizer"):
        run(grid, THREE_BY_THREE_BY_THREE, 3)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "expected_n_trials=100 changed to 27" in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="arrowscope.optimizer"):
        run(GridSearch(), THREE_BY_THREE_BY_THREE, 1)
        run(GridSearch(expected_n_trials=9), THREE_BY_THREE_BY_THREE, 1)
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "expected_n_trials=0 changed to 9" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        (THREE_BY_THREE_BY_THREE, 3),
        (HyperparameterSpace({"u": Uniform(0, 1), "v": Normal(0, 1)}), 2),
        (HyperparameterSpace({"k": RandInt(0, 99)}), 29),
        (HyperparameterSpace(), 1),
    ],
)
def test_estimate_ideal_n_trials(space: HyperparameterSpace, expected: int) -> None:
    assert GridSearch.estimate_ideal_n_trials(space) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected_n_trials": -1}, r"GridSearch\(expected_n_trials=-1\): must be >= 0"),
        ({"expected_n_trials": 2.5}, "expected_n_trials must be an int"),
        ({"seed": "0"}, "seed must be an int"),
    ],
)
def test_grid_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GridSearch(**kwargs)


def test_optimizers_satisfy_the_protocols() -> None:
    history: RoundHistory = ListHistory()
    optimizers: list[HyperparameterOptimizer] = [
        GridSearch(),
        RandomSearch(0),
        HyperparameterSamplerStub({}),
    ]
    for optimizer in optimizers:
        assert isinstance(
            optimizer.find_next_best_hyperparams(history, HyperparameterSpace()),
            HyperparameterSamples,
        )
