"""nlq's PromQL engine on hand-made data: the Prometheus rules it must keep."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from nlq.dialects.promql import ast as A
from nlq.engine.promql import PromQLError, evaluate
from nlq.errors import NlqError
from nlq.results import TimeRange, compare

MIN = 60_000


def make_db(series: dict[str, list]) -> duckdb.DuckDBPyConnection:
    """{'name{a="x"}': [v0, v1, ...]} one sample a minute from t=0 (None: none, 'stale': marker)."""
    from nlq.conformance.promqltest import TestStorage

    st = TestStorage()
    lines = []
    for text, values in series.items():
        lines.append(text + " " + " ".join("_" if v is None else str(v) for v in values))
    st.load(MIN, lines)
    return st.storage()


def instant(db, node, t_ms):
    return evaluate(node, db, TimeRange.instant(t_ms))


def values(result):
    return {tuple(sorted(s.labels.items())): s.samples[0][1] for s in result.series}


def sel(name, **labels):
    return A.VectorSelector(name, tuple(A.Matcher(k, "=", v) for k, v in labels.items()))


def test_lookback_and_staleness():
    db = make_db({'up{job="a"}': [1, 1, None, None, None, None, None, None],
                  'up{job="b"}': [1, 1, "stale", None, None, None, None, None]})
    # 5 minutes of lookback: a is still there at 5m (last sample at 1m, 4m before), b ended by its marker
    assert values(instant(db, sel("up"), 5 * MIN)) == {(("__name__", "up"), ("job", "a")): 1.0}
    # lookback is left-open: the sample at 1m is out of (6m-5m, 6m]
    assert values(instant(db, sel("up"), 6 * MIN)) == {}


def test_rate_extrapolation_matches_prometheus():
    db = make_db({"c": [0, 10, 20, 30, 40, 50, 60]})
    rate = A.Call("rate", (A.MatrixSelector(sel("c"), 5 * MIN),))
    # samples 2m..6m in (1m, 6m]: 40 over 4m, extrapolated to the 5m window: 50 in 300 s
    r = values(instant(db, rate, 6 * MIN))[()]
    assert r == pytest.approx(10 / 60)
    increase = A.Call("increase", (A.MatrixSelector(sel("c"), 5 * MIN),))
    assert values(instant(db, increase, 6 * MIN))[()] == pytest.approx(50.0)


def test_counter_reset_and_irate():
    db = make_db({"c": [0, 10, 20, 5, 15]})
    inc = A.Call("increase", (A.MatrixSelector(sel("c"), 4 * MIN + 1),))
    # 0 -> 20, reset to 5, -> 15: an increase of 35 over 4m, window 4m+1ms
    assert values(instant(db, inc, 4 * MIN))[()] == pytest.approx(35 * (240.001 / 240), rel=1e-3)
    irate = A.Call("irate", (A.MatrixSelector(sel("c"), 5 * MIN),))
    assert values(instant(db, irate, 4 * MIN))[()] == pytest.approx(10 / 60)


def test_offset_and_at():
    db = make_db({"g": [0, 1, 2, 3, 4, 5]})
    assert values(instant(db, A.VectorSelector("g", (), offset_ms=2 * MIN), 5 * MIN))[(("__name__", "g"),)] == 3
    assert values(instant(db, A.VectorSelector("g", (), at=60.0), 5 * MIN))[(("__name__", "g"),)] == 1
    r = evaluate(A.VectorSelector("g", (), at="start"), db, TimeRange.range(2 * MIN, 4 * MIN, MIN))
    assert [v for _, v in r.series[0].samples] == [2.0, 2.0, 2.0]


def test_subquery_aligned_to_its_step():
    db = make_db({"g": [0, 1, 2, 3, 4, 5, 6]})
    q = A.Call("sum_over_time", (A.Subquery(sel("g"), 3 * MIN, 2 * MIN),))
    # inner steps are multiples of 2m in (6m-3m, 6m]: 4m and 6m
    assert values(instant(db, q, 6 * MIN))[()] == 10.0


def test_vector_matching_and_errors():
    db = make_db({'a{i="1", j="x"}': [1], 'a{i="1", j="y"}': [2], 'b{i="1"}': [10]})
    one_to_one = A.Binary("+", sel("a"), sel("b"), matching=A.VectorMatching(True, ("i",)))
    with pytest.raises(PromQLError, match="many-to-one matching must be explicit"):
        instant(db, one_to_one, 0)
    group_left = A.Binary("+", sel("a"), sel("b"), matching=A.VectorMatching(True, ("i",), "many-to-one"))
    assert values(instant(db, group_left, 0)) == {(("i", "1"), ("j", "x")): 11.0, (("i", "1"), ("j", "y")): 12.0}
    wrong_side = A.Binary("+", sel("b"), sel("a"), matching=A.VectorMatching(True, ("i",), "many-to-one"))
    with pytest.raises(PromQLError, match="found duplicate series for the match group"):
        instant(db, wrong_side, 0)


def test_name_dropped_late_and_duplicate_labelsets():
    db = make_db({'x{a="1"}': [1, 2], 'y{a="1"}': [3, 4]})
    regex = A.VectorSelector(None, (A.Matcher("__name__", "=~", "x|y"),))
    with pytest.raises(PromQLError, match="same labelset"):
        instant(db, A.Call("abs", (regex,)), MIN)
    # last_over_time keeps the name, so no clash
    kept = A.Call("last_over_time", (A.MatrixSelector(regex, MIN),))
    assert len(instant(db, kept, MIN).series) == 2


def test_aggregations_and_ordering():
    db = make_db({'m{k="a"}': [3], 'm{k="b"}': [1], 'm{k="c"}': [2], 'm{k="d"}': ["NaN"]})
    top = instant(db, A.Aggregation("topk", sel("m"), A.NumberLiteral(2)), 0)
    assert top.ordered and [s.labels["k"] for s in top.series] == ["a", "c"]
    q = instant(db, A.Aggregation("quantile", sel("m"), A.NumberLiteral(0.5)), 0)
    assert q.series[0].samples[0][1] == pytest.approx(1.5)  # NaN sorts first
    cv = instant(db, A.Aggregation("count_values", sel("m"), A.StringLiteral("v")), 0)
    assert {s.labels["v"] for s in cv.series} == {"1", "2", "3", "NaN"}
    assert math.isnan(values(instant(db, A.Aggregation("max", sel("m", k="d")), 0))[()])


def test_histogram_quantile_classic():
    db = make_db({'h_bucket{le="1"}': [10], 'h_bucket{le="2"}': [20], 'h_bucket{le="+Inf"}': [20]})
    q = A.Call("histogram_quantile", (A.NumberLiteral(0.75), sel("h_bucket")))
    assert values(instant(db, q, 0))[()] == pytest.approx(1.5)


def test_label_replace_and_time_functions():
    db = make_db({'m{src="ab-12"}': [1]})
    q = A.Call("label_replace", (sel("m"), A.StringLiteral("dst"), A.StringLiteral("$2"), A.StringLiteral("src"),
                                 A.StringLiteral("([a-z]+)-(.*)")))
    (labels,) = values(instant(db, q, 0))
    assert dict(labels)["dst"] == "12"
    t = 1_700_000_000_000  # 2023-11-14T22:13:20Z
    r = evaluate(A.Call("hour", ()), db, TimeRange.instant(t))
    assert r.series[0].samples[0][1] == 22
    r = evaluate(A.Call("days_in_month", ()), db, TimeRange.instant(t))
    assert r.series[0].samples[0][1] == 30


def test_bad_regex_is_a_clear_error():
    db = make_db({"m": [1]})
    with pytest.raises(NlqError):
        instant(db, A.VectorSelector("m", (A.Matcher("job", "=~", "("),)), 0)


def test_range_query_result_equals_instant_steps():
    db = make_db({'c{a="1"}': list(range(0, 200, 10)), 'c{a="2"}': list(range(0, 400, 20))})
    q = A.Aggregation("sum", A.Call("rate", (A.MatrixSelector(sel("c"), 5 * MIN),)), grouping=("a",))
    rng = evaluate(q, db, TimeRange.range(5 * MIN, 10 * MIN, MIN))
    for t in range(5 * MIN, 10 * MIN + 1, MIN):
        inst = instant(db, q, t)
        picked = {tuple(sorted(s.labels.items())): dict(s.samples)[t] for s in rng.series}
        assert picked == pytest.approx(values(inst))
    assert compare(rng, rng.to_json())[0]


def test_text_queries_go_through_the_parser():
    db = make_db({'m{a="1"}': [1, 2, 3]})
    r = evaluate('sum(m) * 2', db, TimeRange.instant(2 * MIN))
    assert r.series[0].samples[0][1] == 6.0
    assert np.isfinite(r.series[0].samples[0][1])
