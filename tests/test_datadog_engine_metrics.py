"""The Datadog metrics engine: each documented rule pinned by a small example
computed by hand, on a tiny in-memory store with the snapshot's table layout.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from nlq.engine.datadog.metrics import default_interval, query_metrics

T0 = 1_800_000_000_000 - (1_800_000_000_000 % 3_600_000)  # an hour boundary, in ms
MIN = 60_000


def _store(series: list[tuple[str, str, int, list[str], list[tuple[int, float]]]]):
    """series: (metric, type, submission interval s, tags, [(ts_ms, value)])."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE dd_metrics(metric VARCHAR, type VARCHAR, interval_s INTEGER, unit VARCHAR, description VARCHAR)"
    )
    con.execute("CREATE TABLE dd_series(series_id INTEGER, metric VARCHAR, tags VARCHAR[])")
    con.execute("CREATE TABLE dd_points(series_id INTEGER, ts BIGINT, value DOUBLE)")
    seen = set()
    for sid, (metric, type_, interval, tags, points) in enumerate(series):
        if metric not in seen:
            con.execute(
                "INSERT INTO dd_metrics VALUES (?, ?, ?, '', '')", [metric, type_, interval]
            )
            seen.add(metric)
        con.execute("INSERT INTO dd_series VALUES (?, ?, ?)", [sid, metric, sorted(tags)])
        for ts, value in points:
            con.execute("INSERT INTO dd_points VALUES (?, ?, ?)", [sid, ts, value])
    return con


def _values(result, group=()):
    by = result.by_group()
    return by[group]


@pytest.fixture
def con():
    return _store(
        [
            # gauge, two hosts; host:a has a gap at minute 2
            (
                "cpu",
                "gauge",
                15,
                ["host:a", "env:prod"],
                [(T0, 1.0), (T0 + 30_000, 3.0), (T0 + MIN, 5.0), (T0 + 3 * MIN, 9.0)],
            ),
            (
                "cpu",
                "gauge",
                15,
                ["host:b", "env:prod"],
                [(T0, 10.0), (T0 + MIN, 20.0), (T0 + 2 * MIN, 30.0), (T0 + 3 * MIN, 40.0)],
            ),
            (
                "cpu",
                "gauge",
                15,
                ["host:c", "env:dev"],
                [(T0, 100.0), (T0 + MIN, 100.0), (T0 + 2 * MIN, 100.0), (T0 + 3 * MIN, 100.0)],
            ),
            # count: events per 10 s interval
            (
                "hits",
                "count",
                10,
                ["service:web"],
                [(T0, 2.0), (T0 + 10_000, 4.0), (T0 + MIN, 6.0)],
            ),
            (
                "hits",
                "count",
                10,
                ["service:api"],
                [(T0, 1.0), (T0 + MIN, 1.0), (T0 + 2 * MIN, 1.0), (T0 + 3 * MIN, 1.0)],
            ),
            ("errors", "count", 10, ["service:web"], [(T0, 1.0), (T0 + MIN, 3.0)]),
            # rate: per-second values submitted every 10 s
            ("msgs", "rate", 10, ["topic:a"], [(T0, 0.5), (T0 + 10_000, 1.5)]),
            # distribution: raw observations
            (
                "latency",
                "distribution",
                10,
                ["service:web"],
                [(T0, v) for v in (1.0, 2.0, 3.0, 4.0)],
            ),
            (
                "latency",
                "distribution",
                10,
                ["service:api"],
                [(T0 + 1000, v) for v in (5.0, 6.0, 7.0, 8.0, 9.0, 10.0)],
            ),
        ]
    )


def q(con, text, start=T0, end=T0 + 4 * MIN, interval=60):
    return query_metrics(con, text, start, end, interval)


def test_interval_keeps_under_300_points():
    # "on a one-day view ... 288 buckets of 5 minutes"
    # https://docs.datadoghq.com/metrics/guide/what-is-the-granularity-of-my-graphs-am-i-seeing-raw-data-or-aggregates-on-my-graph/
    assert default_interval(0, 86_400_000) == 300
    assert default_interval(0, 3_600_000) == 15  # 240 points; 10 s would give 360
    assert default_interval(0, 4 * 3_600_000) == 60


def test_buckets_are_aligned_to_unix_time(con):
    # "The start and end of rollup intervals are aligned to UNIX time"
    # https://docs.datadoghq.com/dashboards/functions/rollup/#rollups-in-monitors
    result = q(con, "avg:cpu{host:b}", start=T0 + 30_000)
    assert result.times[0] == T0
    assert _values(result)[:2] == [10.0, 20.0]


def test_default_time_aggregation_is_avg(con):
    # .rollup(avg) is the default: https://docs.datadoghq.com/dashboards/functions/rollup/
    assert _values(q(con, "avg:cpu{host:a}"))[0] == 2.0  # (1 + 3) / 2


def test_rollup_method_and_interval(con):
    assert _values(q(con, "avg:cpu{host:a}.rollup(max)"))[0] == 3.0
    assert _values(q(con, "avg:cpu{host:a}.rollup(sum)"))[0] == 4.0
    result = query_metrics(con, "avg:cpu{host:a}.rollup(sum, 120)", T0, T0 + 4 * MIN)
    assert result.interval_s == 120
    assert _values(result)[:2] == [9.0, 9.0]  # 1+3+5, 9
    # "if you're requesting .rollup(20) for a month-long window, data is returned at a
    # rollup greater than 20 seconds": a finer rollup than the interval is not honoured
    assert q(con, "avg:cpu{host:a}.rollup(avg, 10)").interval_s == 60
    assert q(con, "avg:cpu{host:a}.rollup(avg, 120)").interval_s == 120


def test_space_aggregation_after_time_aggregation(con):
    # https://docs.datadoghq.com/metrics/#space-aggregation
    assert _values(q(con, "avg:cpu{env:prod}.fill(null)"))[0] == 6.0  # avg(2, 10)
    assert _values(q(con, "sum:cpu{env:prod}.fill(null)"))[0] == 12.0
    assert _values(q(con, "max:cpu{*}"))[0] == 100.0
    by_host = q(con, "avg:cpu{env:prod} by {host}").by_group()
    assert set(by_host) == {("host:a",), ("host:b",)}


def test_linear_interpolation_fills_gauge_gaps(con):
    # default: linear, up to 5 minutes after real samples
    # https://docs.datadoghq.com/metrics/guide/interpolation-the-fill-modifier-explained/
    a = _values(q(con, "avg:cpu{host:a}"))
    assert a == [2.0, 5.0, 7.0, 9.0]
    assert _values(q(con, "avg:cpu{host:a}.fill(null)"))[2] is None
    assert _values(q(con, "avg:cpu{host:a}.fill(zero)"))[2] == 0.0
    assert _values(q(con, "avg:cpu{host:a}.fill(last)"))[2] == 5.0
    assert (
        _values(q(con, "avg:cpu{host:a}.fill(linear, 30)"))[2] is None
    )  # gap longer than the limit


def test_count_as_count_and_as_rate(con):
    # COUNT: as_count() sums; as_rate() divides by the interval
    # https://docs.datadoghq.com/metrics/custom_metrics/type_modifiers/
    assert _values(q(con, "sum:hits{service:web}.as_count()"))[:2] == [6.0, 6.0]
    assert _values(q(con, "sum:hits{service:web}.as_rate()"))[:2] == [0.1, 0.1]
    # "aligned as 0": the empty minutes are 0, not gaps
    assert _values(q(con, "sum:hits{service:web}.as_count()"))[2:] == [0.0, 0.0]


def test_rate_as_count_multiplies_by_the_submission_interval(con):
    # RATE .as_count(): sum, times the sampling interval: 0.5*10 + 1.5*10
    assert _values(q(con, "sum:msgs{*}.as_count()"))[0] == 20.0
    assert _values(q(con, "sum:msgs{*}"))[0] == 1.0  # per-second values averaged


def test_gauge_ignores_as_count(con):
    # "GAUGE ... as_count() and as_rate() modifiers have no effect on them"
    assert _values(q(con, "avg:cpu{host:a}.as_count()")) == _values(q(con, "avg:cpu{host:a}"))


def test_distribution_percentiles_over_time_and_space(con):
    # https://docs.datadoghq.com/metrics/distributions/: aggregated globally, per bucket
    assert _values(q(con, "p50:latency{*}"))[0] == pytest.approx(
        float(np.quantile(np.arange(1, 11), 0.5))
    )
    assert _values(q(con, "max:latency{*}"))[0] == 10.0
    assert _values(q(con, "p50:latency{*} by {service}"), ("service:web",))[0] == 2.5


def test_scope_filters(con):
    # https://docs.datadoghq.com/metrics/advanced-filtering/
    assert _values(q(con, "sum:cpu{!host:c}.fill(null)"))[0] == 12.0
    assert _values(q(con, "sum:cpu{host IN (a, c)}.fill(null)"))[0] == 102.0
    assert _values(q(con, "sum:cpu{host NOT IN (a, c)}"))[0] == 10.0
    assert _values(q(con, "sum:cpu{env:prod AND NOT host:a}"))[0] == 10.0
    assert _values(q(con, "sum:cpu{env:pr*,host:b}"))[0] == 10.0
    assert (
        _values(q(con, "sum:cpu{$host}.fill(null)"))[0] == 112.0
    )  # an unset template variable matches all


def test_arithmetic_matches_series_by_group(con):
    ratio = q(
        con, "sum:errors{*} by {service}.as_count() / sum:hits{*} by {service}.as_count() * 100"
    )
    # service:api has no errors series, so no ratio line; 0 hits divide to no value
    assert ratio.by_group() == {("service:web",): [pytest.approx(100 / 6), 50.0, None, None]}
    # an ungrouped query applies to every group of the other side
    per_service_share = q(con, "sum:hits{*} by {service}.as_count() / sum:hits{*}.as_count()")
    assert per_service_share.by_group()[("service:web",)][0] == pytest.approx(6 / 7)
    assert _values(q(con, "avg:cpu{host:b} * 2 + 1"))[0] == 21.0
    assert _values(q(con, "-avg:cpu{host:b}"))[0] == -10.0


def test_functions(con):
    # https://docs.datadoghq.com/dashboards/functions/
    assert _values(q(con, "abs(-avg:cpu{host:b})"))[0] == 10.0
    assert _values(q(con, "log10(avg:cpu{host:c})"))[0] == 2.0
    assert _values(q(con, "diff(avg:cpu{host:b})")) == [None, 10.0, 10.0, 10.0]
    assert _values(q(con, "per_second(avg:cpu{host:b})"))[1] == pytest.approx(10 / 60)
    assert _values(q(con, "cumsum(avg:cpu{host:b})")) == [10.0, 30.0, 60.0, 100.0]
    assert _values(q(con, "clamp_max(avg:cpu{host:b}, 25)")) == [10.0, 20.0, 25.0, 25.0]


def test_timeshift_reads_the_earlier_window(con):
    # timeshift(q, -60): the value one minute earlier, at today's timestamps
    # https://docs.datadoghq.com/dashboards/functions/timeshift/
    assert _values(q(con, "timeshift(avg:cpu{host:b}, -60)"))[1:] == [10.0, 20.0, 30.0]
    shifted = q(con, "hour_before(avg:cpu{host:b})", start=T0 + 60 * MIN, end=T0 + 64 * MIN)
    assert _values(shifted) == [10.0, 20.0, 30.0, 40.0]


def test_top(con):
    # https://docs.datadoghq.com/dashboards/functions/rank/
    result = q(con, "top(avg:cpu{*} by {host}, 2, 'mean', 'desc')")
    assert [s.group for s in result.series] == [("host:c",), ("host:b",)]
    result = q(con, "bottom5_max(avg:cpu{*} by {host})")
    assert [s.group for s in result.series][0] == ("host:a",)
    assert not math.isnan(result.series[0].values[0])


def test_engine_registry_returns_nlq_results(con):
    from nlq.engine import run_query
    from nlq.results import TimeRange

    result = run_query(
        "datadog-metrics",
        "avg:cpu{env:prod} by {host}",
        con,
        TimeRange.range(T0, T0 + 3 * MIN, MIN),
    )
    assert result.type == "matrix"
    by_host = {s.labels["host"]: s.samples for s in result.series}
    assert by_host["b"] == [
        (T0, 10.0),
        (T0 + MIN, 20.0),
        (T0 + 2 * MIN, 30.0),
        (T0 + 3 * MIN, 40.0),
    ]
    instant = run_query("datadog-metrics", "sum:cpu{host:b}", con, TimeRange.instant(T0 + 3 * MIN))
    assert instant.type == "vector"
    assert instant.series[0].samples == [(T0 + 3 * MIN, 40.0)]
    top = run_query(
        "datadog-metrics",
        "top(avg:cpu{*} by {host}, 1, 'max', 'desc')",
        con,
        TimeRange.range(T0, T0 + 3 * MIN, MIN),
    )
    assert top.ordered and [s.labels for s in top.series] == [{"host": "c"}]
