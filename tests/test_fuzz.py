"""Generated names, hyperparameters and metric values: stored exactly, or refused at the call.

Each example writes a small batch of values into one Parquet directory through
the scope API, then reads it back through ``arrowscope.connect`` (the views),
plain DuckDB with the README's ``hive_types``, polars with its ``hive_schema``,
and ``arrowscope.scan``. A refused value must raise ``TypeError`` or
``ValueError`` naming it, at the call, and leave nothing behind.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import arrowscope as asc
from _scopes import stub
from arrowscope.errors import InvalidNameError
from arrowscope.hyperparams import HyperparameterSamples, flatten
from arrowscope.location import validate_name
from arrowscope.readers import HIVE_TYPES, hive_schema

FUZZ = settings(max_examples=12, deadline=None)
DUCKDB_TYPES = "{" + ", ".join(f"'{k}': '{v}'" for k, v in HIVE_TYPES.items()) + "}"

# -- strategies ----------------------------------------------------------------------------
TRICKY_TEXT = [
    "NULL", "null", "001", "-0", "true", "1e5", "NaN", "nan", "Infinity", "-Infinity", "%",
    "%2F", "%25", "'", '"', "x'); drop view metrics; --", "a b", "é 漢", "😀" * 20, "漢" * 80,
    "😀" * 21, "漢" * 81, "__HIVE_DEFAULT_PARTITION__", ".", "..", " x", "a/b", "a=b",
    "a\\b", "tab\t", "nul\x00", "lone \ud800", "\udfff", "a__b", "a____b", "*?[]{}",
]  # fmt: skip
any_char = st.characters(codec=None, exclude_categories=())
surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_text = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.text(st.one_of(any_char, surrogate), max_size=12),
    st.text(any_char, min_size=100, max_size=140),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(width=32).map(np.float32),
    st.floats(width=16).map(np.float16),
    st.integers(),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 10**400, -0.0]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.sampled_from([np.longdouble(1) / 3, np.float64(math.nan), np.uint64(2**64 - 1)]),
)
hyper_values = st.one_of(
    st.none(), st.booleans(), st.builds(np.bool_, st.booleans()), numbers, any_text
)
metric_values = st.one_of(
    numbers, st.booleans(), st.builds(np.bool_, st.booleans()), any_text, st.none()
)
hyperparams = st.recursive(
    st.dictionaries(any_text, hyper_values, max_size=4),
    lambda inner: st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)


# -- helpers -----------------------------------------------------------------------------------
def same(a: object, b: object) -> bool:
    """Equal as stored: NaN equals NaN, and -0.0 keeps its sign."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


def unchanged(given_value: object, stored: object) -> bool:
    """``stored`` is ``given_value`` with only its Python type normalized."""
    if given_value is None or isinstance(given_value, (bool, np.bool_)):
        return stored is (None if given_value is None else bool(given_value))
    if isinstance(given_value, str):
        return stored == given_value
    if isinstance(stored, bool) or not isinstance(stored, (int, float)):
        return False
    if isinstance(stored, int):
        return stored == int(given_value)  # type: ignore[call-overload]
    if stored != stored:
        return bool(given_value != given_value)
    return stored == given_value


def assert_names_value(error: BaseException, value: object) -> None:
    assert isinstance(error, (TypeError, ValueError)), repr(error)
    assert repr(value)[:20] in str(error), (value, str(error))


@contextmanager
def data_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / "runs"


COLUMNS = ("project", "client", "round", "metric", "phase", "epoch", "value")


def plain_duckdb(path: Path) -> list[tuple[Any, ...]]:
    """The metrics rows as plain DuckDB reads them with the README's ``hive_types``."""
    return duckdb.sql(
        f"select {', '.join(COLUMNS)} from read_parquet($glob, hive_partitioning = true, "
        f"hive_types = {DUCKDB_TYPES}) order by project, phase, epoch",
        params={"glob": str(path / "metrics" / "**" / "*.parquet")},
    ).fetchall()


def plain_polars(path: Path) -> list[tuple[Any, ...]]:
    """The metrics rows as polars reads them with the README's ``hive_schema``."""
    glob = str(path / "metrics" / "**" / "*.parquet")
    frame = pl.scan_parquet(glob, hive_partitioning=True, hive_schema=hive_schema())
    return frame.select(COLUMNS).sort("project", "phase", "epoch").collect().rows()


def scanned(path: Path) -> list[tuple[Any, ...]]:
    """The metrics rows as ``arrowscope.scan`` gives them."""
    return asc.scan(path).select(COLUMNS).sort("project", "phase", "epoch").collect().rows()


def values_of(rows: list[tuple[Any, ...]], phase: str = "valid") -> list[float]:
    return [row[-1] for row in rows if row[4] == phase]


# -- names ----------------------------------------------------------------------------------------
@FUZZ
@given(st.lists(any_text, min_size=1, max_size=6, unique=True))
def test_names_round_trip_or_are_refused_at_the_call(names: list[str]) -> None:
    with data_directory() as path:
        root = asc.Root.at(path, flush_interval=3600)
        kept = []
        for name in names:
            try:
                validate_name(name)
            except InvalidNameError as error:
                assert_names_value(error, name)
                try:
                    with root.get_project(name):
                        raise AssertionError(f"{name!r} was accepted by get_project")
                except InvalidNameError:
                    pass
                continue
            with root.get_project(name) as p, p.get_client(name) as c, c.new_round(name) as r:
                stub(r, {})
                with r.new_rvs_trial() as t, t.new_validation_split() as s:
                    with s.managed_metric(name, True) as m:
                        m.add_valid_result(0.5)
            kept.append(name)
        root.close()
        expected = sorted((name, name, 0, name, "valid", 1, 0.5) for name in kept)
        if not kept:
            assert not list(path.glob("metrics/**/*.parquet"))
            return
        con = asc.connect(path)
        views = con.sql(f"select {', '.join(COLUMNS)} from metrics").fetchall()
        assert sorted(views) == expected
        assert sorted(r[0] for r in con.sql("select project from rounds").fetchall()) == sorted(
            kept
        )
        assert sorted(plain_duckdb(path)) == expected
        assert sorted(plain_polars(path)) == expected
        assert sorted(scanned(path)) == expected


# -- hyperparameters --------------------------------------------------------------------------
def check_params_rows(con: duckdb.DuckDBPyConnection, trial: int, flat: dict[str, Any]) -> None:
    rows = con.sql(
        "select name, value, value_num from params where trial = $t order by name",
        params={"t": trial},
    ).fetchall()
    assert [r[0] for r in rows] == sorted(flat)
    for name, text, number in rows:
        value = flat[name]
        if isinstance(value, bool) or value is None or isinstance(value, str):
            assert number is None
            assert text == (
                None if value is None else str(value).lower() if isinstance(value, bool) else value
            )
        elif isinstance(value, int):
            assert text == str(value) and number == float(value)
        else:
            assert same(number, value), (name, value, number)


@FUZZ
@given(st.lists(hyperparams, min_size=1, max_size=4))
def test_hyperparameters_round_trip_or_are_refused_at_the_call(batch: list[dict[str, Any]]) -> None:
    with data_directory() as path:
        root = asc.Root.at(path, flush_interval=3600)
        kept: list[HyperparameterSamples] = []
        given_flat: list[dict[str, Any]] = []
        with root.default_project() as p, p.default_client() as c, c.new_round("m") as r:
            for hp in batch:
                try:
                    samples = HyperparameterSamples(hp)
                except (TypeError, ValueError) as error:
                    assert isinstance(error, (TypeError, ValueError))
                    before = len(r)
                    try:
                        stub(r, hp)
                        raise AssertionError(f"{hp!r} was accepted by the optimizer stub")
                    except (TypeError, ValueError):
                        pass
                    assert len(r) == before
                    continue
                stub(r, hp)
                with r.new_rvs_trial():
                    pass
                kept.append(samples)
                given_flat.append(flatten(hp))
        root.close()
        if not kept:
            return
        again = asc.Root.at(path)
        con = asc.connect(path)
        with again.default_project() as p, p.default_client() as c:
            stored_round = c[0]
            for number, (samples, flat) in enumerate(zip(kept, given_flat, strict=True)):
                stored = stored_round[number].get_hyperparams().to_flat_dict()
                assert list(stored) == list(samples)
                for key, value in flat.items():
                    assert unchanged(value, stored[key]), (key, value, stored[key])
                check_params_rows(con, number, stored)
        texts = [r[0] for r in con.sql("select hyperparams from trials order by trial").fetchall()]
        for text in texts:
            json.loads(text, parse_constant=_refuse_constant)
        decoded = pl.Series(texts).str.json_decode()  # polars parses every row
        assert len(decoded) == len(kept)
        again.close()


def _refuse_constant(token: str) -> Any:
    raise AssertionError(f"non-standard JSON token {token} in stored hyperparameters")


# -- metric values ------------------------------------------------------------------------------
@FUZZ
@given(st.lists(metric_values, min_size=1, max_size=12))
def test_metric_values_round_trip_or_are_refused_at_the_call(values: list[Any]) -> None:
    with data_directory() as path:
        root = asc.Root.at(path, flush_interval=3600)
        kept: list[Any] = []
        batch_refused = False
        with root.default_project() as p, p.default_client() as c, c.new_round("m") as r:
            stub(r, {})
            with r.new_rvs_trial() as t, t.new_validation_split() as s:
                with s.managed_metric("m", True) as m:
                    for value in values:
                        try:
                            m.add_valid_result(value)
                        except (TypeError, ValueError) as error:
                            assert_names_value(error, value)
                            batch_refused = True
                            continue
                        kept.append(value)
                    try:
                        m.add_train_results(values)
                    except (TypeError, ValueError):
                        assert batch_refused
                        assert m.get_train_scores() == []  # nothing of the batch was logged
                    else:
                        assert not batch_refused
                    assert len(m.get_valid_scores()) == len(kept)
        root.close()
        rows = asc.connect(path).sql(f"select {', '.join(COLUMNS)} from metrics").fetchall()
        stored = values_of(sorted(rows, key=lambda row: (row[4], row[5])))
        assert len(stored) == len(kept)
        for given_value, value in zip(kept, stored, strict=True):
            assert unchanged(given_value, value), (given_value, value)
        if batch_refused:
            assert values_of(rows, "train") == []
        for reader in (plain_duckdb, plain_polars, scanned):
            found = values_of(reader(path)) if kept else []
            assert len(found) == len(stored) and all(map(same, found, stored)), reader
