"""Tests for xray_features._validation: the shared argument checks."""

import numpy as np
import pytest

from xray_features._validation import check_n_jobs, check_pair, check_scalar
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


@pytest.mark.parametrize("value, kwargs, expected", [
    (3, {"low": 1}, 3),
    (np.int64(2), {"low": 2, "high": 4}, 2),
    (4, {"low": 2, "high": 4}, 4),
    (None, {"low": 1, "allow_none": True}, None),
    (0.5, {"integer": False, "low": 0, "high": 1, "high_open": True}, 0.5),
    (np.float32(0.25), {"integer": False, "low": 0, "low_open": True}, 0.25),
    (2, {"integer": False, "low": 0, "high": 255}, 2.0),
])
def test_check_scalar_returns_a_plain_number_within_the_bounds(value, kwargs, expected):
    checked = check_scalar(value, "x", **kwargs)
    assert checked == expected
    assert type(checked) is type(expected)


@pytest.mark.parametrize("value, kwargs, message", [
    (0, {"low": 1}, "x must be an integer >= 1; got 0."),
    (True, {"low": 0}, "x must be an integer >= 0; got True."),
    (2.0, {"low": 1}, "x must be an integer >= 1; got 2.0."),
    ("3", {"low": 1}, "x must be an integer >= 1; got '3'."),
    (5, {"low": 1, "high": 4}, "x must be an integer from 1 to 4; got 5."),
    (4, {"low": 8, "high": 64, "allow_none": True},
     "x must be an integer from 8 to 64 or None; got 4."),
    (1.0, {"integer": False, "low": 0, "high": 1, "low_open": True, "high_open": True,
           "noun": "fraction"}, "x must be a fraction in (0, 1); got 1.0."),
    (float("nan"), {"integer": False, "low": 0, "high": 1},
     "x must be a number in [0, 1]; got nan."),
    (float("inf"), {"integer": False, "low": 0, "low_open": True},
     "x must be a finite number > 0; got inf."),
    (-1, {"integer": False, "low": 0, "high": 20, "hint": "Use 0 for none."},
     "x must be a number in [0, 20]; got -1. Use 0 for none."),
    (5, {"high": 4, "high_open": True}, "x must be an integer < 4; got 5."),
])
def test_check_scalar_names_the_parameter_the_rule_and_the_value(value, kwargs, message):
    with pytest.raises(ValueError) as error:
        check_scalar(value, "x", **kwargs)
    assert str(error.value) == message


@pytest.mark.parametrize("value, ok", [(1, True), (-1, True), (-2, True), (0, False),
                                      (1.0, False), (True, False), (None, False)])
def test_check_n_jobs_takes_a_non_zero_integer(value, ok):
    if ok:
        assert check_n_jobs(value) == value
    else:
        with pytest.raises(ValueError, match=r"n_jobs must be a non-zero integer \(-1: all "
                                             r"cores\); got " + repr(value).replace(".", r"\.")):
            check_n_jobs(value)
    with pytest.raises(ValueError, match="non-zero integer"):
        check_n_jobs(-2, low=-1)
