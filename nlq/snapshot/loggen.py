"""Log events of one variant, written as Loki lines and as Datadog log events.

A sample of requests (most 5xx answers, a small share of the rest) plus the
events around the incidents (deploy, OOM warnings, consumer lag) become one
list of `LogEvent`s; each is rendered in its service's format (JSON, logfmt or
plain text) for Loki and as a Datadog event with @attributes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from nlq.snapshot.traffic import SERVER_ERRORS, Traffic
from nlq.snapshot.world import Variant, World

LEVEL_OF = {"2": "info", "4": "warn", "5": "error"}
SOURCE_OF = {"node": "nodejs", "go": "go", "python": "python", "java": "java"}
ERROR_TEXT = {
    "payments": ("GatewayTimeout", "charge failed: upstream timeout after 3000ms calling bank-gateway"),
    "checkout": ("UpstreamError", "payment service unavailable: 503 from payments"),
}


@dataclass
class LogEvent:
    ts_ns: int
    service: str
    pod: str
    host: str
    version: str
    level: str
    msg: str
    fields: dict = field(default_factory=dict)  # ordered: what the line carries after level/msg


def iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000 / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def duration_text(seconds: float) -> str:
    """`230ms`, `4.5ms`, `1.52s`: how services print durations."""
    if seconds >= 1:
        return f"{seconds:.2f}s"
    ms = seconds * 1000
    return f"{ms:.1f}ms" if ms < 10 else f"{ms:.0f}ms"


def bytes_text(n: int) -> str:
    return f"{n}B" if n < 1024 else f"{n / 1024:.1f}KB"


def fill_path(route: str, rng: np.random.Generator) -> str:
    return (route.replace("{id}", str(int(rng.integers(10000, 99999))))
            .replace("{sku}", f"SKU-{int(rng.integers(1000, 9999))}"))


def build_events(world: World, variant: Variant, traffic: Traffic) -> list[LogEvent]:
    rng = np.random.default_rng([variant.seed, 3])
    step_ns = world.step_ms * 1_000_000
    start_ns = world.start_ms * 1_000_000
    inc = variant.incidents
    events: list[LogEvent] = []
    route_row = {key: r for r, key in enumerate(traffic.route_keys)}
    spike = world.raw["incidents"]["error_spike"]
    for k, kind in enumerate(traffic.kinds):
        counts = traffic.counts[k]
        server_error = kind.status_code in SERVER_ERRORS
        frac = 0.4 if server_error else (0.02 if kind.status_code.startswith("4") else 0.004)
        logged = rng.binomial(counts, frac)
        steps = np.repeat(np.arange(len(counts)), logged)
        if not len(steps):
            continue
        offsets = rng.integers(0, step_ns, len(steps))
        medians = traffic.median_s[route_row[(kind.pod.name, kind.route)], steps]
        slow = server_error and kind.pod.service == spike["service"]
        centre = np.full(len(steps), 3.0) if slow else medians
        durations = np.round(rng.lognormal(np.log(centre), 0.5), 6)
        sizes = rng.integers(120, 48000, len(steps)) if kind.status_code.startswith("2") else rng.integers(60, 400, len(steps))
        traces = rng.integers(0, 2**63, (len(steps), 2))
        users = rng.integers(1000, 9999, len(steps))
        level = LEVEL_OF[kind.status_code[0]]
        for j, step in enumerate(steps):
            fields = {
                "method": kind.method,
                "path": fill_path(kind.route, rng),
                "status": int(kind.status_code),
                "duration": duration_text(float(durations[j])),
                "bytes": int(sizes[j]),
                "trace_id": f"{traces[j, 0]:016x}{traces[j, 1]:016x}",
                "user_id": f"u-{users[j]}",
            }
            msg = "request completed"
            if server_error:
                err_kind, err_msg = ERROR_TEXT.get(kind.pod.service, ("InternalError", "unhandled exception"))
                if kind.pod.service == spike["service"] and not (inc.error_start <= step < inc.error_end):
                    err_kind, err_msg = "InternalError", "unhandled exception"
                fields["error"] = err_msg
                fields["error_kind"] = err_kind
                msg = "request failed"
            events.append(LogEvent(int(start_ns + step * step_ns + offsets[j]), kind.pod.service, kind.pod.name,
                                   kind.pod.host.name, kind.pod.version, level, msg, fields))

    # Incident narration: the deploy, the memory climb before the OOM kill, the lag.
    reg = world.raw["incidents"]["latency_regression"]
    for pod in traffic.pods:
        if pod.service == reg["service"] and pod.version == reg["new_version"]:
            ts = start_ns + pod.start * step_ns + 1_500_000_000
            events.append(LogEvent(ts, pod.service, pod.name, pod.host.name, pod.version, "info",
                                   "service started", {"version": pod.version, "port": 8080}))
        if pod.end is not None:
            ts = start_ns + pod.end * step_ns - 2_000_000_000
            events.append(LogEvent(ts, pod.service, pod.name, pod.host.name, pod.version, "info",
                                   "received SIGTERM, shutting down", {"version": pod.version, "inflight": 3}))
        if pod.name in traffic.reset_step:
            for minutes_before in range(20, 0, -1):
                ts = start_ns + inc.restart_step * step_ns - minutes_before * 60 * 1_000_000_000
                pct = 99 - minutes_before * 0.4
                events.append(LogEvent(ts, pod.service, pod.name, pod.host.name, pod.version, "warn",
                                       "memory usage high", {"heap_used_pct": round(pct, 1),
                                                             "rss": bytes_text(int(pct / 100 * 512 * 1024 * 1024))}))
            ts = start_ns + traffic.reset_step[pod.name] * step_ns + 800_000_000
            events.append(LogEvent(ts, pod.service, pod.name, pod.host.name, pod.version, "info",
                                   "service started", {"version": pod.version, "port": 8080,
                                                       "previous_exit": "OOMKilled"}))
    lag_cfg = world.raw["incidents"]["consumer_lag"]
    consumers = [p for p in traffic.pods if p.service == "shipping"]
    for minute in range((inc.lag_end - inc.lag_start) // 4):
        pod = consumers[minute % len(consumers)]
        ts = start_ns + (inc.lag_start + minute * 4) * step_ns + 7_000_000_000
        lag = int(inc.lag_peak * min(1.0, (minute * 4 + 4) / max(inc.lag_end - inc.lag_start, 1)))
        events.append(LogEvent(ts, pod.service, pod.name, pod.host.name, pod.version, "warn",
                               "consumer lag high", {"topic": lag_cfg["topic"], "lag": lag,
                                                     "consumergroup": "shipping-orders"}))
    events.sort(key=lambda e: (e.ts_ns, e.pod, e.msg))
    return events


def _logfmt_value(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or "=" in text or '"' in text or not text) else text


def render_loki_line(event: LogEvent, log_format: str) -> str:
    f = event.fields
    if log_format == "json":
        record = {"ts": iso(event.ts_ns), "level": event.level, "msg": event.msg, **f}
        return json.dumps(record, separators=(",", ":"))
    if log_format == "logfmt":
        parts = [f"ts={iso(event.ts_ns)}", f"level={event.level}", f"msg={_logfmt_value(event.msg)}"]
        for key, value in f.items():
            if key == "bytes":
                key, value = "size", bytes_text(int(value))
            parts.append(f"{key}={_logfmt_value(value)}")
        return " ".join(parts)
    # plain text: "<ts> LEVEL [service] ..." as a hand-rolled logger prints it
    head = f"{iso(event.ts_ns)} {event.level.upper():5} [{event.service}]"
    if "status" in f:
        tail = f"{f['method']} {f['path']} {f['status']} {f['duration']} {bytes_text(int(f['bytes']))} trace_id={f['trace_id']}"
        if "error" in f:
            tail += f" error=\"{f['error']}\""
        return f"{head} {tail}"
    extras = " ".join(f"{k}={_logfmt_value(v)}" for k, v in f.items())
    return f"{head} {event.msg} {extras}".rstrip()


def datadog_event(world: World, event: LogEvent, language: str) -> dict:
    """A Datadog log event: reserved attributes, tags, and nested @attributes."""
    f = event.fields
    attributes: dict = {"logger": {"name": f"{event.service}.{'http' if 'status' in f else 'main'}"}}
    if "status" in f:
        seconds = float(f["duration"][:-2]) / 1000 if f["duration"].endswith("ms") else float(f["duration"][:-1])
        attributes["http"] = {"method": f["method"], "status_code": f["status"], "url": f"http://{event.service}{f['path']}",
                              "url_details": {"path": f["path"], "host": event.service}}
        attributes["duration"] = int(round(seconds * 1e9))  # Datadog's duration is in nanoseconds
        attributes["usr"] = {"id": f["user_id"]}
        attributes["network"] = {"bytes_written": f["bytes"]}
        attributes["trace_id"] = f["trace_id"]
        if "error" in f:
            attributes["error"] = {"kind": f["error_kind"], "message": f["error"]}
    else:
        attributes.update({k: v for k, v in f.items()})
    tags = [f"env:{world.env}", f"version:{event.version}", f"kube_namespace:{world.namespace}",
            f"pod_name:{event.pod}", f"kube_cluster_name:{world.cluster}"]
    return {
        "ts_ms": event.ts_ns // 1_000_000,
        "service": event.service,
        "host": event.host,
        "status": event.level,  # Datadog's statuses include info, warn and error
        "source": SOURCE_OF[language],
        "message": event.msg if "status" not in f else f"{f['method']} {f['path']} {f['status']} {f['duration']}",
        "tags": tags,
        "attributes": json.dumps(attributes, sort_keys=True, separators=(",", ":")),
    }
