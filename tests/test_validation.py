"""Tests for xray_features._validation: the shared argument checks."""

import numpy as np
import pytest

from xray_features._validation import check_pair
from xray_features.enhance import clahe
from xray_features.preprocess import resize, resize_with_padding


@pytest.mark.parametrize("value, expected", [(3, (3, 3)), ((2, 5), (2, 5)), ([4, 1], (4, 1)),
                                             (np.int64(7), (7, 7)),
                                             (np.array([2, 3]), (2, 3))])
def test_check_pair_accepts_an_int_or_a_pair(value, expected):
    pair = check_pair(value, name="grid")
    assert pair == expected and all(type(side) is int for side in pair)


@pytest.mark.parametrize("value, match", [
    ("44", r"grid must be a positive int or a \(rows, columns\) pair of positive ints; "
           r"got '44'\."),
    ((1, 2, 3), r"grid must be .* got \(1, 2, 3\)"),
    (None, "got None"),
    ((0, 2), r"grid\[0\] \(rows\) must be an integer >= 1; got 0"),
    ((2, -1), r"grid\[1\] \(columns\) must be an integer >= 1; got -1"),
    ((2.5, 2), r"grid\[0\] \(rows\) must be an integer >= 1; got 2.5"),
    (True, "grid must be a positive int"),
])
def test_check_pair_errors_name_the_side_and_the_value(value, match):
    with pytest.raises(ValueError, match=match):
        check_pair(value, name="grid")


def test_check_pair_minimum_and_side_names():
    assert check_pair(8, name="image_size", minimum=8) == (8, 8)
    with pytest.raises(ValueError, match=r"image_size\[1\] \(width\) must be an integer >= 8; "
                                         r"got 4"):
        check_pair((8, 4), name="image_size", minimum=8, parts=("height", "width"))


@pytest.mark.parametrize("call, match", [
    (lambda: resize(np.ones((4, 4)), (0, 4)),
     r"shape\[0\] \(height\) must be an integer >= 1; got 0"),
    (lambda: resize(np.ones((4, 4)), (2, 2, 2)),
     r"shape must be a positive int or a \(height, width\) pair"),
    (lambda: resize_with_padding(np.ones((4, 4)), "big"),
     r"size must be a positive int or a \(height, width\) pair .*; got 'big'"),
    (lambda: clahe(np.ones((8, 8), np.uint8), tile_grid_size=(2, 0)),
     r"tile_grid_size\[1\] \(width\) must be an integer >= 1; got 0"),
])
def test_preprocess_shape_messages_come_from_check_pair(call, match):
    with pytest.raises(ValueError, match=match):
        call()
