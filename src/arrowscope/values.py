"""What a logged number or a hyperparameter value may be, and how it is written as JSON.

The rule everywhere: a value is stored exactly as given, or refused at the call
with a ``TypeError``/``ValueError`` naming it. Nothing is rounded, truncated or
re-typed on the way to disk without notice.

* **Numbers** (metric values, float hyperparameters) are stored as float64. Any
  real number whose float64 equals it is accepted: ``float``, ``int`` up to
  2**53 in magnitude (and beyond when exactly representable, such as 2**60),
  numpy integers and floats (float16/32/64), ``fractions.Fraction`` and
  ``decimal.Decimal`` when exact (``Fraction(1, 4)``, ``Decimal("0.5")``).
  ``Decimal("0.1")``, ``Fraction(1, 3)``, a ``numpy.longdouble`` with more
  precision, or ``10**400`` would change, so they raise ``ValueError``: pass
  ``float(x)`` to accept the rounding. ``bool`` is refused (``TypeError``).
* **Hyperparameter ints** are stored as JSON integers and must fit in a signed
  64-bit integer (what DuckDB, polars and most JSON readers parse exactly).
* **Text** must be valid Unicode: a lone surrogate (``"\\ud800"``) cannot be
  written as UTF-8 and is refused.
* **NaN and infinities** in hyperparameters are written as the JSON strings
  ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (standard JSON has no such
  numbers; DuckDB casts these strings to DOUBLE) and read back as floats. So a
  string hyperparameter equal to one of these three spellings is refused.
"""

from __future__ import annotations

import json
import math
import numbers
from decimal import Decimal
from typing import Any, Final

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
#: How non-finite floats are spelled in stored JSON (the JavaScript spellings).
NON_FINITE_SPELLINGS: Final[dict[str, float]] = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
}


def exact_float(value: object, what: str = "a metric value") -> float:
    """Return ``value`` as a float64 equal to it.

    Args:
        value: A real number (see the module docstring for what is accepted).
        what: How to name the value in error messages.

    Raises:
        TypeError: ``value`` is not a real number (bools, strings, None, ...).
        ValueError: Its float64 would differ from it (``Decimal("0.1")``, ``10**400``).
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        raise TypeError(
            f"{what} must be a real number (int, float, numpy number, or an exact "
            f"Fraction or Decimal), not {type(value).__name__}: {value!r:.80}"
        )
    # Integers are compared as Python ints: numpy would compare them as floats.
    number = int(value) if isinstance(value, numbers.Integral) else value
    try:
        result = float(number)
    except (OverflowError, ValueError) as exc:
        raise ValueError(_inexact(value, what)) from exc
    if result != number and not (result != result and number != number):  # NaN is NaN
        raise ValueError(_inexact(value, what))
    return result


def _inexact(value: object, what: str) -> str:
    return (
        f"{what} {value!r:.80} ({type(value).__name__}) has no exact float64 value; "
        "values are stored as float64: pass float(value) to store it rounded"
    )


def check_text(text: str, what: str) -> str:
    """Return ``text`` if it can be written as UTF-8; ``ValueError`` naming it otherwise."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise ValueError(
            f"{what} {text!r:.80} holds a lone surrogate {bad!r}, which is not valid "
            "Unicode and cannot be stored as UTF-8"
        ) from exc
    return text


def check_reserved_text(text: str, what: str) -> str:
    """Refuse the three strings that stand for non-finite floats in stored JSON."""
    if text in NON_FINITE_SPELLINGS:
        raise ValueError(
            f"{what} is the string {text!r}, which is reserved: stored hyperparameters spell "
            "the floats nan, inf and -inf as the strings 'NaN', 'Infinity' and '-Infinity'. "
            f"Pass float({text!r}) for the number, or another string"
        )
    return text


def check_int64(value: int, what: str) -> int:
    """Return ``value`` if it fits in a signed 64-bit integer; ``ValueError`` otherwise."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(
            f"{what} {value!r:.80} does not fit in a signed 64-bit integer, the largest "
            "integer that JSON readers (DuckDB, polars) parse exactly; pass it as a str "
            "or a float"
        )
    return value


def dumps(data: object) -> str:
    """JSON text of ``data`` with NaN and ±inf spelled as strings: standard JSON only."""
    return json.dumps(_spell_non_finite(data), allow_nan=False)


def loads(text: str) -> Any:
    """Parse JSON written by :func:`dumps`; ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` → floats.

    Bare ``NaN``/``Infinity`` tokens (written by earlier versions) are read too.
    """
    return _read_non_finite(json.loads(text))


def _spell_non_finite(data: object) -> object:
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if data != data else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {key: _spell_non_finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_spell_non_finite(value) for value in data]
    return data


def _read_non_finite(data: Any) -> Any:
    if isinstance(data, str):
        return NON_FINITE_SPELLINGS.get(data, data)
    if isinstance(data, dict):
        return {key: _read_non_finite(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_read_non_finite(value) for value in data]
    return data
