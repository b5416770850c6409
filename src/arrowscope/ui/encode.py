"""Query results as JSON for the browser: columns, hyperparameter columns, plain values.

Results travel column by column (``{"trial": [...], "score": [...]}``): one
list per column is smaller and faster to build and to parse than one object
per row. JSON has no NaN or infinity: non-finite floats become ``null`` in
measurement columns, and the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` where the value itself matters (hyperparameters, SQL results).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any, Final

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

#: Numeric hyperparameters whose positive values span this ratio get a log axis.
LOG_RATIO: Final = 100.0


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; raises ValueError on NaN or infinity (encode them first)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def columns(table: pa.Table) -> dict[str, list[Any]]:
    """Every column of ``table`` as a list, non-finite floats as None."""
    out: dict[str, list[Any]] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(column.type):
            column = pc.if_else(pc.is_finite(column), column, pa.scalar(None, column.type))
        out[name] = column.to_pylist()
    return out


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """``table`` as a list of records (for short results), non-finite floats as None."""
    data = columns(table)
    names = list(data)
    return [dict(zip(names, values, strict=True)) for values in zip(*data.values(), strict=True)]


def json_value(value: Any) -> Any:
    """Any DuckDB result value as JSON: numbers stay numbers, the rest becomes text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (dt.timedelta, uuid.UUID)):
        return str(value)
    return str(value)


def hyperparameter_columns(trials: list[int], params: pa.Table) -> list[dict[str, Any]]:
    """One column per hyperparameter name, aligned with ``trials``.

    Args:
        trials: the trial numbers, in the order of the table the columns join.
        params: rows of the ``params`` view (trial, name, value, value_num).

    Returns:
        ``{"name", "kind", "log", "varies", ...}`` per name, in name order.
        ``kind`` is ``"number"`` when every present value is a number (then
        ``values`` holds numbers, non-finite ones as strings), else ``"text"``
        (then ``labels`` and ``codes``: the distinct texts sorted, and each
        trial's index into them, -1 when the trial has no such
        hyperparameter). ``log``: every value is positive and they span two
        decades or more (how a log-uniform search looks); ``varies``: not
        every trial has the same value.
    """
    if params.num_rows == 0:
        return []
    order = pl.DataFrame({"trial": trials}, schema={"trial": pl.Int64})
    frame = pl.from_arrow(params)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(pl.col("trial").cast(pl.Int64))
    out = []
    for (name,), group in frame.group_by("name", maintain_order=True):
        aligned = order.join(group, on="trial", how="left", maintain_order="left")
        out.append(_column(str(name), aligned["value"], aligned["value_num"]))
    return out


def _column(name: str, text: pl.Series, number: pl.Series) -> dict[str, Any]:
    present = text.is_not_null()
    numeric = bool((number.is_not_null() | ~present).all())
    distinct = text.n_unique()
    if numeric:
        values = [json_value(v) for v in number.to_list()]
        finite = number.filter(number.is_finite())
        low, high = finite.min(), finite.max()
        log = (
            isinstance(low, float | int)
            and isinstance(high, float | int)
            and low > 0
            and high / low >= LOG_RATIO
        )
        return {
            "name": name,
            "kind": "number",
            "log": bool(log),
            "varies": distinct > 1,
            "values": values,
        }
    labels = sorted(text.drop_nulls().unique().to_list())
    index = {label: i for i, label in enumerate(labels)}
    codes = [-1 if v is None else index[v] for v in text.to_list()]
    return {
        "name": name,
        "kind": "text",
        "log": False,
        "varies": distinct > 1,
        "labels": labels,
        "codes": codes,
    }
