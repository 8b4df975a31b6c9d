"""PromQL queries composed over the snapshot catalog, for the differential test.

`generate_queries(catalog, n)` returns `n` distinct, sensible queries (fixed seed):
selectors with every matcher kind, rate/increase/irate over counters, `*_over_time`
over gauges, aggregations by observed labels, `topk`, `histogram_quantile` over
classic buckets, binary operations with `on`/`ignoring`/`group_left`, comparisons
with and without `bool`, offsets and `@`, subqueries and a few math functions.
Only what Prometheus 2.42 and 3.x agree on is generated (docs/prometheus-versions.md).

    >>> from nlq.catalog import load_catalog
    >>> queries = generate_queries(load_catalog("snapshots/catalog/promql.json"), 5)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from nlq.catalog import Catalog, Metric

RANGES = ("1m", "2m", "5m", "10m", "15m")
OFFSETS = ("1m", "5m", "30m", "1h")
AGGREGATIONS = ("sum", "avg", "max", "min", "count")
OVER_TIME = ("avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time",
             "last_over_time", "stddev_over_time", "changes", "deriv", "delta", "present_over_time")
MATH = ("abs", "ceil", "floor", "sqrt", "ln", "exp", "sgn")
# Counters whose rates never tie (CPU time, bytes, all requests of a service): topk material.
TIE_FREE_COUNTERS = ("process_cpu_seconds_total", "container_cpu_usage_seconds_total", "node_cpu_seconds_total",
                     "node_network_receive_bytes_total", "node_network_transmit_bytes_total", "http_requests_total")
# Labels that say what a series is, rather than which replica it is: good grouping keys.
PREFERRED_GROUPING = ("service", "route", "status_code", "method", "job", "mode", "db", "topic", "namespace",
                      "grpc_code", "grpc_method", "state", "operation", "queue", "consumergroup", "container")


def regex_literal(value: str) -> str:
    """`value` as a regex matching itself, written inside a PromQL double-quoted string."""
    escaped = "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in value)
    return escaped.replace("\\", "\\\\")


class QueryGenerator:
    def __init__(self, catalog: Catalog, seed: int = 0):
        self.rng = random.Random(seed)
        self.catalog = catalog
        metrics = catalog.metrics.values()
        self.counters = [m for m in metrics if m.type == "counter"]
        self.gauges = [m for m in metrics if m.type == "gauge"]
        self.histograms = [m for m in metrics if m.type == "histogram" and m.name.endswith("_bucket")]
        self.hist_counts = [m for m in metrics if m.type == "histogram" and m.name.endswith(("_count", "_sum"))]

    # -- pieces
    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def grouping(self, metric: Metric, exclude: tuple[str, ...] = ()) -> list[str]:
        names = [n for n in metric.labels if n not in exclude and n != "le"]
        preferred = [n for n in PREFERRED_GROUPING if n in names]
        pool = preferred or names
        if not pool:
            return []
        k = 1 if len(pool) == 1 or self.rng.random() < 0.7 else 2
        return sorted(self.rng.sample(pool, k))

    def matcher(self, metric: Metric) -> str:
        candidates = [n for n in metric.labels if metric.labels[n] and n != "le"]
        if not candidates:
            return ""
        name = self.pick(candidates)
        values = metric.labels[name]
        roll = self.rng.random()
        if len(values) < 2:  # a negative matcher on the only value selects nothing
            roll = min(roll, 0.44)
        if roll < 0.45:
            return f'{name}="{self.pick(values)}"'
        if roll < 0.6:
            return f'{name}!="{self.pick(values)}"'
        if roll < 0.85:
            chosen = sorted(self.rng.sample(values, min(len(values), self.rng.randint(1, 3))))
            if self.rng.random() < 0.3 and name == "status_code":
                return f'{name}=~"5.."'
            return f'{name}=~"{"|".join(regex_literal(v) for v in chosen)}"'
        return f'{name}!~"{regex_literal(self.pick(values))}"'

    def selector(self, metric: Metric, matchers: int | None = None) -> str:
        count = self.rng.choice((0, 1, 1, 2)) if matchers is None else matchers
        parts = []
        for _ in range(count):
            m = self.matcher(metric)
            if m and re.match(r"\w+", m).group() not in [re.match(r"\w+", p).group() for p in parts]:
                parts.append(m)
        return f"{metric.name}{{{', '.join(parts)}}}" if parts else metric.name

    def modifier(self) -> str:
        roll = self.rng.random()
        if roll < 0.12:
            return f" offset {self.pick(OFFSETS)}"
        return ""

    def by(self, labels: list[str], keyword: str = "by") -> str:
        return f" {keyword} ({', '.join(labels)})" if labels else ""

    # -- query shapes
    def q_selector(self) -> str:
        return self.selector(self.pick(self.gauges + self.counters), matchers=self.rng.randint(1, 2)) + self.modifier()

    def q_rate(self) -> str:
        metric = self.pick(self.counters + self.hist_counts)
        fn = self.rng.choice(("rate", "rate", "increase", "irate"))
        inner = f"{fn}({self.selector(metric)}[{self.pick(RANGES)}]{self.modifier()})"
        if self.rng.random() < 0.6:
            agg = self.rng.choice(("sum", "sum", "avg", "max"))
            return f"{agg}{self.by(self.grouping(metric))} ({inner})"
        return inner

    def q_over_time(self) -> str:
        metric = self.pick(self.gauges)
        fn = self.pick(OVER_TIME)
        inner = f"{fn}({self.selector(metric)}[{self.pick(RANGES)}]{self.modifier()})"
        if fn == "stddev_over_time" or self.rng.random() < 0.3:
            return f"{self.pick(AGGREGATIONS)}{self.by(self.grouping(metric))} ({inner})"
        return inner

    def q_quantile_over_time(self) -> str:
        metric = self.pick(self.gauges)
        q = self.rng.choice(("0.5", "0.9", "0.99"))
        return f"quantile_over_time({q}, {self.selector(metric)}[{self.pick(RANGES)}])"

    def q_aggregation(self) -> str:
        metric = self.pick(self.gauges)
        agg = self.pick(AGGREGATIONS + ("stddev", "group"))
        keyword = "without" if self.rng.random() < 0.2 else "by"
        labels = self.grouping(metric)
        if keyword == "without":
            labels = [n for n in metric.labels if n not in PREFERRED_GROUPING][:1] or labels
        return f"{agg}{self.by(labels, keyword)} ({self.selector(metric)})"

    def q_topk(self) -> str:
        # Only counters that always move: among equal values (rates of 0) topk's pick is
        # the implementation's, not PromQL's.
        metric = self.catalog.metrics[self.pick(TIE_FREE_COUNTERS)]
        k = self.rng.choice((1, 3, 5))
        fn = self.rng.choice(("topk", "bottomk"))
        labels = self.grouping(metric, exclude=("status_code", "method"))
        return f"{fn}({k}, sum{self.by(labels)} (rate({metric.name}[5m])))"

    def q_quantile(self) -> str:
        metric = self.pick(self.gauges)
        return f"quantile{self.by(self.grouping(metric))} ({self.rng.choice(('0.5', '0.9'))}, {self.selector(metric)})"

    def q_histogram_quantile(self) -> str:
        metric = self.pick(self.histograms)
        q = self.rng.choice(("0.5", "0.9", "0.95", "0.99"))
        labels = sorted(set(self.grouping(metric, exclude=("pod",))) | {"le"})
        rng_ = self.rng.choice(("1m", "5m", "10m"))
        return f"histogram_quantile({q}, sum by ({', '.join(labels)}) (rate({self.selector(metric)}[{rng_}])))"

    def q_average_latency(self) -> str:
        family = self.pick([m.family for m in self.hist_counts if m.family])
        metric = self.catalog.metrics[f"{family}_sum"]
        labels = self.grouping(metric, exclude=("pod",))
        by = self.by(labels)
        sel = self.selector(metric).split("{", 1)
        matchers = "{" + sel[1] if len(sel) > 1 else ""
        return (f"sum{by} (rate({family}_sum{matchers}[5m])) / "
                f"sum{by} (rate({family}_count{matchers}[5m]))")

    def q_error_ratio(self) -> str:
        labels = self.rng.choice((["service"], ["service", "route"], ["route"], []))
        by = self.by(labels)
        rng_ = self.pick(RANGES[1:])
        err = self.rng.choice(('status_code=~"5.."', 'status_code="500"', 'status_code=~"4..|5.."'))
        out = (f'sum{by} (rate(http_requests_total{{{err}}}[{rng_}])) / '
               f"sum{by} (rate(http_requests_total[{rng_}]))")
        if self.rng.random() < 0.3:
            out = f"({out}) > {self.rng.choice(('0.01', '0.05', '0.1'))}"
        return out

    def q_binary_matching(self) -> str:
        roll = self.rng.random()
        if roll < 0.35:
            return ('sum by (pod) (rate(container_cpu_usage_seconds_total[5m])) / on (pod) '
                    'sum by (pod) (rate(process_cpu_seconds_total[5m]))')
        if roll < 0.6:
            return ("container_memory_working_set_bytes / ignoring (container) group_left "
                    "sum by (namespace, pod) (container_spec_memory_limit_bytes)")
        if roll < 0.8:
            mode = self.rng.choice(("user", "system", "idle", "iowait"))
            return (f'sum by (instance) (rate(node_cpu_seconds_total{{mode="{mode}"}}[5m])) / on (instance) '
                    "count by (instance) (node_cpu_seconds_total{mode=\"idle\"})")
        return ("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes")

    def q_comparison(self) -> str:
        metric = self.pick(self.gauges)
        op = self.rng.choice((">", "<", ">=", "<=", "==", "!="))
        bool_ = " bool" if self.rng.random() < 0.3 else ""
        inner = self.selector(metric)
        return f"{inner} {op}{bool_} scalar(avg({metric.name}))"

    def q_arithmetic(self) -> str:
        metric = self.pick(self.counters)
        factor = self.rng.choice(("60", "100", "1000", "0.5"))
        op = self.rng.choice(("*", "/", "+", "-"))
        return f"sum{self.by(self.grouping(metric))} (rate({self.selector(metric)}[5m])) {op} {factor}"

    def q_math(self) -> str:
        metric = self.pick(self.gauges)
        fn = self.pick(MATH + ("round", "clamp_min", "clamp_max"))
        sel = self.selector(metric)
        if fn == "round":
            return f"round({sel}, {self.rng.choice(('1', '0.1', '10'))})"
        if fn in ("clamp_min", "clamp_max"):
            return f"{fn}({sel}, {self.rng.choice(('0', '1', '100'))})"
        return f"{fn}({sel})"

    def q_subquery(self) -> str:
        metric = self.pick(self.counters)
        outer = self.rng.choice(("max_over_time", "avg_over_time", "min_over_time"))
        inner = f"sum{self.by(self.grouping(metric))} (rate({self.selector(metric)}[1m]))"
        return f"{outer}({inner}[{self.rng.choice(('10m', '30m'))}:{self.rng.choice(('1m', '30s'))}])"

    def q_at(self) -> str:
        metric = self.pick(self.counters)
        return f"sum{self.by(self.grouping(metric))} (increase({self.selector(metric)}[10m] @ end()))"

    def q_label_functions(self) -> str:
        metric = self.pick(self.gauges)
        src = self.pick([n for n in metric.labels] or ["__name__"])
        return f'label_replace({self.selector(metric)}, "copy", "$1", "{src}", "(.*)")'

    def q_absent_misc(self) -> str:
        metric = self.pick(self.gauges + self.counters)
        return self.rng.choice((
            f"absent({self.selector(metric, 1)})",
            f"count({metric.name})",
            f"sort_desc(sum by (service) (rate(http_requests_total[{self.pick(RANGES)}])))",
            f"resets({self.pick(self.counters).name}[30m])",
            "time() - max(process_cpu_seconds_total) * 0 ",
            f"count_values(\"value\", {self.pick(['up', 'db_client_connections_max', 'kube_pod_container_status_restarts_total'])})",
        ))

    def shapes(self) -> list[tuple[Callable[[], str], int]]:
        return [
            (self.q_selector, 8), (self.q_rate, 20), (self.q_over_time, 12), (self.q_quantile_over_time, 3),
            (self.q_aggregation, 10), (self.q_topk, 4), (self.q_quantile, 3), (self.q_histogram_quantile, 10),
            (self.q_average_latency, 4), (self.q_error_ratio, 6), (self.q_binary_matching, 3), (self.q_comparison, 4),
            (self.q_arithmetic, 4), (self.q_math, 4), (self.q_subquery, 4), (self.q_at, 2),
            (self.q_label_functions, 2), (self.q_absent_misc, 3),
        ]

    def generate(self, n: int) -> list[str]:
        shapes = self.shapes()
        weights = [w for _, w in shapes]
        seen: set[str] = set()
        out: list[str] = []
        attempts = 0
        while len(out) < n and attempts < n * 50:
            attempts += 1
            make = self.rng.choices([s for s, _ in shapes], weights)[0]
            query = " ".join(make().split())
            if query not in seen:
                seen.add(query)
                out.append(query)
        return out


def generate_queries(catalog: Catalog, n: int = 1200, seed: int = 0) -> list[str]:
    """`n` distinct PromQL queries over `catalog`, the same every run."""
    return QueryGenerator(catalog, seed).generate(n)
