"""Prometheus series of one variant: what a Prometheus server would hold after 6 hours.

Series are rows of a [series, steps] float matrix; NaN means "no sample at this
scrape".  A staleness marker is written where a series had a sample at the
previous scrape and has none now (its target went away or its scrape failed),
as Prometheus does.  Each target is scraped at its own millisecond offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlq.snapshot.traffic import SERVER_ERRORS, Traffic, smooth_noise, split_into_buckets
from nlq.snapshot.world import Variant, World, stable_hash

HTTP_BUCKETS = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
DB_BUCKETS = np.array([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0])
GC_QUANTILES = ("0", "0.25", "0.5", "0.75", "1")
CPU_MODES = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
MIB = 1024 * 1024


def le_text(bound: float) -> str:
    """Bucket bounds as Prometheus client libraries print them (`0.5`, `1`, `+Inf`)."""
    return f"{bound:g}" if np.isfinite(bound) else "+Inf"


@dataclass
class PromData:
    # metric name -> {"type", "help", "unit", "family"}; every queryable name has an entry
    metadata: dict[str, dict] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    labels: list[dict[str, str]] = field(default_factory=list)
    offsets_ms: list[int] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    def declare(self, name: str, type_: str, help_: str, unit: str = "", family: str | None = None) -> None:
        self.metadata[name] = {"type": type_, "help": help_, "unit": unit, "family": family}

    def declare_histogram(self, family: str, help_: str, unit: str) -> None:
        for suffix in ("_bucket", "_sum", "_count"):
            self.declare(family + suffix, "histogram", help_, unit, family)

    def add(self, name: str, labels: dict[str, str], offset_ms: int, values: np.ndarray) -> None:
        assert name in self.metadata, name
        self.names.append(name)
        self.labels.append(labels)
        self.offsets_ms.append(offset_ms)
        self.rows.append(np.asarray(values, dtype=np.float64))


def counter(incs: np.ndarray, alive: np.ndarray, initial: float = 0.0, reset: int | None = None) -> np.ndarray:
    """Counter samples: `initial` plus the running sum, restarting from 0 at step `reset`."""
    incs = np.where(alive, incs, 0.0)
    values = initial + np.cumsum(incs)
    if reset is not None and reset < len(values):
        values[reset:] -= values[reset - 1] if reset > 0 else initial
    return np.where(alive, values, np.nan)


def build_prometheus(world: World, variant: Variant, traffic: Traffic) -> PromData:
    rng = np.random.default_rng([variant.seed, 2])
    data = PromData()
    steps = world.steps
    step_s = world.step_ms / 1000
    inc = variant.incidents
    ns = world.namespace
    pods = traffic.pods
    pod_row = {p.name: i for i, p in enumerate(pods)}

    def uptime_initial(key: str, per_second: float) -> float:
        """Counters of pods that were up before the window carry what they counted since."""
        days = 1 + stable_hash("uptime", key) % 400 / 100
        return float(round(per_second * days * 86400 * rng.uniform(0.9, 1.1)))

    def pod_initial(pod, key: str, per_second: float) -> float:
        return uptime_initial(pod.name + key, per_second) if pod.start == 0 else 0.0

    # ---- scrape health ---------------------------------------------------------------
    data.declare("up", "gauge", "1 if the target's last scrape succeeded, 0 if it failed.")
    app_offset = {}
    for i, pod in enumerate(pods):
        instance = f"{pod.ip}:8080"
        off = world.scrape_offset_ms(pod.service, instance)
        app_offset[pod.name] = off
        lifetime = np.zeros(steps, dtype=bool)
        lifetime[pod.start : pod.end if pod.end is not None else steps] = True
        data.add("up", {"job": pod.service, "instance": instance}, off,
                 np.where(lifetime, traffic.alive[i].astype(float), np.nan))
    infra_targets = [("node", f"{h.name}:9100") for h in world.hosts]
    infra_targets += [("kubelet", f"{h.name}:10250") for h in world.hosts]
    infra_targets += [("kube-state-metrics", "10.0.0.5:8080"), ("kafka-exporter", "10.0.0.9:9308"),
                      ("rabbitmq", "10.0.0.12:15692")]
    for job, instance in infra_targets:
        data.add("up", {"job": job, "instance": instance}, world.scrape_offset_ms(job, instance),
                 np.ones(steps))

    # ---- HTTP --------------------------------------------------------------------------
    data.declare("http_requests_total", "counter", "Total HTTP requests handled, by route and status code.")
    for k, kind in enumerate(traffic.kinds):
        pod = kind.pod
        alive = traffic.alive[pod_row[pod.name]]
        per_s = float(traffic.counts[k].mean()) / step_s
        values = counter(traffic.counts[k].astype(float), alive, pod_initial(pod, f"{kind.route}{kind.method}{kind.status_code}", per_s),
                         traffic.reset_step.get(pod.name))
        data.add("http_requests_total", {"service": pod.service, "method": kind.method, "route": kind.route,
                                         "status_code": kind.status_code, "pod": pod.name},
                 app_offset[pod.name], values)

    data.declare_histogram("http_request_duration_seconds", "HTTP request latency.", "seconds")
    spike = world.raw["incidents"]["error_spike"]
    in_error = np.zeros(steps, dtype=bool)
    in_error[inc.error_start : inc.error_end] = True
    for r, (pod_name, route) in enumerate(traffic.route_keys):
        pod = pods[pod_row[pod_name]]
        alive = traffic.alive[pod_row[pod_name]]
        rows = [k for k, kind in enumerate(traffic.kinds) if kind.pod.name == pod_name and kind.route == route]
        total = traffic.counts[rows].sum(axis=0)
        slow_errors = np.zeros(steps, dtype=np.int64)
        if pod.service == spike["service"]:
            # During the spike the 5xx answers are gateway timeouts of several seconds.
            errs = [k for k in rows if traffic.kinds[k].status_code in SERVER_ERRORS]
            slow_errors = np.where(in_error, traffic.counts[errs].sum(axis=0), 0)
        fast = total - slow_errors
        buckets = split_into_buckets(rng, fast, traffic.median_s[r], 0.55, HTTP_BUCKETS)
        buckets += split_into_buckets(rng, slow_errors, np.full(steps, 3.0), 0.35, HTTP_BUCKETS)
        upper = np.append(HTTP_BUCKETS, 15.0)
        lower = np.insert(HTTP_BUCKETS, 0, 0.0)
        sum_incs = np.round(buckets @ ((upper + lower) / 2) * rng.uniform(0.93, 1.07, steps), 6)
        cumulative = np.cumsum(buckets, axis=1)  # [steps, buckets]
        reset = traffic.reset_step.get(pod_name)
        per_s = float(total.mean()) / step_s
        init_count = pod_initial(pod, route, per_s)
        init_frac = np.cumsum(buckets.sum(axis=0)) / max(buckets.sum(), 1)
        base = {"service": pod.service, "route": route}
        off = app_offset[pod_name]
        for b, bound in enumerate(np.append(HTTP_BUCKETS, np.inf)):
            data.add("http_request_duration_seconds_bucket", {**base, "le": le_text(bound), "pod": pod_name}, off,
                     counter(cumulative[:, b].astype(float), alive, round(init_count * init_frac[b]), reset))
        data.add("http_request_duration_seconds_sum", {**base, "pod": pod_name}, off,
                 np.round(counter(sum_incs, alive, round(init_count * traffic.median_s[r, 0], 3), reset), 6))
        data.add("http_request_duration_seconds_count", {**base, "pod": pod_name}, off,
                 counter(cumulative[:, -1].astype(float), alive, init_count, reset))

    # ---- process, runtime and container metrics per pod -----------------------------------
    data.declare("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", "seconds")
    data.declare("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "bytes")
    data.declare("process_open_fds", "gauge", "Number of open file descriptors.")
    data.declare("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", "seconds")
    data.declare("container_memory_working_set_bytes", "gauge", "Current working set in bytes.", "bytes")
    data.declare("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.", "bytes")
    data.declare("kube_pod_container_status_restarts_total", "counter",
                 "The number of container restarts per container.")
    data.declare("kube_pod_info", "gauge", "Information about pod.")
    data.declare("go_goroutines", "gauge", "Number of goroutines that currently exist.")
    data.declare("go_gc_duration_seconds", "summary", "A summary of the pause duration of garbage collection cycles.",
                 "seconds", "go_gc_duration_seconds")
    data.declare("go_gc_duration_seconds_sum", "summary", "A summary of the pause duration of garbage collection cycles.",
                 "seconds", "go_gc_duration_seconds")
    data.declare("go_gc_duration_seconds_count", "summary",
                 "A summary of the pause duration of garbage collection cycles.", "seconds", "go_gc_duration_seconds")
    pod_rps = np.zeros((len(pods), steps))
    for k, kind in enumerate(traffic.kinds):
        pod_rps[pod_row[kind.pod.name]] += traffic.counts[k] / step_s
    cpu_cores = np.zeros((len(pods), steps))
    for i, pod in enumerate(pods):
        alive = traffic.alive[i]
        reset = traffic.reset_step.get(pod.name)
        service = world.services[pod.service]
        kubelet_off = world.scrape_offset_ms("kubelet", f"{pod.host.name}:10250")
        ksm_off = world.scrape_offset_ms("kube-state-metrics", "10.0.0.5:8080")
        cost = 0.004 * (1 + service.latency_s * 10)  # cores per request per second
        cores = np.round((0.03 + cost * pod_rps[i]) * smooth_noise(rng, (steps,), 0.1, 0.6), 6)
        cpu_cores[i] = np.where(alive, cores, 0.0)
        labels = {"service": pod.service, "pod": pod.name}
        data.add("process_cpu_seconds_total", labels, app_offset[pod.name],
                 np.round(counter(cores * step_s, alive, round(pod_initial(pod, "cpu", 0.2), 2), reset), 6))
        limit = (512 if pod.service in ("cart", "search", "auth") else 1024) * MIB
        mem = (0.35 + 0.1 * (stable_hash("mem", pod.name) % 100) / 100) * limit * smooth_noise(rng, (steps,), 0.01, 0.95)
        if reset is not None:
            # A leak: memory climbs until the OOM kill, then starts low again.
            before = np.arange(steps) < inc.restart_step
            ramp = np.clip(np.arange(steps) / max(inc.restart_step, 1), 0, 1)
            mem = np.where(before, mem + (0.99 * limit - mem) * ramp ** 1.5, mem * 0.8)
        mem = np.round(np.where(alive, mem, np.nan))
        data.add("process_resident_memory_bytes", labels, app_offset[pod.name], np.round(mem * 0.92))
        data.add("process_open_fds", labels, app_offset[pod.name],
                 np.where(alive, np.round(40 + 3 * pod_rps[i] ** 0.5 + rng.integers(0, 4, steps)), np.nan))
        if service.language == "go":
            data.add("go_goroutines", labels, app_offset[pod.name],
                     np.where(alive, np.round(25 + 2 * pod_rps[i] + rng.integers(0, 6, steps)), np.nan))
            gc_pause = 0.0002 * smooth_noise(rng, (steps,), 0.2, 0.5)
            for q, mult in zip(GC_QUANTILES, (0.3, 0.6, 1.0, 1.5, 6.0), strict=True):
                data.add("go_gc_duration_seconds", {**labels, "quantile": q}, app_offset[pod.name],
                         np.where(alive, np.round(gc_pause * mult, 9), np.nan))
            gcs = rng.poisson(0.5 + pod_rps[i] / 20)
            data.add("go_gc_duration_seconds_count", labels, app_offset[pod.name],
                     counter(gcs.astype(float), alive, pod_initial(pod, "gc", 0.05), reset))
            data.add("go_gc_duration_seconds_sum", labels, app_offset[pod.name],
                     np.round(counter(np.round(gcs * gc_pause * 1.4, 9), alive, 0.0, reset), 9))
        clabels = {"namespace": ns, "pod": pod.name, "container": pod.service}
        data.add("container_cpu_usage_seconds_total", clabels, kubelet_off,
                 np.round(counter(cores * 1.05 * step_s, alive, round(pod_initial(pod, "ccpu", 0.21), 2), reset), 6))
        data.add("container_memory_working_set_bytes", clabels, kubelet_off, mem)
        data.add("container_spec_memory_limit_bytes", clabels, kubelet_off, np.where(alive, float(limit), np.nan))
        lifetime = np.zeros(steps, dtype=bool)
        lifetime[pod.start : pod.end if pod.end is not None else steps] = True
        restarts = np.zeros(steps)
        if reset is not None:
            restarts[inc.restart_step :] = 1.0
        data.add("kube_pod_container_status_restarts_total", clabels, ksm_off, np.where(lifetime, restarts, np.nan))
        data.add("kube_pod_info", {"namespace": ns, "pod": pod.name, "node": pod.host.name, "pod_ip": pod.ip,
                                   "created_by_name": pod.name.rsplit("-", 1)[0]}, ksm_off,
                 np.where(lifetime, 1.0, np.nan))

    # ---- gRPC ----------------------------------------------------------------------------
    data.declare("grpc_server_handled_total", "counter", "Total number of RPCs completed on the server, regardless of success or failure.")
    for i, pod in enumerate(pods):
        grpc = world.services[pod.service].grpc
        if not grpc:
            continue
        alive = traffic.alive[i]
        for method in grpc["methods"]:
            base_rate = pod_rps[i] * (0.6 if method == grpc["methods"][0] else 0.25)
            err = np.full(steps, 0.001)
            if pod.service == spike["service"]:
                err = np.where(in_error, inc.error_ratio, err)
            for code, share in (("OK", 1 - err - 0.004), ("Unavailable", err), ("Internal", np.full(steps, 0.001)),
                                ("InvalidArgument", np.full(steps, 0.003))):
                incs = rng.poisson(base_rate * share * step_s).astype(float)
                data.add("grpc_server_handled_total",
                         {"grpc_service": grpc["service"], "grpc_method": method, "grpc_code": code,
                          "grpc_type": "unary", "service": pod.service, "pod": pod.name},
                         app_offset[pod.name],
                         counter(incs, alive, pod_initial(pod, f"grpc{method}{code}", float(np.mean(base_rate * share))),
                                 traffic.reset_step.get(pod.name)))

    # ---- databases -------------------------------------------------------------------------
    data.declare_histogram("db_query_duration_seconds", "Duration of database queries.", "seconds")
    data.declare("db_client_connections", "gauge", "Connections in the client pool, by state.")
    data.declare("db_client_connections_max", "gauge", "Maximum size of the client connection pool.")
    for spec in world.raw["databases"]:
        for i, pod in enumerate(pods):
            if pod.service != spec["service"]:
                continue
            alive = traffic.alive[i]
            reset = traffic.reset_step.get(pod.name)
            off = app_offset[pod.name]
            for op in spec["operations"]:
                n = rng.poisson(pod_rps[i] * step_s * (1.5 if op in ("select", "get") else 0.5))
                med = np.full(steps, 0.002 if spec["system"] == "redis" else 0.008)
                if pod.service == spike["service"]:
                    med = np.where(in_error, med * 6, med)  # lock contention behind the spike
                buckets = split_into_buckets(rng, n, med * smooth_noise(rng, (steps,), 0.1), 0.6, DB_BUCKETS)
                cumulative = np.cumsum(buckets, axis=1)
                upper = np.append(DB_BUCKETS, 2.0)
                lower = np.insert(DB_BUCKETS, 0, 0.0)
                sum_incs = np.round(buckets @ ((upper + lower) / 2), 6)
                init = pod_initial(pod, f"db{op}", float(n.mean()) / step_s)
                base = {"service": pod.service, "db": spec["db"], "db_system": spec["system"], "operation": op}
                for b, bound in enumerate(np.append(DB_BUCKETS, np.inf)):
                    data.add("db_query_duration_seconds_bucket", {**base, "le": le_text(bound), "pod": pod.name}, off,
                             counter(cumulative[:, b].astype(float), alive,
                                     round(init * (1.0 if not np.isfinite(bound) else min(1.0, 0.5 + b * 0.05))), reset))
                data.add("db_query_duration_seconds_sum", {**base, "pod": pod.name}, off,
                         np.round(counter(sum_incs, alive, round(init * 0.01, 3), reset), 6))
                data.add("db_query_duration_seconds_count", {**base, "pod": pod.name}, off,
                         counter(cumulative[:, -1].astype(float), alive, init, reset))
            used = np.clip(np.round(2 + pod_rps[i] * 0.3 * smooth_noise(rng, (steps,), 0.2, 0.5)), 1, 20)
            if pod.service == spike["service"]:
                used = np.where(in_error, 20, used)
            data.add("db_client_connections", {"service": pod.service, "db": spec["db"], "pod": pod.name, "state": "used"},
                     off, np.where(alive, used, np.nan))
            data.add("db_client_connections", {"service": pod.service, "db": spec["db"], "pod": pod.name, "state": "idle"},
                     off, np.where(alive, 20 - used, np.nan))
            data.add("db_client_connections_max", {"service": pod.service, "db": spec["db"], "pod": pod.name},
                     off, np.where(alive, 20.0, np.nan))

    # ---- Kafka and the queue ---------------------------------------------------------------------
    data.declare("kafka_consumergroup_lag", "gauge", "Current approximate lag of a consumer group at topic/partition.")
    data.declare("kafka_topic_partition_current_offset", "gauge", "Current offset of a broker at topic/partition.")
    data.declare("kafka_consumer_records_consumed_total", "counter", "Records consumed by the service, per topic.")
    kafka_off = world.scrape_offset_ms("kafka-exporter", "10.0.0.9:9308")
    lag_cfg = world.raw["incidents"]["consumer_lag"]
    t = np.arange(steps)
    for spec in world.raw["kafka"]:
        produced_rate = world.services[spec["producer"]].rps * 0.5 * traffic.load / spec["partitions"]
        consumed_total = np.zeros(steps)
        for part in range(spec["partitions"]):
            produced = rng.poisson(produced_rate * step_s).astype(float)
            offset = uptime_initial(f"kafka{spec['topic']}{part}", float(produced_rate.mean())) + np.cumsum(produced)
            lag = rng.poisson(3 + produced_rate * 2).astype(float)
            if spec["topic"] == lag_cfg["topic"]:
                phase = np.clip((t - inc.lag_start) / max(inc.lag_end - inc.lag_start, 1), 0, None)
                bump = np.where(phase <= 1, phase, np.exp(-(phase - 1) * 6)) * (t >= inc.lag_start)
                lag += np.round(inc.lag_peak / spec["partitions"] * bump * (0.8 + 0.1 * part))
            labels = {"topic": spec["topic"], "partition": str(part)}
            data.add("kafka_topic_partition_current_offset", labels, kafka_off, offset)
            data.add("kafka_consumergroup_lag", {"consumergroup": spec["consumergroup"], **labels}, kafka_off, lag)
            consumed_total += produced
        consumers = [(i, p) for i, p in enumerate(pods) if p.service == spec["consumer"]]
        for i, pod in consumers:
            share = traffic.alive[i] / np.maximum(sum(traffic.alive[j] for j, _ in consumers), 1)
            data.add("kafka_consumer_records_consumed_total", {"service": pod.service, "topic": spec["topic"], "pod": pod.name},
                     app_offset[pod.name],
                     counter(np.round(consumed_total * share), traffic.alive[i],
                             pod_initial(pod, f"kafka{spec['topic']}", float(consumed_total.mean() / step_s / 2)),
                             traffic.reset_step.get(pod.name)))
    data.declare("rabbitmq_queue_messages_ready", "gauge", "Messages ready to be delivered to consumers.")
    data.declare("rabbitmq_queue_messages_published_total", "counter", "Total number of messages published to queues.")
    rabbit_off = world.scrape_offset_ms("rabbitmq", "10.0.0.12:15692")
    for queue, rate in (("email-notifications", 2.0), ("label-printing", 0.7)):
        published = rng.poisson(rate * traffic.load * step_s).astype(float)
        ready = np.round(rng.gamma(2.0, 3.0, steps))
        if queue == "label-printing":
            ready += np.round(np.clip(t - inc.lag_start, 0, None) * (t < inc.lag_end) * 2.5)
        data.add("rabbitmq_queue_messages_ready", {"queue": queue, "vhost": "/"}, rabbit_off, ready)
        data.add("rabbitmq_queue_messages_published_total", {"queue": queue, "vhost": "/"}, rabbit_off,
                 counter(published, np.ones(steps, dtype=bool), uptime_initial(queue, rate)))

    # ---- nodes -------------------------------------------------------------------------------
    data.declare("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", "seconds")
    data.declare("node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes.", "bytes")
    data.declare("node_memory_MemAvailable_bytes", "gauge", "Memory information field MemAvailable_bytes.", "bytes")
    data.declare("node_memory_MemFree_bytes", "gauge", "Memory information field MemFree_bytes.", "bytes")
    data.declare("node_memory_Cached_bytes", "gauge", "Memory information field Cached_bytes.", "bytes")
    data.declare("node_load1", "gauge", "1m load average.")
    data.declare("node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes.", "bytes")
    data.declare("node_network_transmit_bytes_total", "counter", "Network device statistic transmit_bytes.", "bytes")
    for h, host in enumerate(world.hosts):
        instance = f"{host.name}:9100"
        off = world.scrape_offset_ms("node", instance)
        on_host = [i for i, p in enumerate(pods) if p.host.name == host.name]
        busy = np.clip(cpu_cores[on_host].sum(axis=0) + 0.15, 0, host.cpus * 0.95)  # cores in use
        user_frac = busy / host.cpus * 0.7
        other = {"system": busy / host.cpus * 0.25, "iowait": np.full(steps, 0.01), "irq": np.full(steps, 0.002),
                 "softirq": np.full(steps, 0.004), "steal": np.full(steps, 0.001), "nice": np.full(steps, 0.0005)}
        for cpu in range(host.cpus):
            noise = smooth_noise(rng, (steps,), 0.1, 0.5)
            fracs = {"user": user_frac * noise, **{m: f * noise for m, f in other.items()}}
            fracs["idle"] = np.clip(1.0 - sum(fracs.values()), 0.0, 1.0)
            uptime = 86400 * (20 + stable_hash("boot", host.name) % 30)
            for mode in CPU_MODES:
                incs = np.round(fracs[mode] * step_s, 3)
                data.add("node_cpu_seconds_total", {"instance": instance, "cpu": str(cpu), "mode": mode}, off,
                         np.round(counter(incs, np.ones(steps, dtype=bool), round(float(fracs[mode].mean()) * uptime, 2)), 3))
        total = host.memory_gib * 1024 * MIB
        pods_mem = sum(np.nan_to_num(data.rows[j]) for j, name in enumerate(data.names)
                       if name == "container_memory_working_set_bytes" and data.labels[j]["pod"] in {pods[i].name for i in on_host})
        used = pods_mem + 1.2 * 1024 * MIB
        cached = np.round(0.25 * total * smooth_noise(rng, (steps,), 0.01, 0.95))
        data.add("node_memory_MemTotal_bytes", {"instance": instance}, off, np.full(steps, float(total)))
        data.add("node_memory_MemAvailable_bytes", {"instance": instance}, off, np.round(total - used))
        data.add("node_memory_MemFree_bytes", {"instance": instance}, off, np.round(total - used - cached))
        data.add("node_memory_Cached_bytes", {"instance": instance}, off, cached)
        data.add("node_load1", {"instance": instance}, off, np.round(busy * smooth_noise(rng, (steps,), 0.15, 0.8), 2))
        rx = rng.poisson(pod_rps[on_host].sum(axis=0) * 4000 * step_s + 2e5).astype(float)
        data.add("node_network_receive_bytes_total", {"instance": instance, "device": "eth0"}, off,
                 counter(rx, np.ones(steps, dtype=bool), uptime_initial(f"rx{h}", 5e5)))
        data.add("node_network_transmit_bytes_total", {"instance": instance, "device": "eth0"}, off,
                 counter(np.round(rx * 2.6), np.ones(steps, dtype=bool), uptime_initial(f"tx{h}", 1.3e6)))
    return data
