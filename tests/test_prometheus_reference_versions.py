"""docs/prometheus-versions.md, row by row, shown on the real Prometheus 2.42.

Each test pins what 2.42 does where Prometheus 3 does something else; if Debian
ever ships a 3.x the failures name the rows of the doc to revisit.
"""

from __future__ import annotations

import pytest

from nlq.errors import UsageError
from nlq.reference import prometheus as ref
from nlq.snapshot import open_snapshot, snapshot_names

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ref.binaries_available(),
                       reason="prometheus/promtool not installed (scripts/setup: apt-get install -y prometheus)"),
]

NAME = snapshot_names()[0]
NODE = 'up{job="node"}'


@pytest.fixture(scope="module")
def server():
    started = ref.start(NAME)
    yield started
    ref.stop(NAME)


@pytest.fixture(scope="module")
def node_up_ts():
    """Sample timestamps (ms) of one node's `up` series, and its instance."""
    con = open_snapshot(NAME)
    instance, ts = con.execute("""
        SELECT s.labels['instance'], list(p.ts ORDER BY p.ts) FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'up' AND s.labels['job'] = 'node' GROUP BY 1 ORDER BY 1 LIMIT 1""").fetchone()
    con.close()
    return instance, ts


def value(result):
    (series,) = result.series
    return series.samples[0][1]


def test_1_range_window_includes_the_sample_at_its_start(server, node_up_ts):
    instance, ts = node_up_ts
    t = ts[100] + 60_000  # a sample lies exactly at t - 1m
    q = f'count_over_time(up{{job="node",instance="{instance}"}}[1m])'
    assert value(ref.query(NAME, q, t / 1000)) == 5  # 2.42: [t-1m, t] holds 5 samples; 3.x: 4
    assert value(ref.query(NAME, q, t / 1000 + 0.001)) == 4  # one millisecond later both agree


def test_1_subquery_window_includes_a_step_at_its_start(server):
    q = "count_over_time(vector(1)[2m:1m])"
    assert value(ref.query(NAME, q, 1793534400)) == 3  # steps at t-2m, t-1m, t; 3.x: 2
    assert value(ref.query(NAME, q, 1793534393)) == 2  # off the step grid both agree


def test_2_lookback_includes_a_sample_exactly_5m_old(server):
    con = open_snapshot(NAME)
    instance, last = con.execute("""
        SELECT s.labels['instance'], max(p.ts) FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'up' AND s.labels['job'] = 'checkout' AND NOT p.stale GROUP BY 1 ORDER BY 2 LIMIT 1""").fetchone()
    con.close()
    q = f'up{{job="checkout",instance="{instance}"}}'
    assert len(ref.query(NAME, q, (last + 300_000) / 1000).series) == 1  # 2.42: still there; 3.x: gone
    assert len(ref.query(NAME, q, (last + 300_001) / 1000).series) == 0


def test_3_holt_winters_is_known_and_its_3x_name_is_not(server, node_up_ts):
    t = node_up_ts[1][-1] / 1000
    assert ref.query(NAME, "holt_winters(node_load1[10m], 0.5, 0.5)", t).series
    with pytest.raises(UsageError, match="unknown function"):
        ref.query(NAME, "double_exponential_smoothing(node_load1[10m], 0.5, 0.5)", t)


def test_4_regex_dot_does_not_match_a_newline(server):
    q = 'label_replace(label_replace(vector(1), "src", "a\\nb", "", ""), "dst", "hit", "src", "a.b")'
    (series,) = ref.query(NAME, q, 1793534400).series
    assert "dst" not in series.labels  # 3.x: dst="hit"
    q_plain = 'label_replace(label_replace(vector(1), "src", "axb", "", ""), "dst", "hit", "src", "a.b")'
    assert ref.query(NAME, q_plain, 1793534400).series[0].labels["dst"] == "hit"


@pytest.mark.parametrize("query", [
    'sort_by_label(up, "job")', "limitk(2, up)", "limit_ratio(0.5, up)", "mad_over_time(node_load1[10m])",
    "info(up)", "histogram_avg(up)", "histogram_stddev(up)", "histogram_stdvar(up)",
    "ts_of_max_over_time(node_load1[10m])",
])
def test_5_functions_added_after_2_42_are_unknown(server, query):
    with pytest.raises(UsageError, match="unknown function|unexpected"):
        ref.query(NAME, query, 1793534400)


def test_6_quoted_utf8_names_do_not_parse(server):
    with pytest.raises(UsageError, match="parse error"):
        ref.query(NAME, '{"up"}', 1793534400)


def test_7_duration_expressions_do_not_parse(server):
    with pytest.raises(UsageError, match="parse error"):
        ref.query(NAME, "rate(http_requests_total[5m*2])", 1793534400)


def test_8_le_keeps_the_text_it_was_written_with(server):
    at = 1793534400
    assert ref.query(NAME, 'count(http_request_duration_seconds_bucket{le="1"})', at).series
    assert not ref.query(NAME, 'http_request_duration_seconds_bucket{le="1.0"}', at).series


def test_9_no_staleness_markers_after_import(server):
    """The restarted cart pod's failed scrapes wrote markers; the imported data has none."""
    con = open_snapshot(NAME)
    sid, marker = con.execute("""
        SELECT p.series_id, p.ts FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'process_cpu_seconds_total' AND s.labels['service'] = 'cart' AND p.stale""").fetchone()
    pod = con.execute("SELECT labels['pod'] FROM prom_series WHERE series_id = ?", [sid]).fetchone()[0]
    con.close()
    # A scraping Prometheus would return nothing right after the marker; the import still answers.
    result = ref.query(NAME, f'process_cpu_seconds_total{{pod="{pod}"}}', (marker + 1000) / 1000)
    assert len(result.series) == 1


def _restarting_counter():
    """A counter series, its first two samples after it (re)starts, where the versions part."""
    con = open_snapshot(NAME)
    rows = con.execute("""
        SELECT s.metric, s.labels, list((p.ts, p.value) ORDER BY p.ts)
        FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric IN ('process_cpu_seconds_total', 'container_cpu_usage_seconds_total', 'http_requests_total')
          AND NOT p.stale AND (s.labels['pod'] LIKE 'cart-%' OR s.labels['pod'] LIKE 'checkout-%')
        GROUP BY 1, 2 HAVING count(*) < 1440 ORDER BY 1, 2::VARCHAR""").fetchall()
    con.close()
    for metric, labels, samples in rows:
        values = [v for _, v in samples]
        starts = [i for i in range(1, len(values) - 1) if values[i] < values[i - 1]] or [0]
        k = starts[0]
        (t1, v1), (t2, v2) = samples[k], samples[k + 1]
        interval, delta = (t2 - t1) / 1000, v2 - v1
        if delta > 0 and interval / 2 < interval * v1 / delta < 1.1 * interval:
            return metric, labels, (t1, v1), (t2, v2)
    raise AssertionError("no counter restarts where 2.x and 3.x part")


def test_11_counter_zero_point_is_cut_before_the_half_interval_cap(server):
    """rate() just after a counter (re)starts: 2.42 lets the zero point stretch the window
    up to 1.1 sample intervals; since prometheus/prometheus#13725 (all of 3.x) the
    half-interval cap comes first and the zero point can only shorten it further."""
    metric, labels, (t1, v1), (t2, v2) = _restarting_counter()
    at_ms = t2 + 1000  # the 1m window holds exactly these two samples
    interval, delta = (t2 - t1) / 1000, v2 - v1
    to_start, to_end = (t1 - (at_ms - 60_000)) / 1000, (at_ms - t2) / 1000
    to_zero = interval * v1 / delta
    rate_2x = delta * (interval + min(to_zero, to_start) + to_end) / interval / 60
    rate_3x = delta * (interval + min(interval / 2, to_zero) + to_end) / interval / 60
    selector = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    got = value(ref.query(NAME, f"rate({metric}{{{selector}}}[1m])", at_ms / 1000))
    assert got == pytest.approx(rate_2x, rel=1e-9)
    assert got != pytest.approx(rate_3x, rel=1e-3)
