"""Datadog metrics of one variant: what the Datadog agent and APM would have sent.

APM trace metrics are drawn from the same traffic as the Prometheus counters
(re-binned to Datadog's 10 s stats buckets); infrastructure metrics reuse the
Prometheus node and container series, so both worlds show the same incidents.
A point's timestamp is the start of its interval.  `count` points hold the
number of events in the interval, `rate` points a per-second value, `gauge`
points the last value, and a `distribution` holds one row per raw observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlq.snapshot.promgen import PromData
from nlq.snapshot.traffic import SERVER_ERRORS, Traffic
from nlq.snapshot.world import Variant, World


@dataclass
class DDData:
    metadata: dict[str, dict] = field(default_factory=dict)  # metric -> type, interval_s, unit, description
    names: list[str] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    ts_ms: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def declare(self, name: str, type_: str, interval_s: int, unit: str, description: str) -> None:
        self.metadata[name] = {"type": type_, "interval_s": interval_s, "unit": unit, "description": description}

    def add(self, name: str, tags: dict[str, str], ts_ms: np.ndarray, values: np.ndarray) -> None:
        keep = ~np.isnan(values)
        self.names.append(name)
        self.tags.append(sorted(f"{k}:{v}" for k, v in tags.items()))
        self.ts_ms.append(np.asarray(ts_ms, dtype=np.int64)[keep])
        self.values.append(np.asarray(values, dtype=np.float64)[keep])


def _rebin(per_step: np.ndarray, step_s: float, interval_s: float, n_out: int) -> np.ndarray:
    """Per-second rate on a finer grid from counts per scrape step (piecewise constant)."""
    centers = (np.arange(n_out) + 0.5) * interval_s
    idx = np.minimum((centers // step_s).astype(int), per_step.shape[-1] - 1)
    return per_step[..., idx] / step_s


def _series_rate(prom: PromData, name: str, match: dict[str, str], step_s: float) -> np.ndarray:
    """Per-second rate of a Prometheus counter row (resets and gaps count as 0)."""
    for i, metric in enumerate(prom.names):
        if metric == name and all(prom.labels[i].get(k) == v for k, v in match.items()):
            row = prom.rows[i]
            diff = np.diff(row, prepend=np.nan)
            diff = np.where(np.isnan(diff) | (diff < 0), 0.0, diff)
            return diff / step_s
    raise KeyError((name, match))


def build_datadog_metrics(world: World, variant: Variant, traffic: Traffic, prom: PromData) -> DDData:
    rng = np.random.default_rng([variant.seed, 4])
    dd = DDData()
    env = world.env
    step_s = world.step_ms / 1000
    trace_s = int(world.raw["clock"]["trace_interval_s"])
    n_trace = world.steps * world.step_ms // (trace_s * 1000)
    trace_ts = world.start_ms + np.arange(n_trace) * trace_s * 1000
    scrape_ts = world.start_ms + np.arange(world.steps) * world.step_ms

    dd.declare("trace.http.request.hits", "count", trace_s, "hit", "Count of http.request spans.")
    dd.declare("trace.http.request.errors", "count", trace_s, "error", "Count of http.request spans in error.")
    dd.declare("trace.http.request.duration", "gauge", trace_s, "second",
               "Average duration of the http.request spans in the interval.")
    dd.declare("checkout.order.value", "distribution", trace_s, "dollar", "Value of each placed order.")
    # Sum requests over pods per (service, resource, status code).
    groups: dict[tuple[str, str, str], np.ndarray] = {}
    for k, kind in enumerate(traffic.kinds):
        key = (kind.pod.service, f"{kind.method} {kind.route}", kind.status_code)
        groups[key] = groups.get(key, 0) + traffic.counts[k]
    median_by_service_route: dict[tuple[str, str], np.ndarray] = {}
    for r, (pod_name, route) in enumerate(traffic.route_keys):
        pod = next(p for p in traffic.pods if p.name == pod_name)
        alive = traffic.alive[traffic.pods.index(pod)]
        key = (pod.service, route)
        acc = median_by_service_route.setdefault(key, np.zeros((2, world.steps)))
        acc[0] += np.where(alive, traffic.median_s[r], 0.0)
        acc[1] += alive
    spike = world.raw["incidents"]["error_spike"]
    inc = variant.incidents
    in_error_trace = (trace_ts >= world.start_ms + inc.error_start * world.step_ms) & (
        trace_ts < world.start_ms + inc.error_end * world.step_ms)
    for (service, resource, code), counts in sorted(groups.items()):
        rate = _rebin(counts.astype(float), step_s, trace_s, n_trace)
        hits = rng.poisson(rate * trace_s).astype(float)
        tags = {"service": service, "resource_name": resource, "http.status_code": code, "env": env}
        dd.add("trace.http.request.hits", tags, trace_ts, hits)
        if code in SERVER_ERRORS:
            dd.add("trace.http.request.errors", tags, trace_ts, hits)
        acc = median_by_service_route[(service, resource.split(" ", 1)[1])]
        median = _rebin(acc[0] / np.maximum(acc[1], 1), step_s, trace_s, n_trace) * step_s
        if service == spike["service"] and code in SERVER_ERRORS:
            median = np.where(in_error_trace, 3.0, median)
        avg = median * np.exp(0.55**2 / 2) * rng.uniform(0.9, 1.1, n_trace)
        dd.add("trace.http.request.duration", tags, trace_ts, np.where(hits > 0, np.round(avg, 6), np.nan))
        if service == "checkout" and resource == "POST /api/checkout" and code.startswith("2"):
            orders = hits.astype(int)
            values = np.round(rng.lognormal(np.log(62.0), 0.7, int(orders.sum())), 2)
            dd.add("checkout.order.value", {"service": service, "env": env, "currency": "usd"},
                   np.repeat(trace_ts, orders), values)

    # Infrastructure, from the Prometheus series (same machines, same pods).
    for name, type_, unit, desc in (
        ("system.cpu.user", "gauge", "percent", "Percent of time the CPU spent running user space processes."),
        ("system.cpu.system", "gauge", "percent", "Percent of time the CPU spent running the kernel."),
        ("system.cpu.idle", "gauge", "percent", "Percent of time the CPU spent in an idle state."),
        ("system.mem.used", "gauge", "byte", "Amount of RAM in use."),
        ("system.mem.total", "gauge", "byte", "Total amount of physical RAM."),
        ("system.load.1", "gauge", "", "System load averaged over one minute."),
        ("system.net.bytes_rcvd", "gauge", "byte", "Bytes received on a device per second."),
    ):
        dd.declare(name, type_, int(step_s), unit, desc)
    for host in world.hosts:
        instance = f"{host.name}:9100"
        tags = {"host": host.name, "env": env, "region": host.region, "availability-zone": host.zone}
        for mode in ("user", "system", "idle"):
            pct = sum(_series_rate(prom, "node_cpu_seconds_total", {"instance": instance, "cpu": str(c), "mode": mode}, step_s)
                      for c in range(host.cpus)) / host.cpus * 100
            pct[0] = pct[1]
            dd.add(f"system.cpu.{mode}", tags, scrape_ts, np.round(pct, 3))
        gauges = {name: prom.rows[i] for i, name in enumerate(prom.names)
                  if prom.labels[i].get("instance") == instance and name.startswith(("node_memory", "node_load1"))}
        total = gauges["node_memory_MemTotal_bytes"]
        dd.add("system.mem.total", tags, scrape_ts, total)
        dd.add("system.mem.used", tags, scrape_ts, total - gauges["node_memory_MemAvailable_bytes"])
        dd.add("system.load.1", tags, scrape_ts, gauges["node_load1"])
        rx = _series_rate(prom, "node_network_receive_bytes_total", {"instance": instance}, step_s)
        rx[0] = rx[1]
        dd.add("system.net.bytes_rcvd", tags | {"device": "eth0"}, scrape_ts, np.round(rx, 3))

    dd.declare("kubernetes.cpu.usage.total", "gauge", int(step_s), "nanocore", "The number of cores used.")
    dd.declare("kubernetes.memory.usage", "gauge", int(step_s), "byte", "Current memory usage in bytes.")
    dd.declare("kubernetes.containers.restarts", "gauge", int(step_s), "", "The number of times the container has been restarted.")
    for i, pod in enumerate(traffic.pods):
        tags = {"kube_namespace": world.namespace, "pod_name": pod.name, "kube_container_name": pod.service,
                "kube_deployment": pod.service, "host": pod.host.name, "env": env, "version": pod.version}
        match = {"namespace": world.namespace, "pod": pod.name, "container": pod.service}
        cpu = _series_rate(prom, "container_cpu_usage_seconds_total", match, step_s)
        alive = traffic.alive[i]
        dd.add("kubernetes.cpu.usage.total", tags, scrape_ts, np.where(alive & (cpu > 0), np.round(cpu * 1e9), np.nan))
        mem = next(prom.rows[j] for j, n in enumerate(prom.names)
                   if n == "container_memory_working_set_bytes" and prom.labels[j]["pod"] == pod.name)
        dd.add("kubernetes.memory.usage", tags, scrape_ts, mem)
        restarts = next(prom.rows[j] for j, n in enumerate(prom.names)
                        if n == "kube_pod_container_status_restarts_total" and prom.labels[j]["pod"] == pod.name)
        dd.add("kubernetes.containers.restarts", tags, scrape_ts, restarts)

    dd.declare("kafka.consumer.lag", "gauge", int(step_s), "offset", "Lag in messages between consumer and producer.")
    dd.declare("kafka.consumer.messages_in", "rate", int(step_s), "message", "Rate of messages consumed per second.")
    for j, name in enumerate(prom.names):
        labels = prom.labels[j]
        if name == "kafka_consumergroup_lag":
            dd.add("kafka.consumer.lag", {"consumer_group": labels["consumergroup"], "topic": labels["topic"],
                                          "partition": labels["partition"], "env": env}, scrape_ts, prom.rows[j])
        if name == "kafka_consumer_records_consumed_total":
            rate = _series_rate(prom, name, labels, step_s)
            live = ~np.isnan(prom.rows[j])
            dd.add("kafka.consumer.messages_in", {"service": labels["service"], "topic": labels["topic"],
                                                  "pod_name": labels["pod"], "env": env},
                   scrape_ts, np.where(live, np.round(rate, 4), np.nan))
    dd.declare("postgresql.connections", "gauge", int(step_s), "connection", "The number of active connections.")
    for spec in world.raw["databases"]:
        if spec["system"] != "postgresql":
            continue
        used = sum(np.nan_to_num(prom.rows[j]) for j, n in enumerate(prom.names)
                   if n == "db_client_connections" and prom.labels[j]["db"] == spec["db"]
                   and prom.labels[j]["state"] == "used")
        dd.add("postgresql.connections", {"db": spec["db"], "service": spec["service"], "env": env}, scrape_ts, used)
    return dd
