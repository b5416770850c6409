"""Validation splitters: how a trial's data is cut into (train, valid) folds (SPEC §4.4).

A splitter turns ``data`` into a list of ``(train, valid)`` pairs, one per validation
split of a trial. The cutting rules are plain index arithmetic (``fold_ranges(n)``);
``split(data)`` applies them to:

* a numpy array (along the splitter's axis; slices are views when a fold is contiguous;
  numpy itself is optional),
* any other sequence such as a list (axis 0 only; the parts are joined with ``+``),
* a **tuple** of the above, read as parallel arrays such as ``(x, y)``: every member is
  cut identically, and ``None`` members stay ``None``,
* ``None`` (every fold is ``(None, None)``).

Nothing is shuffled: shuffle your data first if its order carries information.

Example:
    >>> import numpy as np
    >>> x, y = np.arange(10), np.arange(10) * 2
    >>> [(tr[0].tolist(), va[1].tolist()) for tr, va in ValidationSplitter(0.2).split((x, y))]
    [([0, 1, 2, 3, 4, 5, 6, 7], [16, 18])]
    >>> [len(va) for _tr, va in KFoldCrossValidationSplitter(3).split(list(range(10)))]
    [3, 3, 4]
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "AnchoredWalkForwardTimeSeriesCrossValidationSplitter",
    "Fold",
    "KFoldCrossValidationSplitter",
    "Splitter",
    "ValidationSplitter",
    "WalkForwardTimeSeriesCrossValidationSplitter",
    "split_along",
]

# One fold as index blocks: (train blocks, valid blocks), each a tuple of contiguous ranges.
Fold = tuple[tuple[range, ...], tuple[range, ...]]


class Splitter(Protocol):
    """Cuts data into ``(train, valid)`` folds; one validation split per fold."""

    def split(self, data: Any) -> list[tuple[Any, Any]]:
        """Return the ``(train, valid)`` pairs, in fold order."""
        ...


@dataclass(frozen=True)
class ValidationSplitter:
    """One fold: the first ``1 - validation_size`` of the items train, the rest validate.

    With ``n`` items, ``k = floor(n * (1 - validation_size))``: train is ``[0, k)`` and
    validation is ``[k, n)``. ``validation_size=0`` leaves the validation part empty.

    Args:
        validation_size: The share of items held out, in ``[0, 1]``.

    Raises:
        ValueError: ``validation_size`` is not a real number in ``[0, 1]``.
    """

    validation_size: float = 0.2

    def __post_init__(self) -> None:
        size = self.validation_size
        if not _is_real(size) or not 0.0 <= float(size) <= 1.0:
            raise ValueError(
                f"ValidationSplitter(validation_size={size!r}): expected a number in [0, 1], "
                "the share of the data held out for validation (for example 0.2)"
            )

    def fold_ranges(self, n: int) -> list[Fold]:
        """The index blocks of the single fold of ``n`` items."""
        k = math.floor(n * (1.0 - float(self.validation_size)))
        return [((range(0, k),), (range(k, n),))]

    def split(self, data: Any) -> list[tuple[Any, Any]]:
        return split_along(data, self.fold_ranges(length_of(data, 0)), 0)


@dataclass(frozen=True)
class KFoldCrossValidationSplitter:
    """``k`` folds of contiguous validation blocks; train is everything else, in order.

    With ``step = n / k``, fold ``i`` validates on ``[int(step*i), min(int(step*(i+1)), n))``.

    Args:
        k_fold: The number of folds, at least 2.

    Raises:
        ValueError: ``k_fold`` is not an int >= 2 (at construction), or the data has
            fewer than ``k_fold`` items (at ``split``).
    """

    k_fold: int = 3

    def __post_init__(self) -> None:
        if not _is_int(self.k_fold) or self.k_fold < 2:
            raise ValueError(
                f"KFoldCrossValidationSplitter(k_fold={self.k_fold!r}): expected an int >= 2"
            )

    def fold_ranges(self, n: int) -> list[Fold]:
        """The index blocks of the ``k_fold`` folds of ``n`` items."""
        if n < self.k_fold:
            raise ValueError(
                f"KFoldCrossValidationSplitter(k_fold={self.k_fold}) needs at least "
                f"{self.k_fold} items, got {n}"
            )
        step = n / self.k_fold
        folds: list[Fold] = []
        for i in range(self.k_fold):
            a, b = int(step * i), min(int(step * (i + 1)), n)
            train = tuple(r for r in (range(0, a), range(b, n)) if len(r))
            folds.append((train, (range(a, b),)))
        return folds

    def split(self, data: Any) -> list[tuple[Any, Any]]:
        return split_along(data, self.fold_ranges(length_of(data, 0)), 0)


@dataclass(frozen=True)
class AnchoredWalkForwardTimeSeriesCrossValidationSplitter:
    """Walk-forward folds over time whose training part always starts at time 0.

    With ``T`` time steps, the fold count is ``ceil`` (``floor`` with ``drop_remainder``)
    of ``(T - minimum_training_size - padding) / window``. Fold ``i`` trains on
    ``[0, minimum_training_size + i*window)`` and validates on ``window`` steps starting
    at ``minimum_training_size + padding + i*window``, clipped to ``T``.

    Time runs along ``axis``: 1 by default, for arrays shaped ``(series, time, ...)``;
    use ``axis=0`` for a single series or a list.

    Args:
        minimum_training_size: Time steps in the first training part (>= 1).
        validation_window_size: Time steps per validation part, and the step between
            folds (>= 1); ``None`` means ``minimum_training_size``.
        padding_between_training_and_validation: Steps skipped between them (>= 0).
        drop_remainder: Drop a last fold whose validation part is shorter than a window.
        axis: The time axis.

    Raises:
        ValueError: A size is out of range (at construction), or the series is too short
            for one fold (at ``split``).
    """

    minimum_training_size: int
    validation_window_size: int | None = None
    padding_between_training_and_validation: int = 0
    drop_remainder: bool = False
    axis: int = 1

    def __post_init__(self) -> None:
        _check_walk_forward(self)

    def fold_ranges(self, n: int) -> list[Fold]:
        """The index blocks of the folds of a series of ``n`` time steps."""
        return _walk_forward_ranges(self, n, anchored=True)

    def split(self, data: Any) -> list[tuple[Any, Any]]:
        return split_along(data, self.fold_ranges(length_of(data, self.axis)), self.axis)


@dataclass(frozen=True)
class WalkForwardTimeSeriesCrossValidationSplitter:
    """Walk-forward folds over time with a sliding training window of fixed size.

    As :class:`AnchoredWalkForwardTimeSeriesCrossValidationSplitter`, except that fold
    ``i`` trains on ``[i*window, training_window_size + i*window)``.

    Args:
        training_window_size: Time steps in every training part (>= 1).
        validation_window_size: Time steps per validation part, and the step between
            folds (>= 1); ``None`` means ``training_window_size``.
        padding_between_training_and_validation: Steps skipped between them (>= 0).
        drop_remainder: Drop a last fold whose validation part is shorter than a window.
        axis: The time axis (1 for ``(series, time, ...)`` arrays, 0 for one series).

    Raises:
        ValueError: As the anchored splitter.
    """

    training_window_size: int
    validation_window_size: int | None = None
    padding_between_training_and_validation: int = 0
    drop_remainder: bool = False
    axis: int = 1

    def __post_init__(self) -> None:
        _check_walk_forward(self)

    @property
    def minimum_training_size(self) -> int:
        return self.training_window_size

    def fold_ranges(self, n: int) -> list[Fold]:
        """The index blocks of the folds of a series of ``n`` time steps."""
        return _walk_forward_ranges(self, n, anchored=False)

    def split(self, data: Any) -> list[tuple[Any, Any]]:
        return split_along(data, self.fold_ranges(length_of(data, self.axis)), self.axis)


_WalkForward = (
    AnchoredWalkForwardTimeSeriesCrossValidationSplitter
    | WalkForwardTimeSeriesCrossValidationSplitter
)


def _check_walk_forward(splitter: _WalkForward) -> None:
    name = type(splitter).__name__
    padding = splitter.padding_between_training_and_validation
    checks = (
        ("the training size", splitter.minimum_training_size, 1),
        ("validation_window_size", _window(splitter), 1),
        ("padding_between_training_and_validation", padding, 0),
        ("axis", splitter.axis, 0),
    )
    for what, value, lowest in checks:
        if not _is_int(value) or value < lowest:
            raise ValueError(f"{name}: {what} must be an int >= {lowest}, got {value!r}")


def _window(splitter: _WalkForward) -> int:
    window = splitter.validation_window_size
    return splitter.minimum_training_size if window is None else window


def _walk_forward_ranges(splitter: _WalkForward, n: int, anchored: bool) -> list[Fold]:
    train_size, window = splitter.minimum_training_size, _window(splitter)
    first_valid = train_size + splitter.padding_between_training_and_validation
    rounding = math.floor if splitter.drop_remainder else math.ceil
    count = rounding((n - first_valid) / window) if n > first_valid else 0
    if count < 1:
        raise ValueError(
            f"{type(splitter).__name__}: a series of {n} time steps is too short for one "
            f"fold: it needs more than {first_valid} steps (training size + padding)"
            + (f" and a full window of {window}" if splitter.drop_remainder else "")
        )
    folds: list[Fold] = []
    for i in range(count):
        start = 0 if anchored else i * window
        train = range(start, min(train_size + i * window, n))
        valid = range(first_valid + i * window, min(first_valid + (i + 1) * window, n))
        folds.append(((train,), (valid,)))
    return folds


# -- applying folds to data ------------------------------------------------------
def length_of(data: Any, axis: int) -> int:
    """The number of items of ``data`` along ``axis`` (the common length for a tuple).

    Raises:
        ValueError: Tuple members differ in length, or a sequence is cut on an axis > 0.
        TypeError: ``data`` has no length.
    """
    if isinstance(data, tuple):
        lengths = {length_of(part, axis) for part in data if part is not None}
        if len(lengths) > 1:
            raise ValueError(
                f"the parallel arrays of a tuple must have the same length along axis {axis}, "
                f"got lengths {sorted(lengths)}"
            )
        return lengths.pop() if lengths else 0
    if data is None:
        return 0
    if _is_array(data):
        if data.ndim <= axis:
            raise ValueError(
                f"cannot split an array of shape {data.shape} along axis {axis}: "
                "pass axis=0 to the splitter for a single series"
            )
        return int(data.shape[axis])
    if axis != 0:
        raise ValueError(
            f"a {type(data).__name__} can only be split along axis 0, not {axis}: "
            "use a numpy array, or axis=0"
        )
    if not isinstance(data, Sequence):
        raise TypeError(
            f"cannot split a {type(data).__name__}: expected a numpy array, a sequence, "
            "a tuple of those such as (x, y), or None"
        )
    return len(data)


def split_along(data: Any, folds: Sequence[Fold], axis: int = 0) -> list[tuple[Any, Any]]:
    """Apply index ``folds`` to ``data`` along ``axis``: one ``(train, valid)`` per fold."""
    return [(_take(data, train, axis), _take(data, valid, axis)) for train, valid in folds]


def _take(data: Any, blocks: tuple[range, ...], axis: int) -> Any:
    if data is None:
        return None
    if isinstance(data, tuple):
        return tuple(_take(part, blocks, axis) for part in data)
    if _is_array(data):
        import numpy as np

        parts = [_slice_axis(data, block, axis) for block in blocks]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return _slice_axis(data, range(0, 0), axis)
        return np.concatenate(parts, axis=axis)
    pieces = [data[block.start : block.stop] for block in blocks]
    if not pieces:
        return data[0:0]
    if len(pieces) == 1:
        return pieces[0]
    if isinstance(data, (list, str, bytes)):
        joined = pieces[0]
        for piece in pieces[1:]:
            joined = joined + piece
        return joined
    return [item for piece in pieces for item in piece]


def _slice_axis(array: np.ndarray, block: range, axis: int) -> np.ndarray:
    index: list[slice] = [slice(None)] * array.ndim
    index[axis] = slice(block.start, block.stop)
    return array[tuple(index)]


def _is_array(data: object) -> bool:
    """Whether ``data`` is a numpy array (numpy is optional: no array without it loaded)."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(data, numpy.ndarray)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
