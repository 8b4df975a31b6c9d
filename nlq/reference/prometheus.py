"""The real Prometheus as the reference engine.

Debian's `prometheus` and `promtool` (2.42; `apt-get install prometheus`, its
service never started).  For a snapshot:

1. export its Prometheus series to OpenMetrics text (`# TYPE` lines, timestamps
   in seconds, `# EOF`),
2. build TSDB blocks with `promtool tsdb create-blocks-from openmetrics`,
3. start our own `prometheus` on 127.0.0.1 (a free port, its own storage path
   under the cache, retention of 100 years, the default 5m lookback delta, no
   scrape targets), wait until `/-/ready`,
4. query `/api/v1/query` and `/api/v1/query_range`.

A running server is found again through `server.json` (pid and port) beside its
data and reused; `stop(name)` ends it by its pid.

Staleness markers: OpenMetrics cannot carry them (a `NaN` sample is an
ordinary NaN, not Prometheus's special stale NaN), so the export leaves them
out.  In the reference, a series that ends (a pod replaced by the deploy, the
failed scrapes of the restarting cart pod) therefore keeps answering instant
queries for up to the lookback delta (5m) after its last sample, where a
Prometheus that had scraped it would return nothing.  The differential test
compares against our engine reading the same data without staleness markers
(`include_stale=False` here, see `nlq.snapshot.querygen`); the markers matter
only within 5 minutes after a series ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nlq.errors import NlqError, UsageError
from nlq.reference.results_adapter import from_prometheus_json
from nlq.results import Result, as_result

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"
READY_TIMEOUT_S = 120


class ReferenceError(NlqError):
    """The reference Prometheus could not be set up or answered with an error."""


def binaries_available() -> bool:
    return shutil.which(PROMETHEUS) is not None and shutil.which(PROMTOOL) is not None


def reference_dir(name: str) -> Path:
    from nlq.snapshot.store import cache_dir

    return cache_dir().parent / "prometheus" / name


# --------------------------------------------------------------------------- export
def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(metric: str, type_: str, family: str | None) -> str:
    if family:
        return family
    if type_ == "counter" and metric.endswith("_total"):
        return metric[: -len("_total")]
    return metric


def export_openmetrics(con, path: Path) -> int:
    """Write the snapshot's Prometheus series as OpenMetrics text; returns the sample count.

    Families are contiguous (counter `x_total` is family `x`, histogram and summary
    samples share their family), each series' samples are in time order, and
    staleness markers are left out (OpenMetrics cannot express them).
    """
    meta = {m: (t, h, f) for m, t, h, _u, f in con.execute("SELECT * FROM prom_metadata").fetchall()}
    series = con.execute("SELECT series_id, metric, labels FROM prom_series").fetchall()
    by_family: dict[str, list[tuple[int, str, dict]]] = {}
    for sid, metric, labels in series:
        type_, _help, family = meta[metric]
        by_family.setdefault(_family(metric, type_, family), []).append((sid, metric, labels))
    written = 0
    cur = con.execute("SELECT series_id, list(ts ORDER BY ts), list(value ORDER BY ts) FROM prom_samples "
                      "WHERE NOT stale GROUP BY series_id")
    samples = {sid: (ts, vals) for sid, ts, vals in cur.fetchall()}
    with open(path, "w", encoding="utf-8") as out:
        for family in sorted(by_family):
            members = sorted(by_family[family], key=lambda s: (s[1], s[0]))
            type_, help_, _ = meta[members[0][1]]
            out.write(f"# TYPE {family} {type_}\n# HELP {family} {_escape(help_)}\n")
            for sid, metric, labels in members:
                ts, vals = samples.get(sid, ((), ()))
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
                prefix = f"{metric}{{{label_text}}} " if label_text else f"{metric} "
                out.writelines(f"{prefix}{v!r} {t // 1000}.{t % 1000:03d}\n" for t, v in zip(ts, vals, strict=True))
                written += len(ts)
        out.write("# EOF\n")
    return written


def build_blocks(name: str, force: bool = False) -> Path:
    """TSDB blocks of snapshot `name` (cached; rebuilt when the snapshot changed)."""
    with _locked(name):
        return _build_blocks_locked(name, force)


def _build_blocks_locked(name: str, force: bool = False) -> Path:
    from nlq.snapshot import open_snapshot
    from nlq.snapshot.store import load_checksums

    if not binaries_available():
        raise ReferenceError("prometheus/promtool not found: apt-get install -y prometheus")
    root = reference_dir(name)
    data = root / "data"
    stamp = root / "blocks.json"
    want = load_checksums().get(name, {}).get("prom_samples", "unknown")
    if not force and stamp.exists() and json.loads(stamp.read_text()).get("prom_samples") == want:
        return data
    _stop_locked(name)
    shutil.rmtree(data, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    con = open_snapshot(name)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        om = Path(tmp) / f"{name}.om.txt"
        count = export_openmetrics(con, om)
        con.close()
        proc = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise ReferenceError(f"promtool create-blocks-from failed: {proc.stderr.strip()[-2000:]}")
    stamp.write_text(json.dumps({"prom_samples": want, "samples": count}))
    return data


# --------------------------------------------------------------------------- server
@dataclass
class Server:
    name: str
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _ready(port: int) -> bool:
    try:
        return _get(f"http://127.0.0.1:{port}/-/ready", timeout=2)[0] == 200
    except OSError:
        return False


@contextlib.contextmanager
def _locked(name: str):
    """One process at a time starts, stops or rebuilds a snapshot's server."""
    root = reference_dir(name)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "server.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def running(name: str, wait_s: float = 0.0) -> Server | None:
    """The server of snapshot `name` that is up now (waiting up to `wait_s` for one whose
    process lives but is not ready yet: a loaded machine answers slowly), if any."""
    info = reference_dir(name) / "server.json"
    if not info.exists():
        return None
    spec = json.loads(info.read_text())
    deadline = time.monotonic() + wait_s
    while _alive(spec["pid"]):
        if _ready(spec["port"]):
            return Server(name, spec["pid"], spec["port"])
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    return None


def start(name: str) -> Server:
    """A Prometheus serving snapshot `name` on 127.0.0.1, started if none runs."""
    server = running(name)
    if server:
        return server
    with _locked(name):
        return _start_locked(name)


def _start_locked(name: str) -> Server:
    server = running(name, wait_s=READY_TIMEOUT_S)
    if server:
        return server
    _stop_locked(name)  # a process that never became ready
    data = _build_blocks_locked(name)
    root = reference_dir(name)
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = _free_port()
    log = open(root / "prometheus.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}",
         "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    (root / "server.json").write_text(json.dumps({"pid": proc.pid, "port": port}))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (root / "prometheus.log").read_text(errors="replace")[-2000:]
            raise ReferenceError(f"prometheus exited with {proc.returncode}: {tail}")
        if _ready(port):
            return Server(name, proc.pid, port)
        time.sleep(0.2)
    _stop_locked(name)
    raise ReferenceError(f"prometheus on port {port} not ready after {READY_TIMEOUT_S} s")


def stop(name: str) -> bool:
    """Stop the server of snapshot `name` (by the pid it was started with); True if one ran."""
    with _locked(name):
        return _stop_locked(name)


def _stop_locked(name: str) -> bool:
    info = reference_dir(name) / "server.json"
    if not info.exists():
        return False
    pid = json.loads(info.read_text())["pid"]
    info.unlink()
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


# --------------------------------------------------------------------------- queries
def _api(server: Server, path: str, params: dict) -> dict:
    status, body = _get(f"{server.url}{path}?{urllib.parse.urlencode(params)}", timeout=120)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ReferenceError(f"prometheus answered {status} with non-JSON: {body[:200]!r}") from exc
    if payload.get("status") != "success":
        raise UsageError(f"prometheus: {payload.get('errorType', 'error')}: {payload.get('error', body[:200])}")
    return payload["data"]


def _seconds(t: float | int) -> str:
    return f"{t:.3f}"


def _api_retrying(name: str, path: str, params: dict) -> dict:
    """Ask the snapshot's server; once more with a fresh one if another process stopped it meanwhile."""
    try:
        return _api(start(name), path, params)
    except (OSError, ReferenceError):
        return _api(start(name), path, params)


def query_raw(name: str, query: str, at: float) -> dict:
    """Prometheus's own `data` object for an instant query at `at` (Unix seconds)."""
    return _api_retrying(name, "/api/v1/query", {"query": query, "time": _seconds(at)})


def query_range_raw(name: str, query: str, start_s: float, end_s: float, step_s: float) -> dict:
    """Prometheus's own `data` object for a range query."""
    return _api_retrying(name, "/api/v1/query_range",
                         {"query": query, "start": _seconds(start_s), "end": _seconds(end_s), "step": f"{step_s:g}"})


def query(name: str, query_text: str, at: float) -> Result:
    """An instant query at `at` (Unix seconds).

    >>> query("shop-a", "count(up)", 1793534400).series[0].samples
    [(1793534400000, 33.0)]
    """
    return to_result(query_raw(name, query_text, at))


def query_range(name: str, query_text: str, start_s: float, end_s: float, step_s: float) -> Result:
    """A range query, its result in nlq's result shape (see `to_result`)."""
    return to_result(query_range_raw(name, query_text, start_s, end_s, step_s))


def to_result(data: dict) -> Result:
    """Prometheus's JSON `data` -> the `nlq.results.Result` every engine returns."""
    return as_result(from_prometheus_json(data))
