"""Each documented Loki rule pinned with a small hand-checked example on nlq's LogQL engine."""

from __future__ import annotations

import math

import duckdb
import pytest

from nlq.dialects.logql import parse
from nlq.engine.logql import EvaluationError, LogStore, evaluate
from nlq.results import TimeRange

S = 1_000_000_000  # ns per second


@pytest.fixture
def store():
    return LogStore(duckdb.connect())


def at(store, query: str, t_s: int) -> dict:
    store.flush()
    result = evaluate(parse(query), store.db, TimeRange.instant(t_s * 1000))
    if result.type == "scalar":
        return {(): result.series[0].samples[0][1]}
    return {tuple(sorted(s.labels.items())): s.samples[0][1] for s in result.series}


def test_range_window_is_half_open(store):
    for t in range(0, 70, 10):  # 0, 10, ..., 60
        store.add({"app": "a"}, t * S, "x")
    # (30s, 60s]: 40, 50 and 60 are in, 30 is out
    assert at(store, 'count_over_time({app="a"}[30s])', 60) == {(("app", "a"),): 3}
    # rate is count / range seconds
    assert at(store, 'rate({app="a"}[30s])', 60) == {(("app", "a"),): 0.1}
    # offset moves the window back: (0s, 30s] holds 10, 20, 30
    assert at(store, 'count_over_time({app="a"}[30s] offset 30s)', 60) == {(("app", "a"),): 3}


def test_range_query_steps_from_start_to_end_inclusive(store):
    for t in (10, 20, 30):
        store.add({"app": "a"}, t * S, "x")
    store.flush()
    result = evaluate(
        parse('count_over_time({app="a"}[10s])'), store.db, TimeRange.range(10_000, 40_000, 10_000)
    )
    assert result.type == "matrix"
    assert result.series[0].samples == [
        (10_000, 1.0),
        (20_000, 1.0),
        (30_000, 1.0),
    ]  # nothing at 40s


def test_parsed_label_clashing_with_a_stream_label_gets_extracted_suffix(store):
    store.add({"app": "a", "level": "stream"}, 10 * S, "level=parsed code=200")
    got = at(store, 'count_over_time({app="a"} | logfmt [1m])', 60)
    assert got == {
        (("app", "a"), ("code", "200"), ("level", "stream"), ("level_extracted", "parsed")): 1
    }


def test_parser_errors_fail_a_metric_query_unless_filtered(store):
    store.add({"app": "a"}, 10 * S, '{"ok": 1}')
    store.add({"app": "a"}, 20 * S, "not json")
    with pytest.raises(EvaluationError, match="JSONParserErr"):
        at(store, 'count_over_time({app="a"} | json [1m])', 60)
    assert at(store, 'count_over_time({app="a"} | json | __error__="" [1m])', 60) == {
        (("app", "a"), ("ok", "1")): 1
    }


def test_unwrap_conversions_and_aggregations(store):
    for t, d in ((10, "250ms"), (20, "1.5s"), (30, "1m")):
        store.add({"app": "a"}, t * S, f"took={d} size=2KiB")
    assert at(store, 'sum_over_time({app="a"} | logfmt | unwrap duration(took) [1m])', 60) == {
        (("app", "a"), ("size", "2KiB")): 61.75
    }
    assert at(store, 'max_over_time({app="a"} | logfmt | unwrap bytes(size) [1m])', 60) == {
        (("app", "a"), ("took", "250ms")): 2048.0,
        (("app", "a"), ("took", "1.5s")): 2048.0,
        (("app", "a"), ("took", "1m")): 2048.0,
    }
    # quantile_over_time interpolates linearly between ranks: 0.5 of [0.25, 1.5, 60] is 1.5
    q = at(
        store,
        'quantile_over_time(0.5, {app="a"} | logfmt | unwrap duration(took) [1m]) by (app)',
        60,
    )
    assert q == {(("app", "a"),): 1.5}


def test_formatters_change_labels_and_line(store):
    store.add({"app": "a"}, 10 * S, "method=GET")
    assert at(store, 'count_over_time({app="a"} | logfmt | label_format verb=method [1m])', 60) == {
        (("app", "a"), ("verb", "GET")): 1
    }
    # bytes_over_time measures the rewritten line: "get" is 3 bytes
    assert at(
        store, 'bytes_over_time({app="a"} | logfmt | line_format "{{.method | lower}}" [1m])', 60
    ) == {(("app", "a"), ("method", "GET")): 3}


def test_absent_over_time_returns_the_equality_labels_when_nothing_matches(store):
    store.add({"app": "a"}, 10 * S, "x")
    assert at(store, 'absent_over_time({app="b", env=~".+"}[1m])', 60) == {(("app", "b"),): 1}
    assert at(store, 'absent_over_time({app="a"}[1m])', 60) == {}


def test_label_filter_numbers_durations_and_missing_labels(store):
    store.add({"app": "a"}, 10 * S, "status=500 took=2s")
    store.add({"app": "a"}, 20 * S, "status=200 took=500ms")
    store.add({"app": "a"}, 30 * S, "other=1")
    got = at(
        store, 'sum(count_over_time({app="a"} | logfmt | status >= 500 or took < 1s [1m]))', 60
    )
    assert got == {(): 2}
    # a line without the label never passes a numeric filter, even !=
    assert at(store, 'sum(count_over_time({app="a"} | logfmt | status != 200 [1m]))', 60) == {(): 1}


def test_vector_matching_group_left_and_division_by_zero(store):
    for pod in ("p1", "p2"):
        store.add({"app": "a", "pod": pod}, 10 * S, "x")
    store.add({"app": "a", "pod": "p1"}, 20 * S, "x")
    q = 'sum by (app, pod) (count_over_time({app="a"}[1m])) / on (app) group_left sum by (app) (count_over_time({app="a"}[1m]))'
    got = at(store, q, 60)
    assert got[(("app", "a"), ("pod", "p1"))] == pytest.approx(2 / 3)
    assert got[(("app", "a"), ("pod", "p2"))] == pytest.approx(1 / 3)
    zero = at(store, 'count_over_time({app="a"}[1m]) / 0', 60)
    assert all(math.isnan(v) for v in zero.values())
    assert at(store, "2 ^ 3 ^ 2", 60) == {(): 512}


def test_log_query_returns_streams_newest_first(store):
    store.add({"app": "a"}, 10 * S, "first")
    store.add({"app": "a"}, 20 * S, "second error")
    store.flush()
    result = evaluate(parse('{app="a"} |= "error" or "first"'), store.db, TimeRange.instant(60_000))
    assert result.type == "streams"
    assert result.series[0].lines == [(20 * S, "second error"), (10 * S, "first")]


def test_label_filter_errors_follow_loki(store):
    store.add({"app": "a"}, 10 * S, "took=oops size=3MB")
    store.add({"app": "a"}, 20 * S, "took=2s size=500KB")
    # a value a converting filter cannot read marks the line with __error__: the query fails
    with pytest.raises(EvaluationError, match="LabelFilterErr"):
        at(store, 'count_over_time({app="a"} | logfmt | took > 1s [1m])', 60)
    # ... unless a later comparison drops that line anyway
    assert at(
        store, 'sum(count_over_time({app="a"} | logfmt | took > 1s and size < 1MB [1m]))', 60
    ) == {(): 1}
    # | __error__="" drops it; a converting filter cannot read __error__ and drops every line
    assert at(
        store, 'sum(count_over_time({app="a"} | logfmt | took > 1s | __error__="" [1m]))', 60
    ) == {(): 1}
    assert (
        at(store, 'count_over_time({app="a"} | logfmt | took > 1s | __error__ > 0 [1m])', 60) == {}
    )


def test_pattern_parser_fills_leading_captures_on_short_lines(store):
    store.add({"app": "a"}, 10 * S, "POST")
    got = at(store, 'count_over_time({app="a"} | pattern "<method> <path>" [1m])', 60)
    assert got == {(("app", "a"), ("method", "POST")): 1}
