"""Query composers: one per dialect, each turning a catalog into drafted queries.

A `Draft` is a query plus the *slots* that say what it means (the subject, the
filters, the grouping, the window, the function), so that `nlq.training.pairs`
can phrase it without parsing it back.  Composers only use what a catalog
declares: metric types decide the function (counters are rated, gauges are
aggregated or `deriv`ed, histogram buckets go through `histogram_quantile`,
Datadog counts get `.as_count()`, distributions get percentiles), labels with
known values become filters, labels with a handful of values become groupings.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from nlq.catalog import Catalog, LogField, Metric, infer_unit
from nlq.log_formats import PARSER_OF

# Labels that are mechanics of a metric type, never a filter or a grouping.
_MECHANICS = {"le", "quantile", "__name__"}
_MAX_GROUP_VALUES = 30  # more values than this makes a grouping a high-cardinality trap
WINDOWS = ("5m", "5m", "5m", "1m", "10m", "15m", "30m", "1h")
#: how far back a comparison with the past looks (`offset 1d`, Datadog's `day_before`)
SHIFTS = ("30m", "1h", "1h", "1d", "1w")
#: how often a share or a ratio of two metrics is asked for, and written, as a percentage
PERCENT_ASKED = 0.3
STATUS_NAMES = re.compile(r"(^|[._])(status|status_code|code)$")
_ERRORS = re.compile(r"error|fail")


@dataclass
class Draft:
    stratum: str  # filter, grouping, rate, join, edge
    kind: str  # the template, which picks the phrasings
    query: str
    slots: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers
def prom_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def regex_alternation(values: list[str]) -> str:
    """`a|b` with RE2 metacharacters escaped (as text for a regex matcher)."""
    return "|".join(re.sub(r"([.*+?()\[\]{}|^$\\])", r"\\\1", v) for v in values)


def _filters(metric_labels: dict[str, list[str]], high: list[str]) -> dict[str, list[str]]:
    """Labels usable as filters: known values, not mechanics, not high-cardinality."""
    return {k: v for k, v in metric_labels.items() if v and k not in _MECHANICS and k not in high}


def _groupings(metric_labels: dict[str, list[str]], high: list[str]) -> list[str]:
    return [
        k
        for k, v in metric_labels.items()
        if k not in _MECHANICS and k not in high and 2 <= len(v) <= _MAX_GROUP_VALUES
    ]


# Labels that name the thing a question is usually about; preferred as filters.
SUBJECT_LABELS = {"service", "job", "app", "application", "container", "deployment",
                  "kube_deployment", "kube_container_name", "component"}  # fmt: skip
_FEW_VALUES = 12


class _Pick:
    """Seeded choices that tolerate empty candidates (a template then yields nothing)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def filter_labels(self, usable: dict[str, list[str]], k: int) -> list[str]:
        """`k` labels to filter on, favouring subjects and labels with few values over ids."""
        names = sorted(usable)
        chosen: list[str] = []
        for _ in range(min(k, len(names))):
            left = [n for n in names if n not in chosen]
            weights = [
                3.0 if n in SUBJECT_LABELS else 1.0 if len(usable[n]) <= _FEW_VALUES else 0.15
                for n in left
            ]
            chosen.append(self.rng.choices(left, weights)[0])
        return chosen

    def one(self, items):
        items = list(items)
        return self.rng.choice(items) if items else None

    def some(self, items, k: int):
        items = list(items)
        return self.rng.sample(items, min(k, len(items)))


# ---------------------------------------------------------------------------- PromQL
def _prom_metrics(catalog: Catalog) -> dict[str, list[Metric]]:
    kinds: dict[str, list[Metric]] = {"counter": [], "gauge": [], "bucket": [], "family": []}
    for m in catalog.metrics.values():
        if m.name.endswith("_bucket") and "le" in m.labels:
            kinds["bucket"].append(m)
            base = m.name[: -len("_bucket")]
            if base + "_sum" in catalog.metrics and base + "_count" in catalog.metrics:
                kinds["family"].append(m)
        elif m.type == "counter" or (m.type == "unknown" and m.name.endswith("_total")):
            kinds["counter"].append(m)
        elif m.type in ("gauge", "unknown") and not m.name.endswith(("_sum", "_count")):
            kinds["gauge"].append(m)
    return kinds


def _agg(op: str, by: str | None, inner: str) -> str:
    """`sum(x)` or `sum by (l) (x)`, as the canonical formatter writes them."""
    return f"{op} by ({by}) ({inner})" if by else f"{op}({inner})"


def _prom_selector(name: str, matchers: list[tuple[str, str, str]]) -> str:
    if not matchers:
        return name
    return name + "{" + ",".join(f"{k}{op}{prom_string(v)}" for k, op, v in matchers) + "}"


def compose_promql(catalog: Catalog, rng: random.Random) -> Draft | None:
    pick = _Pick(rng)
    kinds = _prom_metrics(catalog)
    template = pick.one(t for t, needs in _PROM_TEMPLATES if kinds[needs])
    if template is None:
        return None
    return template(kinds, pick)


def _prom_base(metric: Metric, pick: _Pick, k: int = 1):
    usable = _filters(metric.labels, metric.high_cardinality)
    matchers = [(lbl, "=", pick.one(usable[lbl])) for lbl in pick.filter_labels(usable, k)]
    by = pick.one(
        g
        for g in _groupings(metric.labels, metric.high_cardinality)
        if g not in {m[0] for m in matchers}
    )
    return matchers, by


def _slots(metric: Metric, matchers, by=None, window=None, **extra) -> dict:
    return {
        "metric": metric.name,
        "help": metric.help,
        "filters": matchers,
        "by": by,
        "window": window,
        **extra,
    }


def _p_gauge_selector(kinds, pick):
    m = pick.one(kinds["gauge"])
    matchers, _ = _prom_base(m, pick, k=pick.one([1, 1, 2]))
    return Draft("filter", "show", _prom_selector(m.name, matchers), _slots(m, matchers))


def _p_gauge_aggregate(kinds, pick):
    m = pick.one(kinds["gauge"])
    matchers, by = _prom_base(m, pick, k=pick.one([0, 1]))
    op = pick.one(["sum", "avg", "max", "min"])
    query = _agg(op, by, _prom_selector(m.name, matchers))
    return Draft("grouping", "gauge_agg", query, _slots(m, matchers, by, op=op))


def _p_counter_rate(kinds, pick):
    m = pick.one(kinds["counter"])
    matchers, by = _prom_base(m, pick, k=pick.one([0, 1, 1]))
    window = pick.one(WINDOWS)
    inner = f"rate({_prom_selector(m.name, matchers)}[{window}])"
    if by and pick.one([True, False]):
        return Draft(
            "grouping", "rate_by", f"sum by ({by}) ({inner})", _slots(m, matchers, by, window)
        )
    return Draft("rate", "rate", f"sum({inner})", _slots(m, matchers, None, window))


def _p_counter_increase(kinds, pick):
    m = pick.one(kinds["counter"])
    matchers, by = _prom_base(m, pick)
    window = pick.one(["15m", "30m", "1h", "6h"])
    query = _agg("sum", by, f"increase({_prom_selector(m.name, matchers)}[{window}])")
    return Draft("rate", "increase", query, _slots(m, matchers, by, window))


def _p_topk(kinds, pick):
    m = pick.one(kinds["counter"])
    matchers, by = _prom_base(m, pick, k=pick.one([0, 1]))
    if not by:
        return None
    k = pick.one([3, 5, 10])
    query = f"topk({k}, sum by ({by}) (rate({_prom_selector(m.name, matchers)}[5m])))"
    return Draft("grouping", "topk", query, _slots(m, matchers, by, "5m", k=k))


def _p_offset(kinds, pick):
    """A rate now against the same rate some time back: as a ratio, a % change, or alone."""
    m = pick.one(kinds["counter"])
    matchers, _ = _prom_base(m, pick)
    window = pick.one(["5m", "10m"])
    shift = pick.one(SHIFTS)
    sel = _prom_selector(m.name, matchers)
    now, then = f"sum(rate({sel}[{window}]))", f"sum(rate({sel}[{window}] offset {shift}))"
    slots = _slots(m, matchers, None, window, shift=shift)
    form = pick.one(["ratio", "ratio", "percent", "alone"])
    if form == "ratio":
        return Draft("rate", "vs_earlier", f"{now} / {then}", slots)
    if form == "percent":
        return Draft("rate", "pct_change", f"({now} / {then} - 1) * 100", slots)
    return Draft("rate", "earlier_rate", then, slots)


def _p_peak_rate(kinds, pick):
    """The highest a counter's rate reached over a longer stretch: a subquery, since a rate has no `_over_time` of its own."""
    m = pick.one(kinds["counter"])
    matchers, _ = _prom_base(m, pick, k=pick.one([0, 1]))
    span = pick.one(["1h", "6h", "1d"])
    query = f"max_over_time(sum(rate({_prom_selector(m.name, matchers)}[5m]))[{span}:1m])"
    return Draft("rate", "peak_rate", query, _slots(m, matchers, None, span))


def _p_gauge_rank(kinds, pick):
    """The few series of a gauge that are highest or lowest right now."""
    m = pick.one(kinds["gauge"])
    matchers, _ = _prom_base(m, pick, k=pick.one([0, 0, 1]))
    k = pick.one([3, 5, 10])
    fn = pick.one(["topk", "bottomk"])
    query = f"{fn}({k}, {_prom_selector(m.name, matchers)})"
    return Draft("grouping", f"{fn}_gauge", query, _slots(m, matchers, k=k))


def _p_quantile(kinds, pick):
    m = pick.one(kinds["bucket"])
    matchers, by = _prom_base(m, pick, k=pick.one([0, 1, 1]))
    q = pick.one([0.5, 0.9, 0.95, 0.99, 0.99])
    window = pick.one(["5m", "5m", "10m"])
    keep = f"{by}, le" if by and pick.one([True, False]) else "le"
    query = (
        f"histogram_quantile({q:g}, sum by ({keep}) "
        f"(rate({_prom_selector(m.name, matchers)}[{window}])))"
    )
    return Draft(
        "grouping",
        "quantile",
        query,
        _slots(m, matchers, by if keep != "le" else None, window, q=q),
    )


def _p_average_from_family(kinds, pick):
    m = pick.one(kinds["family"])
    base = m.name[: -len("_bucket")]
    matchers, _ = _prom_base(m, pick)
    sel = lambda suffix: _prom_selector(base + suffix, matchers)  # noqa: E731
    query = f"sum(rate({sel('_sum')}[5m])) / sum(rate({sel('_count')}[5m]))"
    return Draft("join", "average", query, _slots(m, matchers, None, "5m"))


def _bound_words(le: str) -> str:
    """A latency bucket's bound as an engineer says it: `0.25` -> `250ms`, `2.5` -> `2.5s`."""
    seconds = float(le)
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def _p_bucket_share(kinds, pick):
    """The share of observations at or under a latency bound, from the bucket of that bound over
    the count: `sum(rate(x_bucket{le="0.5"}[5m])) / sum(rate(x_count[5m]))`, the latency SLI."""
    m = pick.one(f for f in kinds["family"] if (f.unit or infer_unit(f.name)) == "seconds")
    if m is None:
        return None
    bounds = [le for le in m.labels.get("le", []) if re.fullmatch(r"\d+(\.\d+)?", le) and 0 < float(le) <= 60]
    le = pick.one(bounds)
    if le is None:
        return None
    matchers, _ = _prom_base(m, pick, k=pick.one([0, 1, 1]))
    window = pick.one(["5m", "5m", "10m", "1h"])
    part = _prom_selector(m.name, matchers + [("le", "=", le)])
    whole = _prom_selector(m.name[: -len("_bucket")] + "_count", matchers)
    query, kind = f"sum(rate({part}[{window}])) / sum(rate({whole}[{window}]))", "bucket_share"
    if pick.rng.random() < PERCENT_ASKED:
        query, kind = f"{query} * 100", "bucket_share_pct"
    return Draft("join", kind, query, _slots(m, matchers, None, window, threshold=_bound_words(le)))


def _p_share(kinds, pick):
    m = pick.one(kinds["counter"])
    usable = _filters(m.labels, m.high_cardinality)
    label = pick.one(lbl for lbl, vs in usable.items() if len(vs) >= 2)
    if label is None:
        return None
    errors = sorted({v for v in usable[label] if re.fullmatch(r"5\d\d", v)})
    if STATUS_NAMES.search(label) and errors:
        matcher, kind = (label, "=~", "5.."), "error_ratio"
    elif STATUS_NAMES.search(label) and "OK" in usable[label]:  # gRPC's codes: every one but OK is an error
        matcher, kind = (label, "!=", "OK"), "not_ok_ratio"
    else:
        matcher, kind = (label, "=", pick.one(usable[label])), "share"
    others, by = _prom_base(m, pick, k=pick.one([0, 1]))
    others = [o for o in others if o[0] != label]
    by = by if by != label else None
    part = _prom_selector(m.name, others + [matcher])
    whole = _prom_selector(m.name, others)
    query = f"{_agg('sum', by, f'rate({part}[5m])')} / {_agg('sum', by, f'rate({whole}[5m])')}"
    if pick.rng.random() < PERCENT_ASKED:  # asked as a percentage, it is one
        query, kind = f"{query} * 100", f"{kind}_pct"
    return Draft("join", kind, query, _slots(m, others, by, "5m", part=matcher))


def _p_gauge_change(kinds, pick):
    m = pick.one(kinds["gauge"])
    matchers, _ = _prom_base(m, pick)
    fn = pick.one(["deriv", "delta", "max_over_time", "avg_over_time"])
    window = pick.one(["30m", "1h"]) if fn in ("deriv", "delta") else pick.one(["1h", "6h"])
    query = f"{fn}({_prom_selector(m.name, matchers)}[{window}])"
    stratum = "rate" if fn in ("deriv", "delta") else "grouping"
    return Draft(stratum, fn, query, _slots(m, matchers, None, window))


def _p_negation(kinds, pick):
    m = pick.one(kinds["counter"])
    usable = _filters(m.labels, m.high_cardinality)
    label = pick.one(lbl for lbl, vs in usable.items() if len(vs) >= 3)
    if label is None:
        return None
    excluded = sorted(pick.some(usable[label], pick.one([1, 2])))
    if len(excluded) == 1:
        matcher, kind = (label, "!=", excluded[0]), "exclude"
    else:
        matcher, kind = (label, "!~", regex_alternation(excluded)), "exclude_list"
    query = f"sum by ({label}) (rate({_prom_selector(m.name, [matcher])}[5m]))"
    return Draft("edge", kind, query, _slots(m, [], label, "5m", excluded=(label, excluded)))


def _p_include_regex(kinds, pick):
    m = pick.one(kinds["counter"] + kinds["gauge"])
    usable = _filters(m.labels, m.high_cardinality)
    label = pick.one(lbl for lbl, vs in usable.items() if len(vs) >= 3)
    if label is None:
        return None
    chosen = sorted(pick.some(usable[label], 2))
    sel = _prom_selector(m.name, [(label, "=~", regex_alternation(chosen))])
    query = f"sum by ({label}) (rate({sel}[5m]))" if m in kinds["counter"] else sel
    return Draft("edge", "either", query, _slots(m, [], None, "5m", either=(label, chosen)))


def _p_absent(kinds, pick):
    m = pick.one(kinds["gauge"] + kinds["counter"])
    matchers, _ = _prom_base(m, pick)
    return Draft(
        "edge", "absent", f"absent({_prom_selector(m.name, matchers)})", _slots(m, matchers)
    )


def _p_threshold(kinds, pick):
    """A gauge compared with a number: which series are above (or below) it now."""
    m = pick.one(kinds["gauge"])
    matchers, _ = _prom_base(m, pick, k=pick.one([0, 1]))
    cmp = pick.one([">", ">", "<"])
    number = pick.one([0, 1, 5, 10, 50, 100, 1000])
    query = f"{_prom_selector(m.name, matchers)} {cmp} {number}"
    return Draft("filter", "threshold", query, _slots(m, matchers, cmp=cmp, number=number))


def _p_count_series(kinds, pick):
    """How many series (pods, targets, queues) a gauge has, per group."""
    m = pick.one(kinds["gauge"])
    matchers, by = _prom_base(m, pick, k=pick.one([0, 1]))
    query = _agg("count", by, _prom_selector(m.name, matchers))
    return Draft("grouping", "count_series", query, _slots(m, matchers, by))


_UNIT_WORDS = {"bytes", "seconds", "total", "count", "ratio"}


def _same_family(a: str, b: str) -> bool:
    """Two metrics of one family: the same first word and another word in common
    (`container_memory_working_set_bytes`, `container_spec_memory_limit_bytes`)."""
    wa, wb = a.split("_"), b.split("_")
    return wa[0] == wb[0] and bool((set(wa[1:]) & set(wb[1:])) - _UNIT_WORDS)


def _p_gauge_ratio(kinds, pick):
    """One gauge over another of its family (used over limit, available over total)."""
    m = pick.one(kinds["gauge"])
    mine = _groupings(m.labels, m.high_cardinality)

    def shared(o: Metric) -> list[str]:
        theirs = _groupings(o.labels, o.high_cardinality)
        return [g for g in mine if g in theirs]

    partners = [
        o for o in kinds["gauge"]
        if o.name != m.name and _same_family(o.name, m.name) and not o.name.endswith("_info") and shared(o)
    ]  # fmt: skip
    other = pick.one(partners)
    if other is None:
        return None
    by = pick.one(shared(other)) if pick.rng.random() < 0.7 else None
    query = f"{_agg('sum', by, m.name)} / {_agg('sum', by, other.name)}"
    return Draft("join", "ratio", query, _slots(m, [], by, other=other.name))


def _p_info_join(kinds, pick):
    """A metric broken down by a label only an `_info` metric carries (`* on (pod) group_left (node)`)."""
    infos = [g for g in kinds["gauge"] if g.name.endswith("_info")]
    info = pick.one(infos)
    if info is None:
        return None
    # labels with many values identify what the info metric describes (pod, instance)
    keys = [k for k, values in info.labels.items() if len(values) > _FEW_VALUES]
    joinable = [m for m in kinds["gauge"] + kinds["counter"] if m is not info and any(k in m.labels for k in keys)]
    m = pick.one(joinable)
    if m is None:
        return None
    key = pick.one(k for k in keys if k in m.labels)
    extra = pick.one(
        k for k in _groupings(info.labels, info.high_cardinality) if k not in m.labels
    )
    if extra is None:
        return None
    inner = m.name if m in kinds["gauge"] else f"rate({m.name}[5m])"
    window = None if m in kinds["gauge"] else "5m"
    query = f"sum by ({extra}) ({inner} * on ({key}) group_left ({extra}) {info.name})"
    return Draft("join", "info_join", query, _slots(m, [], extra, window, key=key))


_PROM_TEMPLATES: list[tuple[Callable, str]] = [
    (_p_gauge_selector, "gauge"), (_p_gauge_selector, "gauge"), (_p_gauge_aggregate, "gauge"),
    (_p_counter_rate, "counter"), (_p_counter_rate, "counter"), (_p_counter_increase, "counter"),
    (_p_topk, "counter"), (_p_offset, "counter"), (_p_offset, "counter"), (_p_quantile, "bucket"),
    (_p_quantile, "bucket"), (_p_average_from_family, "family"), (_p_share, "counter"),
    (_p_share, "counter"), (_p_gauge_change, "gauge"), (_p_negation, "counter"),
    (_p_include_regex, "counter"), (_p_absent, "gauge"), (_p_threshold, "gauge"),
    (_p_count_series, "gauge"), (_p_gauge_ratio, "gauge"), (_p_info_join, "gauge"),
    (_p_peak_rate, "counter"), (_p_gauge_rank, "gauge"), (_p_bucket_share, "family"),
]  # fmt: skip


# ---------------------------------------------------------------------------- LogQL
def _unwrap(name: str, conversion: str) -> str:
    """`unwrap name` (through `conversion`), dropping the lines it cannot convert: lines
    without the field, other events of the same stream, would otherwise fail the query."""
    field_ = f"{conversion}({name})" if conversion else name
    return f'unwrap {field_} | __error__=""'


def _parser_for(catalog: Catalog, label: str, value: str) -> str | None:
    """The parser stage `{label="value"}`'s lines need, or None where none works on all of them.

    A catalog that records no formats is taken to hold JSON lines; one that does is
    trusted: plain text, or a stream that mixes formats, gets no parser (queries that
    parse fields are then not composed for it, rather than composed wrong).
    """
    if not catalog.log_formats:
        return "json"
    return PARSER_OF.get(catalog.log_formats.get(label, {}).get(value, ""))


def _fields_of(catalog: Catalog, label: str, value: str) -> dict[str, LogField]:
    """The parsed fields of `{label="value"}`'s lines (`catalog.stream_fields`), else every field:
    a query on cart's logfmt lines unwraps its `size`, never the `bytes` the JSON services log."""
    carried = catalog.stream_fields.get(label, {}).get(value)
    if carried is None:
        return catalog.log_fields
    return {name: f for name, f in catalog.log_fields.items() if name in carried}


def _logql_selector(matchers: list[tuple[str, str, str]]) -> str:
    return "{" + ", ".join(f"{k}{op}{prom_string(v)}" for k, op, v in matchers) + "}"


def compose_logql(catalog: Catalog, rng: random.Random) -> Draft | None:
    pick = _Pick(rng)
    labels = {k: v for k, v in catalog.log_labels.items() if v}
    if not labels:
        return None
    groupable = [k for k, v in labels.items() if 2 <= len(v) <= _MAX_GROUP_VALUES]
    stream_label = pick.filter_labels({k: labels[k] for k in groupable or labels}, 1)[0]
    value = pick.one(labels[stream_label])
    base = [(stream_label, "=", value)]
    parser = _parser_for(catalog, stream_label, value)
    level = next((k for k in labels if k in ("level", "severity", "detected_level")), None)
    # an error level to add to the stream (none when the stream is already picked by level)
    errors = level and level != stream_label and next((v for v in labels[level] if v in ("error", "err", "ERROR")),
                                                      None)
    fields = _fields_of(catalog, stream_label, value)
    # Phrases make good line filters; single words such as a level or a version do not.
    texts = [
        v
        for f in fields.values()
        if f.kind == "string"
        for v in f.values
        if " " in v and len(v) <= 60
    ]
    status = next(
        (n for n, f in fields.items() if f.kind == "number" and STATUS_NAMES.search(n)), None
    )
    duration = next((n for n, f in fields.items() if f.kind == "duration"), None)
    by = pick.one(g for g in groupable if g != stream_label)
    window = pick.one(WINDOWS)
    slots = {"filters": base, "by": by, "window": window, "subject": "logs"}
    sel = _logql_selector(base)
    error_sel = _logql_selector(base + [(level, "=", errors)]) if errors else None
    # Parsed fields a query can filter or group on: few values, each one word.
    categorical = {
        n: f.values
        for n, f in fields.items()
        if f.kind == "string" and 2 <= len(f.values) <= _FEW_VALUES and n not in labels
        and all(re.fullmatch(r"[\w.\-]+", v) for v in f.values)
    }  # fmt: skip
    # Numeric fields an unwrap can take, each with the conversion its values need.
    unwrappable = {n: {"number": "", "duration": "duration_seconds", "bytes": "bytes"}[f.kind]
                   for n, f in fields.items() if f.kind in ("number", "duration", "bytes") and n != status}
    # Codes an asker names ("503s"): the error statuses seen in the data.
    codes = [v for v in fields[status].values if v.isdigit() and int(v) >= 400] if status else []
    options = ["lines", "count_by", "rate", "vs_earlier", "negation", "either", "rate_by", "bytes",
               "topk"]  # fmt: skip
    if texts:
        options += ["contains", "contains_rate"]
    if len(texts) >= 2:
        options += ["contains_either"]
    if errors:
        options += ["errors", "error_share", "errors_by", "error_rate"]
        if texts:
            options += ["text_share"]
    if level and level != stream_label and len(labels[level]) >= 2:
        options += ["level_ratio"]
    if parser:  # the rest parse fields out of the line: only where a parser works on it
        if status:
            options += ["status_filter", "status_count", "status_share"]
        if codes:
            options += ["status_code", "status_code_rate"]
        if duration:
            options += ["duration_quantile", "slow"]
        if categorical:
            options += ["field_equals", "count_by_field"]
        if unwrappable:
            options += ["unwrap_stat"]
    kind = pick.one(options)
    if kind == "rate_by" and by:
        query = f"sum by ({by}) (rate({sel}[{window}]))"
        return Draft("rate", "rate_by", query, slots)
    if kind == "bytes":  # a volume per group, or one rate
        fn = pick.one(["bytes_over_time", "bytes_rate"])
        group = by if fn == "bytes_over_time" else None
        query = _agg("sum", group, f"{fn}({sel}[{window}])")
        stratum, name = ("grouping", "log_bytes") if fn == "bytes_over_time" else ("rate", "bytes_rate")
        return Draft(stratum, name, query, {**slots, "by": group})
    if kind == "topk" and by:
        k = pick.one([3, 5, 10])
        query = f"topk({k}, sum by ({by}) (count_over_time({sel}[{window}])))"
        return Draft("grouping", "topk_logs", query, {**slots, "k": k})
    if kind == "errors_by":
        err = _logql_selector([(level, "=", errors)])
        query = f"sum by ({stream_label}) (count_over_time({err}[{window}]))"
        return Draft("grouping", "errors_by", query, {**slots, "filters": [], "by": stream_label})
    if kind == "error_rate":
        query = f"sum(rate({error_sel}[{window}]))"
        return Draft("rate", "error_rate", query, slots)
    if kind == "contains_either":
        chosen = sorted(pick.some(texts, 2))
        query = f"{sel} |~ {prom_string(regex_alternation(chosen))}"
        return Draft("edge", "contains_either", query, {**slots, "texts": chosen})
    if kind == "field_equals":
        name = pick.one(categorical)
        value = pick.one(categorical[name])
        query = f"{sel} | {parser} | {name}={prom_string(value)}"
        return Draft(
            "filter", "show_logs", query, {**slots, "filters": slots["filters"] + [(name, "=", value)]}
        )
    if kind == "count_by_field":
        name = pick.one(categorical)
        query = f"sum by ({name}) (count_over_time({sel} | {parser} [{window}]))"
        return Draft("grouping", "count_by", query, {**slots, "by": name})
    if kind == "unwrap_stat":
        name = pick.one(unwrappable)
        fn = pick.one(["avg_over_time", "max_over_time"])
        query = f"{fn}({sel} | {parser} | {_unwrap(name, unwrappable[name])} [{window}]) by ({stream_label})"
        return Draft(
            "grouping", fn, query, {**slots, "subject": name.replace("_", " "), "by": stream_label}
        )
    if kind == "status_code":
        code = pick.one(codes)
        query = f"{sel} | {parser} | {status} = {code}"
        return Draft("filter", "status_code", query, {**slots, "code": code})
    if kind == "status_code_rate":
        code = pick.one(codes)
        query = f"sum(rate({sel} | {parser} | {status} = {code} [{window}]))"
        return Draft("rate", "status_code_rate", query, {**slots, "code": code})
    if kind == "lines":
        extra = pick.one(g for g in labels if g != stream_label)
        if extra and pick.one([True, False]):
            base = base + [(extra, "=", pick.one(labels[extra]))]
        return Draft("filter", "show_logs", _logql_selector(base), {**slots, "filters": base})
    if kind == "contains":
        text = pick.one(texts)
        return Draft("filter", "contains", f"{sel} |= {prom_string(text)}", {**slots, "text": text})
    if kind == "errors":
        return Draft("filter", "error_logs", error_sel, slots)
    if kind == "status_filter":
        return Draft("filter", "status_5xx", f"{sel} | {parser} | {status} >= 500", slots)
    if kind == "slow":
        return Draft(
            "filter", "slow", f"{sel} | {parser} | {duration} > 1s", {**slots, "threshold": "1s"}
        )
    if kind == "count_by" and by:
        query = f"sum by ({by}) (count_over_time({sel}[{window}]))"
        return Draft("grouping", "count_by", query, slots)
    if kind == "status_count":
        query = f"sum(count_over_time({sel} | {parser} | {status} >= 500 [{window}]))"
        return Draft("grouping", "status_count", query, slots)
    if kind == "duration_quantile":
        q = pick.one([0.5, 0.9, 0.95, 0.99])
        query = (
            f"quantile_over_time({q:g}, {sel} | {parser} | {_unwrap(duration, 'duration_seconds')} "
            f"[{window}]) by ({stream_label})"
        )
        return Draft(
            "grouping",
            "quantile",
            query,
            {**slots, "q": q, "subject": "request duration", "by": stream_label},
        )
    if kind == "contains_rate":
        text = pick.one(texts)
        query = f"sum(rate({sel} |= {prom_string(text)} [{window}]))"
        return Draft("rate", "contains_rate", query, {**slots, "text": text})
    if kind == "vs_earlier":
        shift = pick.one(SHIFTS)
        now, then = f"count_over_time({sel}[{window}])", f"count_over_time({sel}[{window}] offset {shift})"
        form = pick.one(["ratio", "difference", "alone"])
        if form == "ratio":
            return Draft("rate", "vs_earlier", f"sum({now}) / sum({then})", {**slots, "shift": shift})
        if form == "difference":
            return Draft("rate", "log_change", f"sum({now}) - sum({then})", {**slots, "shift": shift})
        query = f"sum(rate({sel}[5m] offset {shift}))"
        return Draft("rate", "earlier_rate", query, {**slots, "window": "5m", "shift": shift})
    if kind == "error_share":  # overall, or per group (`by` is a label other than the stream's)
        group = by if by and by != level and pick.one([True, False]) else None
        query = (f"{_agg('sum', group, f'count_over_time({error_sel}[{window}])')} / "
                 f"{_agg('sum', group, f'count_over_time({sel}[{window}])')}")
        return Draft("join", "log_error_ratio", query, {**slots, "by": group})
    if kind == "text_share":  # the errors that mention a phrase, as a share of all errors
        text = pick.one(texts)
        query = (f"sum(count_over_time({error_sel} |= {prom_string(text)} [{window}])) / "
                 f"sum(count_over_time({error_sel}[{window}]))")
        return Draft("join", "text_share", query, {**slots, "text": text})
    if kind == "level_ratio":  # lines of one level per line of another: "warn/error ratio"
        first, second = pick.some(labels[level], 2)
        count = lambda value: f"sum(count_over_time({_logql_selector(base + [(level, '=', value)])}[{window}]))"  # noqa: E731
        return Draft("join", "level_ratio", f"{count(first)} / {count(second)}", {**slots, "levels": (first, second)})
    if kind == "status_share":  # the 5xx share of the requests a stream logged
        parsed = f"{sel} | {parser}"
        query = (f"sum(count_over_time({parsed} | {status} >= 500 [{window}])) / "
                 f"sum(count_over_time({parsed} [{window}]))")
        return Draft("join", "status_share", query, slots)
    if kind == "negation" and texts:
        text = pick.one(texts)
        return Draft(
            "edge", "without_text", f"{sel} != {prom_string(text)}", {**slots, "text": text}
        )
    if kind == "either" and len(labels[stream_label]) >= 3:
        chosen = sorted(pick.some(labels[stream_label], 2))
        query = f"sum by ({stream_label}) (rate({_logql_selector([(stream_label, '=~', regex_alternation(chosen))])}[{window}]))"
        return Draft("edge", "either_rate", query, {**slots, "either": (stream_label, chosen)})
    query = f"sum(rate({sel}[{window}]))"
    return Draft("rate", "rate", query, slots)


# ---------------------------------------------------------------------------- Datadog
_DD_VALUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/:]*$")


def _dd_tags(metric: Metric) -> dict[str, list[str]]:
    """Tags whose values a query can spell without quoting."""
    usable = _filters(metric.labels, metric.high_cardinality)
    return {
        k: [v for v in vs if _DD_VALUE.match(v)]
        for k, vs in usable.items()
        if any(_DD_VALUE.match(v) for v in vs)
    }


def _dd_scope(filters: list[tuple[str, str]], negated: bool = False) -> str:
    if not filters:
        return "{*}"
    return "{" + ",".join(("!" if negated else "") + f"{k}:{v}" for k, v in filters) + "}"


def compose_datadog_metrics(catalog: Catalog, rng: random.Random) -> Draft | None:
    pick = _Pick(rng)
    metric = pick.one(catalog.metrics.values())
    if metric is None:
        return None
    tags = _dd_tags(metric)
    key = pick.filter_labels(tags, 1)[0] if tags and pick.rng.random() < 0.85 else None
    filters = [(key, pick.one(tags[key]))] if key else []
    by = pick.one(g for g in _groupings(metric.labels, metric.high_cardinality) if g != key)
    by = by if pick.rng.random() < 0.6 else None
    group = f" by {{{by}}}" if by else ""
    scope = _dd_scope(filters)
    slots = {
        "metric": metric.name,
        "help": metric.help,
        "filters": [(k, "=", v) for k, v in filters],
        "by": by,
        "window": None,
    }
    if metric.type in ("count", "rate"):
        rate = ".as_count()" if metric.type == "count" else ""
        q = f"sum:{metric.name}{scope}{group}{rate}"
        options = ["total", "per_second", "vs_earlier", "rollup", "exclude", "top", "share",
                   "ratio", "running_total"]  # fmt: skip
        kind = pick.one(options)
        counted = "dd_count" if metric.type == "count" else "rate"
        if kind == "total":
            return Draft("grouping" if by else "filter", counted, q, slots)
        if kind == "per_second":
            return Draft(
                "rate",
                "rate",
                f"sum:{metric.name}{scope}{group}.as_rate()",
                {**slots, "window": None},
            )
        if kind == "vs_earlier":
            return _dd_against_earlier(q, "/", "vs_earlier", pick, slots)
        if kind == "running_total":
            return Draft("rate", "running_total", f"cumsum({q})", slots)
        if kind == "rollup":
            seconds = pick.one([60, 300, 3600])
            return Draft(
                "rate", "rollup_sum", f"{q}.rollup(sum, {seconds})", {**slots, "seconds": seconds}
            )
        if kind == "top" and by:
            k = pick.one([3, 5, 10])
            return Draft("grouping", "topk", f"top({q}, {k}, 'sum', 'desc')", {**slots, "k": k})
        if kind == "share" and key and len(tags[key]) >= 2:
            gscope = _dd_scope([])
            query = f"{q} / sum:{metric.name}{gscope}{group}{rate}"
            return Draft(
                "join", "share", query, {**slots, "filters": [], "part": (key, "=", filters[0][1])}
            )
        partner = _dd_partner(catalog, metric) if kind == "ratio" else None
        if partner is not None and _ERRORS.search(partner.name):  # errors over hits, not the reverse
            return None
        if partner is not None:
            shared = by if by in partner.labels else None
            grp = f" by {{{shared}}}" if shared else ""
            both = scope if not filters or filters[0][1] in partner.labels.get(key, []) else "{*}"
            query = f"sum:{metric.name}{both}{grp}{rate} / sum:{partner.name}{both}{grp}{rate}"
            kept = slots["filters"] if both == scope else []
            name = "ratio"
            if pick.rng.random() < PERCENT_ASKED:  # asked as a percentage, it is one
                query, name = f"100 * {query}", "ratio_pct"
            return Draft(
                "join", name, query, {**slots, "filters": kept, "by": shared, "other": partner.name}
            )
        if key and len(tags[key]) >= 2:  # excluding the only value leaves nothing
            query = f"sum:{metric.name}{_dd_scope(filters, negated=True)}{group}{rate}"
            return Draft(
                "edge",
                "exclude",
                query,
                {**slots, "filters": [], "excluded": (key, [filters[0][1]])},
            )
        return Draft("grouping" if by else "filter", counted, q, slots)
    if metric.type == "distribution":
        p = pick.one(["p50", "p90", "p95", "p99"])
        return Draft(
            "grouping",
            "quantile",
            f"{p}:{metric.name}{scope}{group}",
            {**slots, "q": float("0." + p[1:])},
        )
    op = pick.one(["avg", "avg", "max", "min", "sum"])
    q = f"{op}:{metric.name}{scope}{group}"
    plain = f"avg:{metric.name}{scope}{group}"  # for phrasings that name no space aggregator
    kind = pick.one(["show", "show", "vs_earlier", "rollup", "exclude_list", "ratio", "changing"])
    if kind == "vs_earlier":
        return _dd_against_earlier(plain, "-", "change_earlier", pick, slots)
    if kind == "changing":
        return Draft("rate", "derivative", f"derivative({plain})", slots)
    if kind == "rollup":
        seconds = pick.one([60, 300, 600])
        query = f"max:{metric.name}{scope}{group}.rollup(max, {seconds})"
        return Draft("rate", "rollup_max", query, {**slots, "seconds": seconds})
    if kind == "exclude_list" and key and len(tags[key]) >= 3:
        excluded = sorted(pick.some(tags[key], 2))
        query = f"avg:{metric.name}{{{key} NOT IN ({', '.join(excluded)})}}{group}"
        return Draft(
            "edge", "exclude_list", query, {**slots, "filters": [], "excluded": (key, excluded)}
        )
    if kind == "ratio":
        partner = _dd_partner(catalog, metric)
        if partner is not None:
            shared = by if by in partner.labels else None
            grp = f" by {{{shared}}}" if shared else ""
            query = f"avg:{metric.name}{{*}}{grp} / avg:{partner.name}{{*}}{grp}"
            return Draft(
                "join",
                "ratio",
                query,
                {**slots, "filters": [], "by": shared, "other": partner.name},
            )
    # avg is what a question that names no aggregator means; any other is said aloud
    shown = "gauge_agg" if by else "show" if op == "avg" else "show_op"
    return Draft("grouping" if by else "filter", shown, q, {**slots, "op": op})


def _dd_against_earlier(query: str, op: str, kind: str, pick: _Pick, slots: dict) -> Draft:
    """`query` set against itself some time back (`q / day_before(q)`), or alone as it was then."""
    shift = pick.one(SHIFTS)
    then = _dd_shifted(query, shift)
    if pick.one([True, False]):
        return Draft("rate", kind, f"{query} {op} {then}", {**slots, "shift": shift})
    return Draft("rate", "earlier", then, {**slots, "shift": shift})


def _dd_shifted(query: str, shift: str) -> str:
    """`query` as it was `shift` ago: Datadog's named shifts where one fits, `timeshift` otherwise."""
    named = {"1h": "hour_before", "1d": "day_before", "1w": "week_before"}.get(shift)
    if named:
        return f"{named}({query})"
    seconds = int(shift[:-1]) * {"m": 60, "h": 3600, "d": 86400}[shift[-1]]
    return f"timeshift({query}, -{seconds})"


def _dd_partner(catalog: Catalog, metric: Metric) -> Metric | None:
    """A metric of the same family and type (`system.mem.used` / `system.mem.total`,
    `trace.http.request.errors` / `trace.http.request.hits`)."""
    prefix = metric.name.rsplit(".", 1)[0]
    for other in catalog.metrics.values():
        if (
            other.name != metric.name
            and other.type == metric.type
            and other.name.rsplit(".", 1)[0] == prefix
        ):
            return other
    return None


def _dd_log_value(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", value) else prom_string(value)


def compose_datadog_logs(catalog: Catalog, rng: random.Random) -> Draft | None:
    pick = _Pick(rng)
    tags = {k: v for k, v in catalog.log_labels.items() if v}
    if not tags:
        return None
    key = pick.filter_labels(
        {k: v for k, v in tags.items() if 2 <= len(v) <= _MAX_GROUP_VALUES} or tags, 1
    )[0]
    value = pick.one(tags[key])
    base = f"{key}:{_dd_log_value(value)}"
    slots = {"filters": [(key, "=", value)], "by": None, "window": None, "subject": "logs"}
    fields = catalog.log_fields
    strings = [
        (n, v) for n, f in fields.items() if f.kind == "string" for v in f.values if len(v) <= 60
    ]
    status = next(
        (n for n, f in fields.items() if f.kind == "number" and STATUS_NAMES.search(n)), None
    )
    numbers = [n for n, f in fields.items() if f.kind == "number" and n != status and not f.values]
    phrase_words = [
        (n, w) for n, v in strings if " " in v for w in re.findall(r"[a-z]{5,}", v)
    ]  # a word of a logged message: what a wildcard search looks for
    kind = pick.one(["show", "field", "either", "exclude", "exists", "status", "or", "window",
                     "above", "wildcard", "exclude_list"])  # fmt: skip
    if kind == "above" and numbers:
        name, number = pick.one(numbers), pick.one([1, 10, 90, 100, 1000])
        query = f"{base} @{name}:>{number}"
        return Draft("filter", "field_above", query, {**slots, "field": name, "number": number})
    if kind == "wildcard" and phrase_words:
        name, word = pick.one(phrase_words)
        query = f"{base} @{name}:*{word}*"
        return Draft("edge", "field_contains", query, {**slots, "field": name, "text": word})
    if kind == "exclude_list":
        other = pick.one(k for k in tags if k != key and len(tags[k]) >= 3)
        if other:
            out = sorted(pick.some(tags[other], 2))
            query = f"{base} -{other}:({' OR '.join(_dd_log_value(v) for v in out)})"
            return Draft("edge", "exclude", query, {**slots, "excluded": (other, out)})
    if kind == "field" and strings:
        name, val = pick.one(strings)
        return Draft(
            "filter",
            "show_logs",
            f"{base} @{name}:{_dd_log_value(val)}",
            {**slots, "filters": slots["filters"] + [(name, "=", val)]},
        )
    if kind == "either" and len(tags[key]) >= 2:
        chosen = sorted(pick.some(tags[key], 2))
        query = f"{key}:({' OR '.join(_dd_log_value(c) for c in chosen)})"
        return Draft(
            "grouping", "either_logs", query, {**slots, "filters": [], "either": (key, chosen)}
        )
    if kind == "exclude":
        other = pick.one(k for k in tags if k != key)
        if other:
            out = pick.one(tags[other])
            query = f"{base} -{other}:{_dd_log_value(out)}"
            return Draft("edge", "exclude", query, {**slots, "excluded": (other, [out])})
    if kind == "exists" and fields:
        name = pick.one(fields)
        return Draft("edge", "has_field", f"{base} @{name}:*", {**slots, "field": name})
    if kind == "status" and status:
        return Draft("grouping", "status_5xx", f"{base} @{status}:[500 TO 599]", slots)
    if kind == "or" and strings and len(tags[key]) >= 2:
        (n1, v1), other = pick.one(strings), pick.one(v for v in tags[key] if v != value)
        query = f"({base} @{n1}:{_dd_log_value(v1)}) OR {key}:{_dd_log_value(other)}"
        return Draft("join", "or_logs", query, {**slots, "alt": ((n1, v1), (key, other))})
    if kind == "window":
        return Draft(
            "rate", "logs_window", base, {**slots, "window": pick.one(["15m", "1h", "30m"])}
        )
    return Draft("filter", "show_logs", base, slots)
