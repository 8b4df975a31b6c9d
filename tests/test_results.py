"""The shared result shape: JSON round trip and comparison rules."""

import math

import pytest

from nlq.errors import UsageError
from nlq.results import Result, Series, TimeRange, almost_equal, as_result, compare


def vec(*items, ordered=False):
    return Result("vector", [Series(dict(lbl), [(1000, v)]) for lbl, v in items], ordered=ordered)


def test_time_range():
    assert TimeRange.instant(5).steps() == [5]
    assert TimeRange.range(0, 10, 5).steps() == [0, 5, 10]
    assert TimeRange.from_seconds(1, 2, 0.5).step_ms == 500
    with pytest.raises(UsageError):
        TimeRange(10, 0)
    with pytest.raises(UsageError):
        TimeRange.range(0, 10, 0)


def test_json_round_trip_and_special_values():
    r = Result("matrix", [Series({"__name__": "x", "a": "1"}, [(0, math.nan), (1, math.inf), (2, -1.5)])])
    data = r.to_json()
    assert data["series"][0]["samples"] == [[0, "NaN"], [1, "+Inf"], [2, -1.5]]
    back = Result.from_json(data)
    assert compare(r, back) == (True, "")


def test_order_ignored_unless_ordered():
    a = vec(({"a": "1"}, 1.0), ({"a": "2"}, 2.0))
    b = vec(({"a": "2"}, 2.0), ({"a": "1"}, 1.0))
    assert compare(a, b)[0]
    assert not compare(vec(({"a": "1"}, 1.0), ({"a": "2"}, 2.0), ordered=True), b)[0]


def test_tolerance_and_nan():
    assert almost_equal(1.0, 1.0 + 1e-9)
    assert not almost_equal(1.0, 1.001)
    assert almost_equal(math.nan, math.nan)
    assert not almost_equal(math.inf, 1e308)
    assert not almost_equal(0.0, 1e-20)
    ok, why = compare(vec(({"a": "1"}, 1.0)), vec(({"a": "1"}, 2.0)))
    assert not ok and "1 != 2" in why


def test_missing_series_and_types():
    ok, why = compare(vec(({"a": "1"}, 1.0)), vec(({"a": "2"}, 1.0)))
    assert not ok and "missing" in why
    assert not compare(vec(), Result("matrix"))[0]


def test_log_lines_are_bags():
    a = Result("streams", [Series({"app": "x"}, lines=[(1, "a"), (2, "b")])])
    b = Result("streams", [Series({"app": "x"}, lines=[(2, "b"), (1, "a")])])
    assert compare(a, b)[0]
    c = Result("streams", [Series({"app": "x"}, lines=[(2, "b"), (2, "b")])])
    assert not compare(a, c)[0]


def test_reference_adapter_shape():
    ref = {"type": "vector", "series": [{"labels": {"a": "1"}, "samples": [(1000, 1.0)]}]}
    assert compare(as_result(ref), vec(({"a": "1"}, 1.0)))[0]
    s = as_result({"type": "string", "series": [{"labels": {}, "samples": [(5, "hi")]}]})
    assert s.string == "hi"
