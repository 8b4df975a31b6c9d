"""Catalog import over real HTTP on 127.0.0.1.

* Prometheus: the real Prometheus 2.42 serving snapshot shop-a (nlq.reference).
* Loki: Loki cannot run here (no binary, no network), so a real HTTP server on
  loopback answers Loki's API, in Loki's documented shapes, from shop-a's log
  tables (the same data the committed snapshots/catalog/logql.json describes).
* Datadog: a real HTTP server on loopback serves the recorded answers in
  tests/data/datadog_api/ (Datadog's documented shapes; record.py writes them).
* Failures (404, 401, 500 then a retry, timeout, non-JSON, wrong shape) each
  give a clear error, and `nlq catalog import -o` leaves no file behind.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlq.catalog import load_catalog
from nlq.catalog_import.common import TimeWindow
from nlq.catalog_import.datadog import import_datadog_logs, import_datadog_metrics
from nlq.catalog_import.http import HttpClient, ImportFailure, auth_headers_from_env
from nlq.catalog_import.loki import import_loki
from nlq.catalog_import.prometheus import import_prometheus
from nlq.cli import main
from nlq.log_formats import detect_format
from nlq.reference import prometheus as ref
from nlq.snapshot import open_snapshot
from nlq.snapshot.catalogs import catalog_path, derive_catalogs
from nlq.snapshot.world import load_world

DD_DATA = Path(__file__).parent / "data" / "datadog_api"
WORLD = load_world()
FULL_WINDOW = TimeWindow(WORLD.start_ms / 1000, WORLD.end_ms / 1000)


# --------------------------------------------------------------------------- a loopback API server
class Api:
    """A real HTTP server on 127.0.0.1 whose answers come from `route(method, path, query, body)`.

    The first path segment picks a behaviour, so one server covers every case:
    /ok/... answers, /notfound/... 404, /unauthorized/... 401, /flaky/... 500 on the
    first call of each path then answers, /slow/... waits past the client's timeout,
    /html/... answers an HTML page, /wrong/... answers JSON of the wrong shape.
    """

    def __init__(self, route, api_key: str | None = None):
        self.route = route
        self.api_key = api_key
        self.seen: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.flaky_done: set[str] = set()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _answer(self, method: str) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                mode, _, rest = parsed.path.lstrip("/").partition("/")
                path = "/" + rest
                api.seen.append((method, parsed.path))
                api.headers.append({k.lower(): v for k, v in self.headers.items()})
                query = urllib.parse.parse_qs(parsed.query)
                if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    for k, v in urllib.parse.parse_qs(body.decode()).items():
                        query.setdefault(k, []).extend(v)
                status, payload = 200, None
                if api.api_key and self.headers.get("DD-API-KEY") != api.api_key:
                    status, payload = 403, {"errors": ["Forbidden"]}
                elif mode == "notfound":
                    status, payload = 404, "404 page not found"
                elif mode == "unauthorized":
                    status, payload = 401, {"errors": ["Unauthorized"]}
                elif mode == "flaky" and parsed.path not in api.flaky_done:
                    api.flaky_done.add(parsed.path)
                    status, payload = 500, {"status": "error", "error": "internal"}
                elif mode == "ratelimited" and parsed.path not in api.flaky_done:
                    api.flaky_done.add(parsed.path)
                    status, payload = 429, {"errors": ["Too many requests"]}
                elif mode == "slow":
                    time.sleep(1.5)
                elif mode == "html":
                    status, payload = 200, "<html><body>Grafana login</body></html>"
                elif mode == "wrong":
                    payload = {"hello": "world"}
                if payload is None:
                    status, payload = api.route(method, path, query, body)
                raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if isinstance(payload, str) else "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    if status == 429:
                        self.send_header("X-RateLimit-Reset", "0.05")  # Datadog's: seconds until reset
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout case)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, mode: str = "ok") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{mode}"

    def __enter__(self) -> Api:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- Loki answers from shop-a
class LokiFromSnapshot:
    """Loki's HTTP API over shop-a's log tables (labels, values, series, query_range)."""

    def __init__(self):
        con = open_snapshot("shop-a")
        self.streams = {sid: dict(labels) for sid, labels in con.execute("SELECT stream_id, labels FROM log_streams")
                        .fetchall()}
        self.lines: dict[int, list[tuple[int, str]]] = {}
        for sid, ts, line in con.execute("SELECT stream_id, ts, line FROM log_lines ORDER BY ts DESC").fetchall():
            self.lines.setdefault(sid, []).append((ts, line))
        con.close()

    def __call__(self, method: str, path: str, query: dict, body: bytes):
        names = sorted({k for s in self.streams.values() for k in s})
        if path == "/loki/api/v1/labels":
            return 200, {"status": "success", "data": names}
        m = re.fullmatch(r"/loki/api/v1/label/([^/]+)/values", path)
        if m:
            values = sorted({s[m.group(1)] for s in self.streams.values() if m.group(1) in s})
            return 200, {"status": "success", "data": values}
        if path == "/loki/api/v1/series":
            wanted = [re.fullmatch(r'\{(\w+)=~"\.\+"\}', x).group(1) for x in query.get("match[]", [])]
            data = [s for s in self.streams.values() if any(w in s for w in wanted)]
            return 200, {"status": "success", "data": data}
        if path == "/loki/api/v1/query_range":
            matchers = dict(re.findall(r'(\w+)="([^"]*)"', query["query"][0]))
            limit = int(query.get("limit", ["100"])[0])
            entries = sorted(((ts, sid, line) for sid, s in self.streams.items()
                              if all(s.get(k) == v for k, v in matchers.items())
                              for ts, line in self.lines.get(sid, [])), reverse=True)[:limit]
            result: dict[int, list] = {}
            for ts, sid, line in entries:
                result.setdefault(sid, []).append([str(ts), line])
            return 200, {"status": "success", "data": {"resultType": "streams", "stats": {}, "result": [
                {"stream": self.streams[sid], "values": values} for sid, values in sorted(result.items())]}}
        return 404, "404 page not found"


# --------------------------------------------------------------------------- Datadog answers, recorded
def datadog_route(method: str, path: str, query: dict, body: bytes):
    if method == "GET" and path == "/api/v1/metrics":
        if "from" not in query:
            return 400, {"errors": ["from is required"]}
        return 200, json.loads((DD_DATA / "v1_metrics.json").read_text())
    m = re.fullmatch(r"/api/v2/metrics/([^/]+)/all-tags", path)
    if m:
        file = DD_DATA / "v2_all_tags" / f"{urllib.parse.unquote(m.group(1))}.json"
        return (200, json.loads(file.read_text())) if file.is_file() else (404, {"errors": ["Not found"]})
    m = re.fullmatch(r"/api/v1/metrics/([^/]+)", path)
    if m:
        file = DD_DATA / "v1_metrics" / f"{urllib.parse.unquote(m.group(1))}.json"
        return (200, json.loads(file.read_text())) if file.is_file() else (404, {"errors": ["Not found"]})
    if method == "POST" and path == "/api/v2/logs/analytics/aggregate":
        request = json.loads(body)
        group = request["group_by"][0]
        file = DD_DATA / "logs_aggregate" / f"{group['facet']}.json"
        if not file.is_file():
            return 200, {"data": {"buckets": []}, "meta": {"status": "done"}}
        payload = json.loads(file.read_text())
        payload["data"]["buckets"] = payload["data"]["buckets"][: int(group.get("limit", 10))]
        return 200, payload
    return 404, {"errors": ["Not found"]}


@pytest.fixture
def dd_keys(monkeypatch):
    monkeypatch.setenv("DD_API_KEY", "test-api-key-123")
    monkeypatch.setenv("DD_APP_KEY", "test-app-key-456")


def dd_client(url: str, **options) -> HttpClient:
    from nlq.catalog_import.datadog import datadog_client

    return datadog_client(url=url, **options)


# --------------------------------------------------------------------------- Prometheus (real)
needs_prometheus = pytest.mark.skipif(not ref.binaries_available(), reason="prometheus/promtool not installed")


@pytest.fixture(scope="module")
def prometheus():
    if not ref.binaries_available():
        pytest.skip("prometheus/promtool not installed")
    server = ref.start("shop-a")
    yield server
    ref.stop("shop-a")


@pytest.mark.slow
@needs_prometheus
def test_prometheus_import_equals_the_snapshot_catalog(prometheus):
    """Same metrics, types, units, families, labels and values as snapshots/catalog/promql.json.

    Documented difference: help text.  The reference server has no scrape
    targets, so /api/v1/metadata is empty and types/units come from the names;
    help stays empty (the committed catalog has it from the generator).
    """
    catalog, notes = import_prometheus(HttpClient(prometheus.url), FULL_WINDOW, max_values=50, show_progress=False)
    expected = json.loads(catalog_path("promql").read_text())["metrics"]
    got = catalog.to_dict()["metrics"]
    assert sorted(got) == sorted(expected)
    for name, spec in expected.items():
        for key in ("type", "unit", "family", "labels", "high_cardinality"):
            assert got[name].get(key) == spec.get(key), (name, key)
        assert got[name]["help"] == ""
    assert any("no metadata" in n for n in notes)


@pytest.mark.slow
@needs_prometheus
def test_prometheus_import_short_window_misses_series_gone_before_it(prometheus):
    """Series that went stale before the window (checkout's old pods after the deploy) are absent."""
    end = WORLD.end_ms / 1000
    catalog, _ = import_prometheus(HttpClient(prometheus.url), TimeWindow(end - 600, end), show_progress=False)
    variant = WORLD.variant("shop-a")
    old_pods = [p.name for p in WORLD.pods(variant) if p.end is not None]
    assert old_pods
    pods = set(catalog.metrics["http_requests_total"].labels["pod"])
    assert not pods & set(old_pods)
    full, _ = import_prometheus(HttpClient(prometheus.url), FULL_WINDOW, show_progress=False)
    assert set(old_pods) <= set(full.metrics["http_requests_total"].labels["pod"])


@pytest.mark.slow
@needs_prometheus
def test_prometheus_cardinality_cut_marks_high_cardinality(prometheus):
    catalog, _ = import_prometheus(HttpClient(prometheus.url), FULL_WINDOW, max_values=3, show_progress=False)
    up = catalog.metrics["up"]
    assert len(up.labels["instance"]) == 3
    assert "instance" in up.high_cardinality


@pytest.mark.slow
@needs_prometheus
def test_cli_import_prometheus_writes_file(prometheus, tmp_path):
    out = tmp_path / "prom.json"
    result = CliRunner().invoke(main, ["catalog", "import", "--prometheus", prometheus.url, "--start",
                                       str(FULL_WINDOW.start_s), "--end", str(FULL_WINDOW.end_s), "--max-values", "50",
                                       "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(load_catalog(out).metrics) == sorted(json.loads(catalog_path("promql").read_text())["metrics"])


# --------------------------------------------------------------------------- Loki
@pytest.fixture(scope="module")
def loki():
    with Api(LokiFromSnapshot()) as api:
        yield api


@pytest.fixture(scope="module")
def shop_a_catalogs():
    return derive_catalogs(["shop-a"])


def test_loki_import_equals_the_snapshot_catalog(loki, shop_a_catalogs):
    """Reading every line: labels, values, fields and kinds equal the catalog derived from shop-a."""
    catalog, notes = import_loki(HttpClient(loki.url()), FULL_WINDOW, lines_per_kind=100_000, show_progress=False)
    expected = shop_a_catalogs["logql"].to_dict()
    assert catalog.to_dict()["log_labels"] == expected["log_labels"]
    assert catalog.to_dict()["log_fields"] == expected["log_fields"]
    assert catalog.log_formats == expected["log_formats"]  # the parser each service's lines need
    assert catalog.stream_fields == expected["stream_fields"]  # and the fields each one's lines carry
    assert any("line formats by service" in n for n in notes)
    # the committed catalog (three variants) has the same labels and fields
    committed = json.loads(catalog_path("logql").read_text())
    assert catalog.to_dict()["log_labels"] == committed["log_labels"]
    assert sorted(catalog.log_fields) == sorted(committed["log_fields"])


def test_loki_sampled_lines_find_the_fields(loki, shop_a_catalogs):
    """A bounded sample (default 200 lines per service) finds nearly every field, with right kinds."""
    catalog, _ = import_loki(HttpClient(loki.url()), FULL_WINDOW, show_progress=False)
    expected = shop_a_catalogs["logql"].log_fields
    assert set(catalog.log_fields) <= set(expected)
    assert len(catalog.log_fields) >= 0.8 * len(expected)
    for name, f in catalog.log_fields.items():
        assert f.kind == expected[name].kind or expected[name].kind == "string", name
    calls = [p for m, p in loki.seen if p.endswith("/query_range")]
    assert calls  # lines were sampled per service


def test_line_formats():
    assert detect_format('{"level":"info","msg":"ok"}') == "json"
    assert detect_format('ts=2026-11-01T10:00:00Z level=info msg="GET /x" duration=12ms') == "logfmt"
    assert detect_format("GET /api/stock/1 200 12ms") == "text"
    assert detect_format("{not json") == "text"


# --------------------------------------------------------------------------- Datadog
@pytest.fixture(scope="module")
def datadog():
    with Api(datadog_route, api_key="test-api-key-123") as api:
        yield api


def test_datadog_metrics_import_equals_the_snapshot_catalog(datadog, dd_keys):
    catalog, _ = import_datadog_metrics(dd_client(datadog.url()), FULL_WINDOW, max_values=50, show_progress=False)
    expected = json.loads(catalog_path("datadog-metrics").read_text())
    assert catalog.to_dict()["metrics"] == expected["metrics"]


def test_datadog_logs_import_equals_the_snapshot_catalog(datadog, dd_keys, shop_a_catalogs):
    expected = shop_a_catalogs["datadog-logs"]
    facets = (*expected.log_labels, *("@" + f for f in expected.log_fields))
    catalog, _ = import_datadog_logs(dd_client(datadog.url()), FULL_WINDOW, facets=facets, show_progress=False)
    assert catalog.to_dict()["log_labels"] == expected.to_dict()["log_labels"]
    assert catalog.to_dict()["log_fields"] == expected.to_dict()["log_fields"]


def test_datadog_wrong_key_is_a_clear_error(datadog, monkeypatch):
    monkeypatch.setenv("DD_API_KEY", "wrong-key-999")
    monkeypatch.setenv("DD_APP_KEY", "app")
    with pytest.raises(ImportFailure) as err:
        import_datadog_metrics(dd_client(datadog.url()), FULL_WINDOW, show_progress=False)
    assert "403" in str(err.value) and "DD_API_KEY" in str(err.value)
    assert "wrong-key-999" not in str(err.value)


def test_datadog_needs_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("DD_API_KEY", raising=False)
    monkeypatch.delenv("DD_APP_KEY", raising=False)
    out = tmp_path / "dd.json"
    result = CliRunner().invoke(main, ["catalog", "import", "--datadog", "metrics", "-o", str(out)])
    assert result.exit_code == 2 and "DD_API_KEY" in result.output
    assert not out.exists()


def test_cli_datadog_import_never_writes_the_keys(datadog, dd_keys, tmp_path):
    out = tmp_path / "dd.json"
    result = CliRunner().invoke(main, ["catalog", "import", "--datadog", "metrics", "--datadog-url", datadog.url(),
                                       "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "test-api-key-123" not in text and "test-app-key-456" not in text
    assert "test-api-key-123" not in result.output
    assert len(load_catalog(out, "datadog-metrics").metrics) == 17


# --------------------------------------------------------------------------- failures
FAILURES = [
    ("notfound", "404 Not Found"),
    ("unauthorized", "401"),
    ("html", "not JSON"),
    ("wrong", "unexpected answer"),
    ("slow", "timeout"),
]


@pytest.mark.parametrize("mode,message", FAILURES)
@pytest.mark.parametrize("system", ["prometheus", "loki"])
def test_failures_give_clear_errors_and_no_file(loki, system, mode, message, tmp_path):
    out = tmp_path / "catalog.json"
    args = ["catalog", "import", f"--{system}", loki.url(mode), "-o", str(out), "--timeout", "0.5",
            "--retries", "0", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ")
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no temporary file either


def test_500_is_retried_then_succeeds(loki):
    client = HttpClient(loki.url("flaky"), backoff_s=0.01)
    catalog, _ = import_loki(client, FULL_WINDOW, show_progress=False)
    assert catalog.log_labels["service"]
    retried = [p for _m, p in loki.seen if p == "/flaky/loki/api/v1/labels"]
    assert len(retried) == 2  # a 500, then the answer


def test_429_waits_for_the_rate_limit_reset(datadog, dd_keys):
    waits: list[float] = []
    client = dd_client(datadog.url("ratelimited"), backoff_s=0.001)
    client.sleep = lambda s: (waits.append(s), time.sleep(s))
    catalog, _ = import_datadog_metrics(client, FULL_WINDOW, show_progress=False)
    assert len(catalog.metrics) == 17
    assert waits and all(w == pytest.approx(0.05) for w in waits)  # X-RateLimit-Reset, not the back-off


def test_loki_tenant_header_reaches_the_server(tmp_path):
    with Api(lambda *a: (200, {"status": "success", "data": []})) as api:
        out = tmp_path / "logs.json"
        result = CliRunner().invoke(main, ["catalog", "import", "--loki", api.url(), "--org-id", "team-a",
                                           "-o", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        assert api.headers and all(h.get("x-scope-orgid") == "team-a" for h in api.headers)


def test_500_every_time_gives_up_with_the_count(tmp_path):
    with Api(lambda *a: (500, {"status": "error", "error": "boom"})) as api:
        client = HttpClient(api.url(), retries=2, backoff_s=0.01)
        with pytest.raises(ImportFailure, match="gave up after 3 tries") as err:
            import_loki(client, FULL_WINDOW, show_progress=False)
        assert "500" in str(err.value)
        assert len(api.seen) == 3


def test_connection_refused_and_bad_url(tmp_path):
    with pytest.raises(ImportFailure, match="cannot connect"):
        HttpClient("http://127.0.0.1:9", retries=0).get_json("/api/v1/metadata")
    with pytest.raises(ImportFailure, match="not an http"):
        HttpClient("prometheus:9090")


def test_prometheus_error_envelope_is_reported():
    with Api(lambda *a: (200, {"status": "error", "errorType": "bad_data", "error": "invalid time"})) as api:
        with pytest.raises(ImportFailure, match="bad_data: invalid time"):
            import_prometheus(HttpClient(api.url()), FULL_WINDOW, show_progress=False)


# --------------------------------------------------------------------------- auth
def test_auth_headers_from_the_environment():
    assert auth_headers_from_env({"NLQ_BEARER_TOKEN": "tok"}) == {"Authorization": "Bearer tok"}
    basic = auth_headers_from_env({"NLQ_BASIC_USER": "u", "NLQ_BASIC_PASSWORD": "p"})
    assert basic == {"Authorization": "Basic dTpw"}
    assert auth_headers_from_env({}) == {}


def test_credentials_in_url_are_sent_but_never_shown():
    seen_auth = []

    def route(method, path, query, body):
        return 404, "nope"

    with Api(route) as api:
        url = api.url("unauthorized").replace("http://", "http://alice:s3cret@")
        client = HttpClient(url, retries=0)
        with pytest.raises(ImportFailure) as err:
            client.get_json("/api/v1/metadata")
        seen_auth.append(client.headers.get("Authorization"))
    assert "s3cret" not in str(err.value) and "alice" not in str(err.value)
    assert seen_auth == ["Basic YWxpY2U6czNjcmV0"]


# --------------------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def tls_loki(tmp_path_factory):
    """The Loki answers over HTTPS with a self-signed certificate for 127.0.0.1."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    api = Api(LokiFromSnapshot())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    api.server.socket = context.wrap_socket(api.server.socket, server_side=True)
    with api:
        yield api.url().replace("http://", "https://"), cert


def test_tls_is_verified_by_default(tls_loki, tmp_path):
    url, _cert = tls_loki
    out = tmp_path / "logs.json"
    result = CliRunner().invoke(main, ["catalog", "import", "--loki", url, "-o", str(out), "--quiet", "--retries", "0"])
    assert result.exit_code == 1 and "TLS error" in result.output and "--ca-file" in result.output
    assert not out.exists()


def test_tls_with_the_ca_file_or_insecure(tls_loki, tmp_path):
    url, cert = tls_loki
    for extra in (["--ca-file", str(cert)], ["--insecure"]):
        out = tmp_path / "logs.json"
        result = CliRunner().invoke(main, ["catalog", "import", "--loki", url, "-o", str(out), "--quiet",
                                           "--lines", "20", *extra])
        assert result.exit_code == 0, result.output
        assert load_catalog(out, "logql").log_labels["service"]
        out.unlink()
