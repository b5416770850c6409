"""Validation splitters: the index rules of SPEC §4.4 and how folds cut each kind of data."""

from __future__ import annotations

import numpy as np
import pytest

from arrowscope.automl import (
    AnchoredWalkForwardTimeSeriesCrossValidationSplitter,
    KFoldCrossValidationSplitter,
    ValidationSplitter,
    WalkForwardTimeSeriesCrossValidationSplitter,
)
from arrowscope.automl.splitters import Fold


def indices(folds: list[Fold]) -> list[tuple[list[int], list[int]]]:
    return [([i for r in tr for i in r], [i for r in va for i in r]) for tr, va in folds]


@pytest.mark.parametrize(
    ("size", "n", "k"),
    [(0.2, 10, 8), (0.25, 8, 6), (0.0, 7, 7), (1.0, 7, 0), (0.5, 5, 2), (0.3, 1, 0)],
)
def test_validation_splitter_cuts_at_floor_of_n_times_one_minus_v(
    size: float, n: int, k: int
) -> None:
    assert indices(ValidationSplitter(size).fold_ranges(n)) == [(list(range(k)), list(range(k, n)))]


@pytest.mark.parametrize("size", [-0.1, 1.5, float("nan"), float("inf"), True, "0.2", None])
def test_validation_splitter_rejects_a_bad_ratio(size: object) -> None:
    with pytest.raises(ValueError, match=r"validation_size=.*\[0, 1\]"):
        ValidationSplitter(size)  # type: ignore[arg-type]


def test_validation_splitter_cuts_parallel_arrays_and_lists_alike() -> None:
    x, y = np.arange(20).reshape(10, 2), np.arange(10) * 10
    [((x_train, y_train), (x_valid, y_valid))] = ValidationSplitter(0.2).split((x, y))
    assert x_train.shape == (8, 2) and x_valid.tolist() == [[16, 17], [18, 19]]
    assert y_train.tolist() == [0, 10, 20, 30, 40, 50, 60, 70] and y_valid.tolist() == [80, 90]
    [(train, valid)] = ValidationSplitter(0.5).split(["a", "b", "c", "d"])
    assert (train, valid) == (["a", "b"], ["c", "d"])
    [((xs, none), _valid)] = ValidationSplitter(0.5).split((x, None))
    assert none is None and len(xs) == 5


def test_parallel_arrays_must_have_the_same_length() -> None:
    with pytest.raises(ValueError, match=r"same length along axis 0.*\[3, 4\]"):
        ValidationSplitter(0.5).split((np.arange(3), np.arange(4)))


def test_kfold_blocks_follow_step_n_over_k() -> None:
    # step = 10/3: validation blocks [0, 3), [3, 6), [6, 10); train is the rest, in order.
    assert indices(KFoldCrossValidationSplitter(3).fold_ranges(10)) == [
        ([3, 4, 5, 6, 7, 8, 9], [0, 1, 2]),
        ([0, 1, 2, 6, 7, 8, 9], [3, 4, 5]),
        ([0, 1, 2, 3, 4, 5], [6, 7, 8, 9]),
    ]
    folds = KFoldCrossValidationSplitter(4).fold_ranges(7)  # step 1.75: 0, 1, 3, 5, 7
    assert [va for _tr, va in indices(folds)] == [[0], [1, 2], [3, 4], [5, 6]]


def test_kfold_concatenates_train_parts_of_arrays_and_lists() -> None:
    x = np.arange(12).reshape(6, 2)
    folds = KFoldCrossValidationSplitter(3).split((x, list("abcdef")))
    (x_train, letters_train), (x_valid, letters_valid) = folds[1]
    assert x_train[:, 0].tolist() == [0, 2, 8, 10] and x_valid[:, 0].tolist() == [4, 6]
    assert letters_train == ["a", "b", "e", "f"] and letters_valid == ["c", "d"]
    # Other sequences: one block keeps the type, several become a list.
    assert KFoldCrossValidationSplitter(3).split(range(6))[1] == ([0, 1, 4, 5], range(2, 4))


@pytest.mark.parametrize("k", [1, 0, -2, 2.5, True])
def test_kfold_rejects_fewer_than_two_folds(k: object) -> None:
    with pytest.raises(ValueError, match=r"k_fold=.*int >= 2"):
        KFoldCrossValidationSplitter(k)  # type: ignore[arg-type]


def test_kfold_needs_at_least_k_items() -> None:
    with pytest.raises(ValueError, match="needs at least 5 items, got 3"):
        KFoldCrossValidationSplitter(5).split(np.arange(3))


def test_anchored_walk_forward_index_rules() -> None:
    # T=10, min_train=3, window=2, padding=1: ceil((10-3-1)/2) = 3 folds.
    splitter = AnchoredWalkForwardTimeSeriesCrossValidationSplitter(3, 2, 1)
    assert indices(splitter.fold_ranges(10)) == [
        ([0, 1, 2], [4, 5]),
        ([0, 1, 2, 3, 4], [6, 7]),
        ([0, 1, 2, 3, 4, 5, 6], [8, 9]),
    ]
    # T=11: ceil(7/2) = 4 folds, the last validation window clipped to [10, 11).
    assert indices(splitter.fold_ranges(11))[-1] == (list(range(9)), [10])
    dropping = AnchoredWalkForwardTimeSeriesCrossValidationSplitter(3, 2, 1, drop_remainder=True)
    assert len(dropping.fold_ranges(11)) == 3


def test_walk_forward_slides_a_fixed_training_window() -> None:
    splitter = WalkForwardTimeSeriesCrossValidationSplitter(3, 2)
    # T=9, window 2: ceil((9-3)/2) = 3 folds; train [2i, 3+2i).
    assert indices(splitter.fold_ranges(9)) == [
        ([0, 1, 2], [3, 4]),
        ([2, 3, 4], [5, 6]),
        ([4, 5, 6], [7, 8]),
    ]
    # The window defaults to the training size.
    assert indices(WalkForwardTimeSeriesCrossValidationSplitter(2).fold_ranges(6)) == [
        ([0, 1], [2, 3]),
        ([2, 3], [4, 5]),
    ]


def test_walk_forward_cuts_axis_1_by_default_and_axis_0_on_request() -> None:
    series = np.arange(2 * 8 * 3).reshape(2, 8, 3)  # (series, time, features)
    folds = AnchoredWalkForwardTimeSeriesCrossValidationSplitter(4, 2).split((series, series))
    assert [(tr[0].shape, va[1].shape) for tr, va in folds] == [
        ((2, 4, 3), (2, 2, 3)),
        ((2, 6, 3), (2, 2, 3)),
    ]
    one = WalkForwardTimeSeriesCrossValidationSplitter(2, axis=0).split(list(range(6)))
    assert one == [([0, 1], [2, 3]), ([2, 3], [4, 5])]
    with pytest.raises(ValueError, match=r"shape \(6,\) along axis 1.*axis=0"):
        WalkForwardTimeSeriesCrossValidationSplitter(2).split(np.arange(6))
    with pytest.raises(ValueError, match="list can only be split along axis 0"):
        WalkForwardTimeSeriesCrossValidationSplitter(2).split(list(range(6)))


def test_walk_forward_rejects_bad_sizes_and_too_short_series() -> None:
    with pytest.raises(ValueError, match=r"training size must be an int >= 1, got 0"):
        AnchoredWalkForwardTimeSeriesCrossValidationSplitter(0)
    with pytest.raises(ValueError, match=r"padding_between_training_and_validation .* got -1"):
        WalkForwardTimeSeriesCrossValidationSplitter(2, 1, -1)
    with pytest.raises(ValueError, match="4 time steps is too short"):
        AnchoredWalkForwardTimeSeriesCrossValidationSplitter(3, 2, 1, axis=0).split(range(4))


def test_none_data_gives_empty_folds_and_objects_without_length_are_refused() -> None:
    assert ValidationSplitter(0.5).split(None) == [(None, None)]
    with pytest.raises(TypeError, match="cannot split a dict"):
        ValidationSplitter(0.5).split({"a": 1})
