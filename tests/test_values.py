"""Values are stored exactly or refused at the call: hyperparameters, metric values, names.

Every round trip reads back through ``arrowscope.connect`` (the views); the plain
DuckDB and polars recipes of the README have their own tests in ``test_readers.py``.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import arrowscope as asc
from _scopes import open_root, stub
from arrowscope.errors import InvalidNameError
from arrowscope.hyperparams import HyperparameterSamples, HyperparameterSpace
from arrowscope.values import dumps, loads


def _forbid_constants(token: str) -> Any:
    raise AssertionError(f"non-standard JSON token {token}")


def strict_json(text: str) -> Any:
    """``json.loads`` that fails on NaN/Infinity tokens, as DuckDB and polars do."""
    return json.loads(text, parse_constant=_forbid_constants)


def same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN and the type kept (1 and 1.0 and True differ)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


# -- hyperparameters: NaN and infinity ------------------------------------------------------
def test_non_finite_hyperparameters_are_standard_json_strings() -> None:
    hp = HyperparameterSamples({"a": math.nan, "b": math.inf, "c": -math.inf, "d": 0.5})
    text = hp.to_json()
    assert strict_json(text) == {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 0.5}
    back = HyperparameterSamples.from_json(text)
    assert all(same(back[k], hp[k]) for k in hp)
    assert pl.Series([text]).str.json_decode().struct.field("b").to_list() == ["Infinity"]


def test_samples_with_nan_equal_their_stored_copy() -> None:
    hp = HyperparameterSamples({"a": float("nan"), "b": 1})
    assert HyperparameterSamples.from_json(hp.to_json()) == hp
    assert hp == {"a": float("nan"), "b": 1} and hp != {"a": 0.0, "b": 1}


def test_bare_nan_tokens_written_earlier_are_still_read() -> None:
    back = HyperparameterSamples.from_json('{"a": NaN, "b": -Infinity}')
    assert math.isnan(back["a"]) and back["b"] == -math.inf


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_the_three_spellings_are_refused_as_string_values(text: str) -> None:
    with pytest.raises(ValueError, match=f"'lr'.*{text}.*reserved"):
        HyperparameterSamples({"lr": text})
    with pytest.raises(ValueError, match="reserved"):
        HyperparameterSpace({"act": asc.Choice(["relu", text])})
    assert HyperparameterSamples({"lr": text.lower()})["lr"] == text.lower()  # others pass


def test_space_json_spells_non_finite_values_too() -> None:
    space = HyperparameterSpace({"x": asc.Choice([1.0, math.inf]), "y": -math.inf})
    text = space.to_json()
    strict_json(text)
    assert HyperparameterSpace.from_json(text) == space


# -- hyperparameters: values that would change or break readers -----------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bad \ud800 text", "lone surrogate"),
        (2**63, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        (Decimal("0.1"), "exact float64"),
        (Fraction(1, 3), "exact float64"),
        (np.longdouble(1) / 3, "exact float64"),
        (b"bytes", "not allowed"),
        ([1, 2], "not allowed"),
    ],
    ids=repr,
)
def test_hyperparameter_values_that_would_change_are_refused(value: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message) as caught:
        HyperparameterSamples({"key": value})
    assert "'key'" in str(caught.value)


def test_a_key_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        HyperparameterSamples({"a\udfff": 1})


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (np.float32(0.1), float(np.float32(0.1))),
        (np.int64(-(2**63)), -(2**63)),
        (np.bool_(True), True),
        (Decimal("0.5"), 0.5),
        (Fraction(3, 4), 0.75),
        (2**63 - 1, 2**63 - 1),
        (-0.0, -0.0),
        ("emoji 🚀 \x00 nul", "emoji 🚀 \x00 nul"),
    ],
    ids=repr,
)
def test_hyperparameter_values_are_converted_only_when_exact(value: object, stored: Any) -> None:
    hp = HyperparameterSamples({"key": value})
    assert same(hp["key"], stored)
    assert same(HyperparameterSamples.from_json(hp.to_json())["key"], stored)


def test_values_module_json_helpers_round_trip_nested_data() -> None:
    data = {"a": [math.inf, {"b": -math.inf}], "c": "text"}
    assert loads(dumps(data)) == data
    assert math.isnan(loads(dumps({"n": math.nan}))["n"])


# -- hyperparameters through the views -----------------------------------------------------------
@pytest.fixture(params=["memory", "parquet"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[asc.Root]:
    root = open_root(str(request.param), tmp_path / "runs")
    yield root
    root.close()


def test_non_finite_hyperparameters_reach_the_params_view_as_doubles(root: asc.Root) -> None:
    hp = {"big": 2**63 - 1, "inf": math.inf, "nan": math.nan, "neg": -math.inf, "s": "nan"}
    with root.default_project() as p, p.default_client() as c, c.new_round("m") as r:
        stub(r, hp)
        with r.new_rvs_trial():
            pass
    con = asc.connect(root)
    found = con.sql("select name, value, value_num from params order by name").fetchall()
    assert found[0] == ("big", str(2**63 - 1), float(2**63 - 1))
    assert found[1] == ("inf", "Infinity", math.inf)
    assert found[2][:2] == ("nan", "NaN") and math.isnan(found[2][2])
    assert found[3] == ("neg", "-Infinity", -math.inf)
    assert found[4] == ("s", "nan", None)  # a string that is not a reserved spelling
    ((text,),) = con.sql("select hyperparams from trials").fetchall()
    strict_json(text)
    trial = r[0]
    assert trial.get_hyperparams()["inf"] == math.inf and math.isnan(trial.get_hyperparams()["nan"])


def test_a_refused_hyperparameter_fails_at_the_call_and_records_nothing(root: asc.Root) -> None:
    with root.default_project() as p, p.default_client() as c, c.new_round("m") as r:
        with pytest.raises(ValueError, match="lone surrogate"):
            stub(r, {"act": "\ud800"})
            with r.new_rvs_trial():
                pass
        assert len(r) == 0


# -- metric values ---------------------------------------------------------------------------------
ACCEPTED_VALUES = [
    (0.5, 0.5),
    (np.float32(0.1), float(np.float32(0.1))),
    (np.float16(0.5), 0.5),
    (np.int64(-7), -7.0),
    (2**53, float(2**53)),
    (2**60, float(2**60)),
    (Decimal("0.25"), 0.25),
    (Decimal("-Infinity"), -math.inf),
    (Fraction(1, 8), 0.125),
    (math.inf, math.inf),
]
REFUSED_VALUES = [
    (True, TypeError),
    (np.bool_(False), TypeError),
    ("0.5", TypeError),
    (None, TypeError),
    (1j, TypeError),
    (10**400, ValueError),
    (2**53 + 1, ValueError),
    (np.int64(2**53 + 1), ValueError),
    (Decimal("0.1"), ValueError),
    (Fraction(1, 3), ValueError),
    (np.longdouble(1) / 3, ValueError),
]


@contextmanager
def open_metric(root: asc.Root) -> Iterator[asc.MetricResults]:
    with root.default_project() as p, p.default_client() as c, c.new_round("m") as r:
        stub(r, {})
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric("m", True) as m:
                yield m


def stored_values(root: asc.Root) -> list[float]:
    con = asc.connect(root)
    rows = con.sql("select value from metrics where phase = 'valid' order by epoch").fetchall()
    return [row[0] for row in rows]


def test_metric_values_round_trip_exactly_or_are_refused(root: asc.Root) -> None:
    with open_metric(root) as m:
        for value, _ in ACCEPTED_VALUES:
            m.add_valid_result(value)  # type: ignore[arg-type]
        for value, error in REFUSED_VALUES:
            with pytest.raises(error) as caught:
                m.add_valid_result(value)  # type: ignore[arg-type]
            assert repr(value)[:40] in str(caught.value)
            with pytest.raises(error):
                m.add_train_results([0.5, value])  # type: ignore[list-item]
        m.add_valid_result(math.nan)
    found = stored_values(root)
    assert found[:-1] == [stored for _, stored in ACCEPTED_VALUES]
    assert math.isnan(found[-1])  # polars and Python see it; see NOTES on DuckDB's isnan
    assert asc.connect(root).sql(
        "select count(*) from metrics where phase = 'train'"
    ).fetchall() == [(0,)]


BATCHES_REFUSED = [
    (np.zeros((2, 2)), ValueError, r"shape \(2, 2\)"),
    (np.zeros((3, 1)), ValueError, r"shape \(3, 1\)"),
    (np.array(0.5), TypeError, "0-d array"),
    ({"a": 0.5}, TypeError, "dict"),
    ({0.5, 0.25}, TypeError, "set"),
    ("0.5", TypeError, "str"),
    (b"\x00", TypeError, "bytes"),
    (0.5, TypeError, "float"),
    (np.array([True, False]), TypeError, "bool"),
    (np.array([2**53 + 1], dtype=np.int64), ValueError, str(2**53 + 1)),
    ([[0.5, 0.25]], TypeError, "list"),
    ([0.5, "x"], TypeError, "'x'"),  # also given as an iterator and a generator below
    ([0.5, 0.25, None], TypeError, "None"),
    ([0.5, True], TypeError, "bool"),  # a list of floats but one is converted at once
    ((0.5, 10**400), ValueError, "no exact float64"),
    (array("q", [2**53 + 1]), ValueError, str(2**53 + 1)),  # 64-bit ints are checked
]


def test_a_refused_batch_appends_nothing(root: asc.Root) -> None:
    with open_metric(root) as m:
        m.add_valid_results([0.5, 0.25])
        for batch, error, message in BATCHES_REFUSED:
            with pytest.raises(error, match=message):
                m.add_valid_results(batch)
            if isinstance(batch, list):
                with pytest.raises(error, match=message):
                    m.add_valid_results(iter(batch))
                with pytest.raises(error, match=message):
                    m.add_valid_results(item for item in batch)
        m.add_valid_results(np.array([1, 2], dtype=np.int32))
        m.add_valid_results(np.array([0.1], dtype=np.float32))
        m.add_valid_results(np.arange(4.0)[::2])  # a strided view
        m.add_valid_results(np.array([0.75], dtype=">f8"))  # big-endian
        m.add_valid_results(v / 8 for v in range(2))
        m.add_valid_results(pl.Series([0.125]))
        m.add_valid_results(array("d", [0.375, math.inf]))
        m.add_valid_results(array("f", [0.1]))
        m.add_valid_results(array("i", [-3]))
        m.add_valid_results((0.5, -0.0))
        assert len(m) == 17
    assert stored_values(root) == [
        0.5, 0.25, 1.0, 2.0, float(np.float32(0.1)), 0.0, 2.0, 0.75, 0.0, 0.125, 0.125,
        0.375, math.inf, float(np.float32(0.1)), -3.0, 0.5, -0.0,
    ]  # fmt: skip


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["🚀" * 20, "漢" * 80, "%" * 80], ids=["20 emoji", "80 CJK", "80 %"]
)
def test_names_at_the_encoded_limit_are_stored(tmp_path: Path, name: str) -> None:
    root = asc.Root.at(tmp_path / "runs")
    with root.get_project(name) as p, p.get_client(name) as c, c.new_round(name) as r:
        stub(r, {})
        with r.new_rvs_trial() as t, t.new_validation_split() as s:
            with s.managed_metric(name, True) as m:
                m.add_valid_result(0.5)
    root.close()
    con = asc.connect(tmp_path / "runs")
    assert con.sql("select project, client, metric from metrics").fetchall() == [(name,) * 3]


@pytest.mark.parametrize(
    "name", ["🚀" * 21, "漢" * 81, "%" * 81], ids=["21 emoji", "81 CJK", "81 %"]
)
def test_names_past_the_encoded_limit_are_refused_before_any_file(
    tmp_path: Path, name: str
) -> None:
    root = asc.Root.at(tmp_path / "runs")
    with pytest.raises(InvalidNameError, match="240 bytes") as caught:
        with root.get_project(name):
            pass
    assert caught.value.name == name
    with root.default_project() as p:
        with pytest.raises(InvalidNameError, match="240 bytes"):
            with p.get_client(name):
                pass
        with p.default_client() as c:
            with pytest.raises(InvalidNameError, match="240 bytes"):
                with c.new_round(name):
                    pass
    root.close()
