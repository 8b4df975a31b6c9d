"""The real Prometheus over a snapshot: export, blocks, our own server on loopback, queries.

Skipped (with the reason) only where Debian's prometheus/promtool are not installed.
"""

from __future__ import annotations

import pytest

from nlq.reference import prometheus as ref
from nlq.results import Result
from nlq.snapshot import open_snapshot, snapshot_names

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ref.binaries_available(),
                       reason="prometheus/promtool not installed (scripts/setup: apt-get install -y prometheus)"),
]

NAME = snapshot_names()[0]


@pytest.fixture(scope="module")
def server():
    started = ref.start(NAME)
    yield started
    ref.stop(NAME)


@pytest.fixture(scope="module")
def con():
    connection = open_snapshot(NAME)
    yield connection
    connection.close()


def end_s(con) -> int:
    return int(con.execute("SELECT value FROM meta WHERE key = 'end_ms'").fetchone()[0]) // 1000


def test_openmetrics_export_is_well_formed(con, tmp_path):
    path = tmp_path / "x.om"
    count = ref.export_openmetrics(con, path)
    assert count == con.execute("SELECT count(*) FROM prom_samples WHERE NOT stale").fetchone()[0]
    text = path.read_text()
    assert text.endswith("# EOF\n")
    assert "# TYPE http_requests counter\n" in text
    assert "# TYPE http_request_duration_seconds histogram\n" in text
    first = next(line for line in text.splitlines() if line.startswith("up{"))
    seconds = first.rsplit(" ", 1)[1]
    assert "." in seconds and len(seconds.split(".")[0]) == 10  # seconds, millisecond precision


def test_server_listens_on_loopback_and_is_reused(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert ref.start(NAME).pid == server.pid  # the running one is found again


def test_up_matches_the_snapshot(server, con):
    result = ref.query(NAME, "up", end_s(con))
    assert isinstance(result, Result) and result.type == "vector"
    # Every series whose last sample lies within the 5m lookback answers (no staleness markers).
    expected = con.execute("""
        SELECT count(*) FROM (SELECT series_id, max(ts) AS last FROM prom_samples WHERE NOT stale GROUP BY 1)
        JOIN prom_series USING (series_id) WHERE metric = 'up' AND last > ? """, [(end_s(con) - 300) * 1000]).fetchone()[0]
    assert len(result.series) == expected
    assert all(s.labels["__name__"] == "up" and {"job", "instance"} <= set(s.labels) for s in result.series)


def test_rate_agrees_with_a_hand_computation(server, con):
    """rate() over a counter without resets in the window: Prometheus's extrapolation by hand."""
    t = end_s(con)
    row = con.execute("""
        SELECT s.labels_key, list(p.ts ORDER BY p.ts), list(p.value ORDER BY p.ts)
        FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'node_network_receive_bytes_total' AND NOT p.stale AND p.ts > ? AND p.ts <= ?
        GROUP BY 1 ORDER BY 1 LIMIT 1""", [(t - 300) * 1000, t * 1000]).fetchone()
    key, ts, values = row
    instance = key.split('instance="')[1].split('"')[0]
    result = ref.query(NAME, f'rate(node_network_receive_bytes_total{{instance="{instance}"}}[5m])', t)
    (series,) = result.series
    # extrapolatedRate: extend to the window edges unless further than 1.1x the average interval
    first, last = ts[0] / 1000, ts[-1] / 1000
    delta = values[-1] - values[0]
    avg = (last - first) / (len(ts) - 1)
    to_start, to_end = first - (t - 300), t - last
    extend = (last - first)
    extend += to_start if to_start < avg * 1.1 else avg / 2
    extend += to_end if to_end < avg * 1.1 else avg / 2
    expected = delta * extend / (last - first) / 300
    assert series.samples[0][1] == pytest.approx(expected, rel=1e-9)


def test_range_query_and_errors(server, con):
    t = end_s(con)
    result = ref.query_range(NAME, 'sum by (service) (rate(http_requests_total{status_code=~"5.."}[5m]))',
                             t - 3600, t, 60)
    assert result.type == "matrix" and len(result.series) == 8
    assert all(len(s.samples) == 61 for s in result.series)
    with pytest.raises(Exception, match="parse error"):
        ref.query(NAME, "sum(", t)


def test_stop_ends_the_process():
    server = ref.start(NAME)
    assert ref.stop(NAME)
    assert ref.running(NAME) is None
    assert not ref._alive(server.pid)
