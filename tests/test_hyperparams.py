"""Distributions, spaces, samples, flattening and wildcards (SPEC §1.2, §4.7, S6, S28)."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np
import pytest

from arrowscope.hyperparams import (
    Boolean,
    Choice,
    HyperparameterSamples,
    HyperparameterSpace,
    LogNormal,
    LogUniform,
    Normal,
    Quantized,
    RandInt,
    Uniform,
    distribution_from_json,
    flatten,
    nest,
    wildcard_keys_union,
)

ALL_DISTRIBUTIONS = [
    Uniform(-2, 3.5),
    LogUniform(1e-4, 10),
    RandInt(-3, 4),
    RandInt(5, 5),
    Choice([0, 1, False, "Test", None, 2.5]),
    Boolean(),
    Normal(0.5, 2.0),
    Normal(0.0, 1.0, low=0.0),
    Normal(10.0, 1.0, low=9.0, high=9.5),
    LogNormal(0.0, 1.0),
    LogNormal(0.0, 2.0, low=0.5, high=4.0),
    Quantized(Uniform(0.3, 1.0), 0.1),
    Quantized(Normal(0.0, 3.0), 0.25),
    Quantized(LogNormal(0.0, 1.0), 0.5),
    Quantized(LogUniform(1, 100), 1),
]


# --- distributions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Uniform(low=2, high=1), r"Uniform\(low=2, high=1\): low must be < high"),
        (lambda: Uniform(1, 1), "low must be < high"),
        (lambda: Uniform(0, math.inf), "high=inf must be finite"),
        (lambda: LogUniform(0, 1), r"LogUniform\(low=0, high=1\): low must be > 0"),
        (lambda: LogUniform(-1, 1), "low must be > 0"),
        (lambda: LogUniform(2, 1), "low must be < high"),
        (lambda: RandInt(3, 1), r"RandInt\(low=3, high=1\): low must be <= high"),
        (lambda: Choice([]), r"Choice\(\[\]\): values must hold at least one scalar"),
        (lambda: Choice([1, 1]), "values must be distinct"),
        (lambda: Normal(0, 0), r"Normal\(mean=0, std=0, .*\): std must be > 0"),
        (lambda: Normal(0, -1), "std must be > 0"),
        (lambda: Normal(0, 1, low=1, high=0), "low must be < high"),
        (lambda: Normal(0, 1, low=50, high=60), "no probability mass"),
        (lambda: LogNormal(0, 0), "log_std must be > 0"),
        (lambda: LogNormal(0, 1, low=0), "low must be > 0"),
        (lambda: LogNormal(0, 1, low=3, high=2), "low must be < high"),
        (lambda: Quantized(Uniform(0, 1), 0), r"Quantized\(.*\): step must be > 0"),
        (lambda: Quantized(Uniform(0, 1), -0.5), "step must be > 0"),
        (lambda: Quantized(Uniform(0.3, 0.4), 1), r"no multiple of step lies in \[0.3, 0.4\]"),
    ],
)
def test_invalid_parameters_raise_value_error_naming_the_value(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Uniform("0", 1), r"low='0' must be an int or a float"),
        (lambda: RandInt(0.5, 2), r"low=0.5 must be an int"),
        (lambda: RandInt(True, 2), r"low=True must be an int"),
        (lambda: Choice([[1, 2]]), r"Choice value #0: a value of type list"),
        (lambda: Choice("adam"), r"Choice\('adam'\): values must be a list or tuple of scalars"),
        (lambda: Quantized(RandInt(0, 3), 1), "dist must be a Uniform, LogUniform, Normal or"),
    ],
)
def test_wrong_parameter_types_raise_type_error(build: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        build()


@pytest.mark.parametrize("dist", ALL_DISTRIBUTIONS, ids=repr)
@pytest.mark.parametrize(
    "make_rng", [random.Random, np.random.default_rng], ids=["random", "numpy"]
)
def test_draws_are_contained_and_reproducible(dist: Any, make_rng: Any) -> None:
    draws = [dist.rvs(make_rng(7)) for _ in range(2)]
    rng = make_rng(7)
    sequence = [dist.rvs(rng) for _ in range(300)]
    assert draws[0] == draws[1] == sequence[0]
    assert all(dist.contains(x) for x in sequence)
    if not dist.is_discrete:
        assert all(type(x) is float for x in sequence)


@pytest.mark.parametrize(
    ("dist", "inside", "outside"),
    [
        (Uniform(0, 1), [0, 0.5, 1], [-0.1, 1.1, math.nan, True, "0.5", None]),
        (LogUniform(0.1, 10), [0.1, 1, 10], [0, 0.09, 11]),
        (RandInt(1, 3), [1, 2, 3, 2.0], [0, 4, 1.5, True]),
        (Choice([0, "a", None]), [0, 0.0, "a", None], [False, 1, "b", [0]]),
        (Boolean(), [True, False], [0, 1, None]),
        (Normal(0, 1), [-100.0, 0, 100], [math.inf, math.nan]),
        (Normal(0, 1, low=-1, high=2), [-1, 2], [-1.01, 2.01]),
        (LogNormal(0, 1), [1e-9, 1e9], [0, -1]),
        (Quantized(Uniform(0, 1), 0.25), [0, 0.25, 0.75, 1.0], [0.3, 1.25, -0.25]),
    ],
)
def test_contains(dist: Any, inside: list[Any], outside: list[Any]) -> None:
    assert all(dist.contains(v) for v in inside)
    assert not any(dist.contains(v) for v in outside)


def test_discrete_values_and_flags() -> None:
    assert RandInt(1, 3).values() == range(1, 4)
    assert Choice(["a", "b"]).values() == ("a", "b")
    assert Boolean().values() == (False, True)
    assert [d.is_discrete for d in (RandInt(0, 1), Choice([1]), Boolean())] == [True] * 3
    assert not any(d.is_discrete for d in ALL_DISTRIBUTIONS if isinstance(d, (Uniform, Normal)))


@pytest.mark.parametrize(
    ("dist", "stats"),
    [
        (Uniform(0, 4), (0, 4, 2.0, 4 / math.sqrt(12))),
        (RandInt(1, 3), (1, 3, 2.0, math.sqrt(8 / 12))),
        (Normal(1.0, 2.0), (None, None, 1.0, 2.0)),
        (
            Normal(0.0, 1.0, low=0.0),
            (0.0, None, math.sqrt(2 / math.pi), math.sqrt(1 - 2 / math.pi)),
        ),
        (LogNormal(0.0, 1.0), (0.0, None, math.exp(0.5), math.sqrt((math.e - 1) * math.e))),
        (LogUniform(1, math.e), (1, math.e, math.e - 1, None)),
        (Quantized(Uniform(0.3, 1.0), 0.1), (0.3, 1.0, 0.65, None)),
    ],
)
def test_min_max_mean_std(dist: Any, stats: tuple[Any, ...]) -> None:
    for name, expected in zip(("min", "max", "mean", "std"), stats, strict=True):
        if expected is not None or name in ("min", "max"):
            assert getattr(dist, name) == pytest.approx(expected), name


def test_truncated_moments_match_draws() -> None:
    rng = random.Random(3)
    for dist in (Normal(0, 1, low=-0.5, high=2), LogNormal(0, 0.5, low=0.8, high=2.5)):
        xs = [dist.rvs(rng) for _ in range(20000)]
        mean = sum(xs) / len(xs)
        std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
        assert mean == pytest.approx(dist.mean, abs=0.02)
        assert std == pytest.approx(dist.std, abs=0.02)


def test_quantized_values_are_clean_multiples() -> None:
    q = Quantized(Uniform(0.0, 1.0), 0.1)
    assert {q.rvs(random.Random(s)) for s in range(200)} <= {round(k / 10, 1) for k in range(11)}
    assert q.quantize(0.34) == 0.3
    assert q.quantize(5.0) == 1.0


@pytest.mark.parametrize("dist", ALL_DISTRIBUTIONS, ids=repr)
def test_distribution_json_round_trip(dist: Any) -> None:
    data = json.loads(json.dumps(dist.to_json()))
    assert distribution_from_json(data) == dist


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"low": 0, "high": 1}, "must be an object with a 'type' field"),
        ({"type": "beta", "a": 1}, r"unknown distribution type 'beta'; allowed: \['boolean'"),
        ({"type": ["uniform"]}, r"unknown distribution type \['uniform'\]"),
        ({"type": "uniform", "low": 0}, "bad parameters for distribution type 'uniform'"),
        ({"type": "uniform", "low": 0, "high": 1, "x": 2}, "bad parameters"),
        ({"type": "uniform", "low": 1, "high": 0}, "low must be < high"),
        ({"type": "quantized", "dist": {"type": "boolean"}, "step": 1}, "must be uniform"),
    ],
)
def test_distribution_from_json_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        distribution_from_json(data)


# --- flatten and nest ------------------------------------------------------------------------

FLAT_AND_NESTED = [
    ({"a__learning_rate": 7}, {"a": {"learning_rate": 7}}),
    (
        {"b__a__learning_rate": 7, "b__learning_rate": 9},
        {"b": {"a": {"learning_rate": 7}, "learning_rate": 9}},
    ),
    ({"a__b": 1, "a0": 2, "a_c": 3}, {"a": {"b": 1}, "a0": 2, "a_c": 3}),
]


@pytest.mark.parametrize(("flat", "nested"), FLAT_AND_NESTED)
def test_flatten_and_nest_are_inverse(flat: dict[str, Any], nested: dict[str, Any]) -> None:
    assert flatten(nested) == flat
    assert nest(flat) == nested
    assert list(flatten(nested)) == list(flat)
    assert flatten(flat) == flat


def test_flat_order_is_alphabetical_per_level() -> None:
    mixed = {"z": 1, "a0": 2, "a": {"y": 3, "b__c": 4}, "a__b__a": 5}
    assert list(flatten(mixed)) == ["a__b__a", "a__b__c", "a__y", "a0", "z"]
    assert list(nest(mixed)) == ["a", "a0", "z"]


@pytest.mark.parametrize(
    ("mapping", "error", "message"),
    [
        ({"a": 1, "a__b": 2}, ValueError, "'a' holds a value and also nested keys such as 'a__b'"),
        ({"a__b": 1, "a": {"b": 2}}, ValueError, "'a__b' is given twice"),
        ({"a____b": 1}, ValueError, "'a____b': every name between '__' separators must be"),
        ({"a__": 1}, ValueError, "must be non-empty"),
        ({"": 1}, ValueError, "must be non-empty"),
        ({1: 1}, TypeError, "hyperparameter key 1 must be a str, not int"),
    ],
)
def test_flatten_rejects_ambiguous_keys(mapping: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        flatten(mapping)


# --- samples ---------------------------------------------------------------------------------


def test_s6_samples_equal_in_nested_and_flat_form() -> None:
    samples = HyperparameterSamples({"a__b": 1, "c": "x"})
    assert samples == {"a": {"b": 1}, "c": "x"}
    assert samples == HyperparameterSamples({"a": {"b": 1}, "c": "x"})
    assert samples == {"c": "x", "a__b": 1}
    assert list(samples.to_flat_dict().items()) == [("a__b", 1), ("c", "x")]
    assert samples.to_nested_dict() == {"a": {"b": 1}, "c": "x"}
    assert samples != {"a": {"b": 2}, "c": "x"}
    assert samples != {"a__b": 1}
    assert samples != {"a": [1]}
    assert samples != [("a__b", 1), ("c", "x")]


def test_samples_mapping_behaviour() -> None:
    samples = HyperparameterSamples({"opt": {"lr": 0.5, "name": "sgd"}, "n": 3})
    assert list(samples) == ["n", "opt__lr", "opt__name"]
    assert len(samples) == 3
    assert samples["opt__lr"] == 0.5
    assert samples["opt"] == {"lr": 0.5, "name": "sgd"}
    assert "opt__lr" in samples
    assert "opt" not in samples
    with pytest.raises(KeyError):
        samples["missing"]
    with pytest.raises(TypeError, match="unhashable"):
        hash(samples)
    assert repr(samples) == "HyperparameterSamples({'n': 3, 'opt__lr': 0.5, 'opt__name': 'sgd'})"


def test_samples_values_must_be_scalars() -> None:
    with pytest.raises(TypeError, match=r"hyperparameter 'a__b': a value of type list \(\[1\]\)"):
        HyperparameterSamples({"a": {"b": [1]}})
    with pytest.raises(TypeError, match="hyperparameter 'u': a value of type Uniform"):
        HyperparameterSamples({"u": Uniform(0, 1)})
    converted = HyperparameterSamples({"i": np.int64(3), "f": np.float32(0.5)})
    assert [type(v) for v in converted.values()] == [float, int]


def test_samples_json_is_a_flat_sorted_object() -> None:
    samples = HyperparameterSamples({"z": None, "a": {"b": True, "a": 1.0}})
    assert samples.to_json() == '{"a__a": 1.0, "a__b": true, "z": null}'
    back = HyperparameterSamples.from_json(samples.to_json())
    assert back == samples
    assert [type(v) for v in back.values()] == [float, bool, type(None)]
    with pytest.raises(ValueError, match="expected a JSON object"):
        HyperparameterSamples.from_json("[1, 2]")
    with pytest.raises(ValueError, match="not valid JSON"):
        HyperparameterSamples.from_json("{")


# --- spaces ----------------------------------------------------------------------------------


def _random_distribution(rng: random.Random) -> Any:
    low = rng.uniform(-5, 5)
    makers = [
        lambda: Uniform(low, low + rng.uniform(0.1, 5)),
        lambda: LogUniform(abs(low) + 0.01, abs(low) + 10),
        lambda: RandInt(int(low), int(low) + rng.randint(0, 9)),
        lambda: Choice(rng.sample(["a", 1, 2.5, None, True, "b"], rng.randint(1, 6))),
        lambda: Boolean(),
        lambda: Normal(low, rng.uniform(0.1, 3), low=rng.choice([None, low - 1])),
        lambda: LogNormal(low / 5, rng.uniform(0.1, 1), high=rng.choice([None, 1e6])),
        lambda: Quantized(Uniform(low, low + 10), rng.choice([0.1, 0.25, 1, 2])),
        lambda: rng.choice([3, 0.5, "fixed", None, False]),
    ]
    return rng.choice(makers)()


def _random_space(rng: random.Random) -> dict[str, Any]:
    space: dict[str, Any] = {}
    for i in range(rng.randint(0, 8)):
        path = [f"s{rng.randint(0, 2)}" for _ in range(rng.randint(0, 2))] + [f"hp{i}"]
        if rng.random() < 0.5:
            space["__".join(path)] = _random_distribution(rng)
        else:
            node = space
            for name in path[:-1]:
                node = node.setdefault(name, {})
            node[path[-1]] = _random_distribution(rng)
    return space


@pytest.mark.parametrize("seed", range(25))
def test_space_and_samples_json_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    space = HyperparameterSpace(_random_space(rng))
    assert HyperparameterSpace.from_json(space.to_json()) == space
    samples = space.rvs(rng)
    assert list(samples) == list(space)
    assert HyperparameterSamples.from_json(samples.to_json()) == samples
    assert list(HyperparameterSamples.from_json(samples.to_json()).items()) == list(samples.items())
    for key, value in samples.items():
        dist = space[key]
        assert dist.contains(value) if hasattr(dist, "rvs") else value == dist


def test_space_draws_one_value_per_flat_key_reproducibly() -> None:
    space = HyperparameterSpace(
        {"opt": {"lr": LogUniform(1e-4, 1), "name": Choice(["adam", "sgd"])}, "n__layers": 4}
    )
    assert list(space) == ["n__layers", "opt__lr", "opt__name"]
    assert len(space) == 3
    assert space["opt__lr"] == LogUniform(1e-4, 1)
    first, second = space.rvs(random.Random(5)), space.rvs(random.Random(5))
    assert first == second
    assert first["n__layers"] == 4
    assert space.rvs(np.random.default_rng(5)) == space.rvs(np.random.default_rng(5))
    assert list(space.to_flat_dict()) == list(space)
    assert isinstance(space.rvs(), HyperparameterSamples)


def test_space_rejects_values_that_are_neither_distribution_nor_scalar() -> None:
    with pytest.raises(TypeError, match=r"hyperparameter 'a__b': a value of type list"):
        HyperparameterSpace({"a": {"b": [1, 2]}})
    with pytest.raises(ValueError, match="holds a value and also nested keys"):
        HyperparameterSpace({"a": Boolean(), "a__b": Boolean()})


# --- wildcards (§4.7, S28) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flat", "expected"),
    [
        ({"some_step__learning_rate": 0.01}, ["*learning_rate"]),
        (
            {"a__b__c": 1, "step1__lr": 2, "step1__n": 3, "step2__lr": 4},
            ["*c", "step1__lr", "*n", "step2__lr"],
        ),
        ({"p__a__lr": 1, "p__b__lr": 2, "p__c__momentum": 3}, ["*a__lr", "*b__lr", "*momentum"]),
        ({"x__y__lr": 1, "z__y__lr": 2}, ["x__y__lr", "z__y__lr"]),
        ({"lr": 1, "a__lr": 2}, ["*lr", "lr"]),
        # Equal lengths: the longest suffix wins, then lexicographic order.
        ({"a__bb__x__c": 1, "z__c": 2}, ["*x__c", "z__c"]),
        ({"a__b__c__d__e": 1, "y__d__e": 2, "z__e": 3}, ["*b*e", "y__d__e", "z__e"]),
    ],
)
def test_wildcards_examples(flat: dict[str, Any], expected: list[str]) -> None:
    wildcards = HyperparameterSamples(flat).to_wildcards()
    assert list(wildcards) == expected
    assert list(wildcards.values()) == list(HyperparameterSamples(flat).values())


def test_wildcards_of_the_neuraxle_space_example() -> None:
    # SPEC §4.7, from test_space.py:115-139 (the keys given there, plus its remaining ones).
    keys = [
        "a__b__c", "a__b__q__c", "a__b__q__q", "a__c", "a__e__q__c", "a__test", "d__param",
        "d__u", "e__alpha", "e__f__g", "e__other", "p__could_also_be_as_fixed",
        "scipy__gaussian", "scipy__poisson", "scipy__scipy__gaussian",
    ]  # fmt: skip
    expected = [
        "*b__c", "*b*c", "*q", "a__c", "*e*c", "*test", "*param", "*u", "*alpha", "*g",
        "*other", "*could_also_be_as_fixed", "scipy__gaussian", "*poisson", "*scipy__gaussian",
    ]  # fmt: skip
    samples = HyperparameterSamples({k: i for i, k in enumerate(keys)})
    assert list(samples.to_wildcards()) == expected
    assert samples.to_flat_dict(use_wildcards=True) == samples.to_wildcards()


def test_s28_wildcards_of_one_trial() -> None:
    hps = {"step1": {"lr": 0.1, "n": 3}, "step2__lr": 0.2, "a": {"b": {"c": 1}}}
    assert list(HyperparameterSamples(hps).to_wildcards().items()) == [
        ("*c", 1),
        ("step1__lr", 0.1),
        ("*n", 3),
        ("step2__lr", 0.2),
    ]


def test_s28_wildcard_union_over_three_trials() -> None:
    trials = [
        {"p__a__lr": a, "p__b__lr": b, "p__c__momentum": 0.9} for a, b in ((1, 1), (2, 1), (3, 2))
    ]
    assert wildcard_keys_union(trials) == ["*a__lr", "*b__lr", "*momentum"]
    assert wildcard_keys_union(trials, discard_singles=True) == ["*a__lr", "*b__lr"]


def test_wildcard_union_is_per_trial_and_first_seen() -> None:
    trials = [{"x__lr": 1}, {"x__lr": 1, "y__lr": 2}, {"flag": True}, {"flag": 1}]
    assert wildcard_keys_union(trials) == ["*lr", "x__lr", "y__lr", "flag"]
    assert wildcard_keys_union(trials, discard_singles=True) == ["flag"]
    assert wildcard_keys_union([]) == []
