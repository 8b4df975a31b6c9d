"""Training pairs from any catalog: compose a query first, then phrase it several ways.

Queries are composed from what a catalog declares (metric, filters, the
function a metric type calls for, window, grouping, ratio, comparison with an
hour ago, negation) by `nlq.training.composers`; each is then phrased in three
registers an engineer might use: terse ("p99 http request duration checkout"),
verbose ("What is the 99th percentile of ... over the last 5 minutes?") and
jargon ("checkout p99 latency 5m").  The same catalog and seed always give the
same pairs, so a team can regenerate a training set from its own catalog.

    >>> from nlq.catalog import Catalog
    >>> cat = Catalog.from_dict({"api_requests_total": {"handler": ["/a", "/b"]}})
    >>> pairs = generate_pairs(cat, n=3, seed=1)
    >>> sorted({p.style for p in pairs})
    ['jargon', 'terse', 'verbose']

Command line: `python -m nlq.training.pairs CATALOG.json [-n 200] [--seed 0]`
writes JSON lines in the few-shot format (fewshot/README.md).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass

from nlq.catalog import Catalog, load_catalog
from nlq.training.composers import (
    SUBJECT_LABELS,
    Draft,
    compose_datadog_logs,
    compose_datadog_metrics,
    compose_logql,
    compose_promql,
)

STYLES = ("terse", "verbose", "jargon")
COMPOSERS = {
    "promql": compose_promql,
    "logql": compose_logql,
    "datadog-metrics": compose_datadog_metrics,
    "datadog-logs": compose_datadog_logs,
}
# Labels whose value alone names the thing ("checkout", not "service checkout").
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_info")
#: the window an unstated rate window means
DEFAULT_WINDOW = "5m"
#: words too generic to name a metric alone
_ALIAS_STOP = ("total", "seconds", "bytes", "count", "sum", "current", "status", "info", "value",
               "usage", "used", "pod", "container", "kube", "node", "process", "http", "system",
               "the", "of", "per", "ratio", "set", "working", "mem", "trace", "in", "spec")


@dataclass(frozen=True)
class Pair:
    question: str
    query: str
    dialect: str
    stratum: str
    template: str
    style: str

    def to_fewshot(self) -> dict:
        """The few-shot record form (fewshot/README.md)."""
        return {
            "question": self.question,
            "query": self.query,
            "dialect": self.dialect,
            "stratum": self.stratum,
            "tags": ["generated", self.template.replace("_", "-"), self.style],
        }


def generate_pairs(
    catalog: Catalog,
    n: int = 100,
    seed: int = 0,
    styles: tuple[str, ...] = STYLES,
    canonical: bool = True,
) -> list[Pair]:
    """Up to `n` distinct queries for `catalog`, each phrased once per style.

    LogQL queries parse each stream with the parser its lines need (`catalog.log_formats`).
    With `canonical`, queries go through the dialect's formatter when the dialect is available.
    """
    dialect = catalog.dialect
    compose = COMPOSERS[dialect]
    rng = random.Random(f"{seed}:{dialect}")
    drafts: list[Draft] = []
    seen: set[str] = set()
    for _ in range(n * 20):  # templates may decline a catalog; stop when enough are found
        if len(drafts) >= n:
            break
        draft = compose(catalog, rng)
        if draft is None or draft.query in seen:
            continue
        seen.add(draft.query)
        drafts.append(draft)
    formatter = _formatter(dialect) if canonical else None
    aliases = metric_aliases(catalog)
    pairs = []
    asked: set[str] = set()
    for draft in drafts:
        query = formatter(draft.query) if formatter else draft.query
        for style in styles:
            question = phrase(draft, style, rng, aliases)
            if question.lower() in asked:
                continue
            asked.add(question.lower())
            pairs.append(Pair(question, query, dialect, draft.stratum, draft.kind, style))
    return pairs


def _formatter(dialect: str):
    try:
        from nlq import dialects

        language = dialects.get(dialect)
    except ImportError:  # the dialect is not in this build yet: keep the composed text
        return None
    return lambda text: language.format(language.parse(text))


# ---------------------------------------------------------------------------- phrasing
def words(name: str) -> str:
    """`http_request_duration_seconds_bucket` -> "http request duration"."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    parts = [p.lower() for p in re.split(r"[._\-\s]+", name) if p]
    if {"duration", "latency", "time"} & set(parts):  # "duration seconds" says seconds twice
        parts = [p for p in parts if p not in ("seconds", "ms")]
    return " ".join(parts) or name


def _window_words(window: str | None) -> str:
    if not window:
        return "the selected time range"
    number, unit = int(window[:-1]), window[-1]
    name = {"s": "second", "m": "minute", "h": "hour", "d": "day"}[unit]
    return f"{number} {name}" + ("s" if number != 1 else "") if number != 1 else f"{name}"


def _jargon_window(window: str | None) -> str:
    return {"1h": "last hr", "6h": "last 6h", None: "now"}.get(window, window or "")


def _filter_text(filters, verbose: bool) -> str:
    parts = []
    for label, op, value in filters:
        neg = op in ("!=", "!~")
        if label in SUBJECT_LABELS:
            parts.append(("not " if neg else "") + value)
        elif verbose:
            parts.append(f"{'excluding ' if neg else ''}{words(label)} {value}")
        else:
            parts.append(f"{words(label)}{'!=' if neg else ' '}{value}")
    if not parts:
        return ""
    return (" for " + " and ".join(parts)) if verbose else " " + " ".join(parts)


def _subject(draft: Draft) -> str:
    if "metric" in draft.slots:
        return words(draft.slots["metric"])
    return draft.slots.get("subject", "logs")


def _q_words(q: float | None, style: str) -> str:
    if q is None:
        return ""
    pct = f"{q * 100:g}"
    if style == "verbose":
        return "median" if q == 0.5 else f"{pct}th percentile"
    return "p50" if q == 0.5 else f"p{pct.replace('.', '')}"


# How each shift back in time is said: plainly, tersely, and in a full sentence.
_AGO = {
    "30m": ("30 minutes ago", "30m ago", "half an hour ago"),
    "1h": ("an hour ago", "1h ago", "the same time an hour ago"),
    "1d": ("yesterday", "1d ago", "the same time yesterday"),
    "1w": ("last week", "1w ago", "the same time last week"),
}


# One or more phrasings per style for each template; placeholders come from `_fill`.
PHRASES: dict[str, dict[str, list[str]]] = {
    "show": {
        "terse": ["{what}{where}"],
        "verbose": ["Show {what}{where_v}."],
        "jargon": ["{what}{where} pls", "gimme {what}{where}"],
    },
    "show_op": {
        "terse": ["{op} {what}{where}", "{what}{where} {op}"],
        "verbose": ["What is the {op_v} {what}{where_v}?"],
        "jargon": ["{op} {what}{where}"],
    },
    "gauge_agg": {
        "terse": ["{op} {what}{where} by {by}", "{op} {what} per {by}{where}"],
        "verbose": ["What is the {op_v} {what}{where_v}, per {by}?"],
        "jargon": ["{op} {what} by {by}{where}"],
    },
    "rate_by": {
        "terse": ["{what} rate by {by}{where}"],
        "verbose": [
            "What is the per-second rate of {what}{where_v}, broken down by {by}, over {window_v}?"
        ],
        "jargon": ["{what} /s per {by}{where} ({window})", "{rps} by {by}{where}"],
    },
    "rate": {
        "terse": ["{what} rate{where} {window}", "rate of {what}{where} over {window}"],
        "verbose": ["How many {what} per second{where_v}{over_v}?"],
        "jargon": ["{rps}{where} {window}", "{what}/s{where}"],
    },
    "increase": {
        "terse": ["{what}{where} in the last {window}", "total {what}{where} last {window}"],
        "verbose": ["How many {what} were there{where_v} during the last {window_v}{by_v}?"],
        "jargon": ["# of {what}{where} {jwindow}{by_j}"],
    },
    "topk": {
        "terse": ["top {k} {by} by {what} rate{where}"],
        "verbose": ["Which {k} {by} values have the highest rate of {what}{where_v}?"],
        "jargon": ["top{k} {by} by {rps}{where}"],
    },
    "vs_earlier": {
        "terse": ["{what}{where} now vs {ago_t}", "{what}{where} compared to {ago}"],
        "verbose": ["How does the {what} rate{where_v} compare with {ago_v}?"],
        "jargon": ["{what}{where} vs {ago_t} ratio", "is {what}{where} up vs {ago_t}?"],
    },
    "earlier_rate": {
        "terse": ["{what} rate{where} {ago}"],
        "verbose": ["What was the per-second rate of {what}{where_v} {ago}?"],
        "jargon": ["{rps}{where} offset {shift}", "{rps}{where} {ago_t}"],
    },
    "pct_change": {
        "terse": ["% change in {what}{where} vs {ago_t}", "{what}{where} change % since {ago}"],
        "verbose": ["By what percentage has the {what} rate{where_v} changed since {ago}?"],
        "jargon": ["{rps}{where} % diff vs {ago_t}"],
    },
    "peak_rate": {
        "terse": ["peak {what} rate{where} over the last {window}", "max {what}/s{where} in the last {window}"],
        "verbose": ["What was the highest per-second rate of {what}{where_v} during the last {window_v}?"],
        "jargon": ["max {rps}{where} {jwindow}", "peak {rps}{where} {window}"],
    },
    "topk_gauge": {
        "terse": ["top {k} {what}{where}", "{k} highest {what}{where}"],
        "verbose": ["Which {k} series of {what}{where_v} are highest right now?"],
        "jargon": ["top{k} {what}{where}"],
    },
    "bottomk_gauge": {
        "terse": ["bottom {k} {what}{where}", "{k} lowest {what}{where}"],
        "verbose": ["Which {k} series of {what}{where_v} are lowest right now?"],
        "jargon": ["bottom{k} {what}{where}"],
    },
    "quantile": {
        "terse": ["{qt} {what}{where}{by_t}", "{what} {qt}{where}{by_t}"],
        "verbose": ["What is the {qv} of {what}{where_v}{by_v}?"],
        "jargon": ["{qt} {lat}{where}{by_j}", "{qt} {what}{where} {window}"],
    },
    "average": {
        "terse": ["avg {what}{where}", "mean {what}{where}"],
        "verbose": ["What is the average {what}{where_v} over the last {window_v}?"],
        "jargon": ["avg {what}{where} from sum/count"],
    },
    "error_ratio": {
        "terse": ["{what} error ratio{where}{by_t}", "5xx ratio{where}{by_t}"],
        "verbose": ["What share of {what}{where_v} are errors{by_v}?"],
        "jargon": ["5xx fraction{where}{by_j}", "err ratio{where}{by_j}"],
    },
    "log_error_ratio": {
        "terse": ["error share of {where_bare} logs{by_t}", "{where_bare} error line ratio"],
        "verbose": ["What share of the log lines{where_v} are at error level?"],
        "jargon": ["err ratio{where}", "err lines / all{where}"],
    },
    "status_share": {
        "terse": ["5xx ratio{where} from logs", "share of {where_bare} requests that are 5xx"],
        "verbose": ["What fraction of the requests{where_v} logged a 5xx status?"],
        "jargon": ["5xx fraction{where} (logs)", "5xx/all{where} logs"],
    },
    "error_ratio_pct": {
        "terse": ["{what} error %{where}{by_t}", "5xx percentage{where}{by_t}"],
        "verbose": ["What percentage of {what}{where_v} are errors{by_v}?"],
        "jargon": ["5xx %{where}{by_j}", "err pct{where}{by_j}"],
    },
    "not_ok_ratio": {
        "terse": ["{what} error ratio{where}{by_t}", "non-OK share of {what}{where}{by_t}"],
        "verbose": ["What share of {what}{where_v} did not end OK{by_v}?"],
        "jargon": ["err ratio {what}{where}{by_j}", "{what} failures / all{where}{by_j}"],
    },
    "not_ok_ratio_pct": {
        "terse": ["{what} error %{where}{by_t}", "non-OK percentage of {what}{where}{by_t}"],
        "verbose": ["What percentage of {what}{where_v} did not end OK{by_v}?"],
        "jargon": ["err % {what}{where}{by_j}"],
    },
    "bucket_share": {
        "terse": ["share of {events}{where} under {threshold}", "fraction of {events}{where} within {threshold}"],
        "verbose": ["What fraction of {events}{where_v} took at most {threshold}?"],
        "jargon": ["{events}{where} <= {threshold} ratio", "sli {lat} under {threshold}{where}"],
    },
    "bucket_share_pct": {
        "terse": ["percent of {events}{where} under {threshold}", "% of {events}{where} faster than {threshold}"],
        "verbose": ["What percentage of {events}{where_v} took at most {threshold}?"],
        "jargon": ["% {events}{where} under {threshold}"],
    },
    "text_share": {
        "terse": ['share of {where_bare} errors mentioning "{text}"', '"{text}" as a share of{where} errors'],
        "verbose": ['What fraction of the error lines{where_v} contain "{text}"?'],
        "jargon": ['"{text}" / all errors{where}', 'pct of err lines with "{text}"{where}'],
    },
    "level_ratio": {
        "terse": ["{where_bare} {level_a}/{level_b} ratio", "ratio of {level_a} to {level_b} lines{where}"],
        "verbose": ["How many {level_a} lines{where_v} are there per {level_b} line?"],
        "jargon": ["{level_a} vs {level_b}{where} ratio", "{level_a}:{level_b}{where}"],
    },
    "share": {
        "terse": ["share of {what} with {part}{where}{by_t}"],
        "verbose": ["What fraction of {what}{where_v} has {part_v}{by_v}?"],
        "jargon": ["{part} share of {what}{where}{by_j}"],
    },
    "share_pct": {
        "terse": ["percent of {what} with {part}{where}{by_t}"],
        "verbose": ["What percentage of {what}{where_v} has {part_v}{by_v}?"],
        "jargon": ["% {what} {part}{where}{by_j}"],
    },
    "deriv": {
        "terse": ["{what} trend{where}", "is {what} growing{where}"],
        "verbose": ["How fast is {what}{where_v} changing per second, over the last {window_v}?"],
        "jargon": ["{what} slope{where} {window}"],
    },
    "delta": {
        "terse": ["change in {what}{where} over {window}"],
        "verbose": ["By how much did {what}{where_v} change in the last {window_v}?"],
        "jargon": ["{what} delta{where} {jwindow}"],
    },
    "max_over_time": {
        "terse": ["peak {what}{where} in the last {window}"],
        "verbose": ["What was the highest {what}{where_v} during the last {window_v}?"],
        "jargon": ["max {what}{where} {jwindow}"],
    },
    "avg_over_time": {
        "terse": ["average {what}{where} over {window}"],
        "verbose": ["What was the average {what}{where_v} over the last {window_v}?"],
        "jargon": ["avg {what}{where} {jwindow}"],
    },
    "exclude": {
        "terse": ["{what}{where}{by_t} except {excluded}"],
        "verbose": ["Show {what}{where_v}{by_v}, leaving out {excluded_v}."],
        "jargon": ["{what}{where}{by_j} excluding {excluded}", "{what}{where} w/o {excluded}"],
    },
    "exclude_list": {
        "terse": ["{what}{by_t} excluding {excluded}"],
        "verbose": ["Show {what}{by_v}, leaving out {excluded_v}."],
        "jargon": ["{what}{by_j} minus {excluded}"],
    },
    "either": {
        "terse": ["{what} for {either}"],
        "verbose": ["Show {what} where {either_v}."],
        "jargon": ["{what} {either} only"],
    },
    "absent": {
        "terse": ["is {what}{where} missing", "{what}{where} absent?"],
        "verbose": ["Alert me when {what}{where_v} stops being reported."],
        "jargon": ["no data for {what}{where}?"],
    },
    "show_logs": {
        "terse": ["logs{where}", "{where_bare} logs"],
        "verbose": ["Show me the log lines{where_v}."],
        "jargon": ["tail{where}", "grep logs{where}"],
    },
    "contains": {
        "terse": ['{where_bare} logs with "{text}"'],
        "verbose": ['Find log lines{where_v} that contain "{text}".'],
        "jargon": ['grep "{text}"{where}'],
    },
    "error_logs": {
        "terse": ["errors{where}", "{where_bare} error logs"],
        "verbose": ["Show the error-level log lines{where_v}."],
        "jargon": ["errs{where}"],
    },
    "status_5xx": {
        "terse": ["5xx{where}", "{where_bare} 5xx responses"],
        "verbose": ["Which requests{where_v} returned a server error (5xx)?"],
        "jargon": ["5xx{where} logs", "500s{where}"],
    },
    "status_code": {
        "terse": ["{where_bare} {code}s", "{where_bare} logs with status {code}"],
        "verbose": ["Show the requests{where_v} that returned HTTP {code}."],
        "jargon": ["{code}s{where}", "grep {code}{where}"],
    },
    "status_code_rate": {
        "terse": ["{where_bare} {code} rate", "rate of {code}s{where} over {window}"],
        "verbose": ["How many requests per second{where_v} return HTTP {code}?"],
        "jargon": ["{code}/s{where}", "{code}s per sec{where}"],
    },
    "slow": {
        "terse": ["slow requests{where} over {threshold}"],
        "verbose": ["Show requests{where_v} that took longer than {threshold}."],
        "jargon": ["reqs > {threshold}{where}"],
    },
    "count_by": {
        "terse": ["log lines{where} by {by} last {window}", "log volume{where} per {by}, {window}"],
        "verbose": ["How many log lines{where_v} per {by} in the last {window_v}?"],
        "jargon": ["log count{where} per {by} {window}"],
    },
    "status_count": {
        "terse": ["count of 5xx{where} last {window}"],
        "verbose": ["How many server errors (5xx) did{where_bare_v} log in the last {window_v}?"],
        "jargon": ["# 5xx{where} {jwindow}"],
    },
    "contains_rate": {
        "terse": ['rate of "{text}"{where} over {window}'],
        "verbose": ['How often per second do lines containing "{text}" appear{where_v}?'],
        "jargon": ['"{text}"/s{where} {window}'],
    },
    "without_text": {
        "terse": ['{where_bare} logs without "{text}"'],
        "verbose": ['Show log lines{where_v} that do not contain "{text}".'],
        "jargon": ['grep -v "{text}"{where}'],
    },
    "either_rate": {
        "terse": ["log rate for {either}, {window} window"],
        "verbose": ["What is the log line rate where {either_v}?"],
        "jargon": ["lines/s {either}"],
    },
    "dd_count": {
        "terse": ["{what} count{where}{by_t}"],
        "verbose": ["How many {what}{where_v}{by_v}?"],
        "jargon": ["# {what}{where}{by_j}"],
    },
    "rollup_sum": {
        "terse": ["{what}{where}{by_t} per {seconds_t}"],
        "verbose": ["How many {what}{where_v}{by_v} in each {seconds_v}?"],
        "jargon": ["{what}{where}{by_j} per {seconds_t} buckets"],
    },
    "change_earlier": {
        "terse": ["{what}{where}{by_t} vs {ago}", "change in {what}{where}{by_t} since {ago}"],
        "verbose": ["How much has {what}{where_v}{by_v} changed compared with {ago_v}?"],
        "jargon": ["{what}{where}{by_j} delta vs {ago_t}"],
    },
    "earlier": {
        "terse": ["{what}{where}{by_t} {ago}", "{what}{where}{by_t} {ago_t}"],
        "verbose": ["Show {what}{where_v}{by_v} as it was {ago}."],
        "jargon": ["{what}{where}{by_j} shifted {shift}"],
    },
    "log_change": {
        "terse": ["log count{where} over {window}, now minus {ago_t}"],
        "verbose": ["How many more log lines{where_v} in the last {window_v} than in the same window {ago}?"],
        "jargon": ["log count{where} {window} delta vs {ago_t}"],
    },
    "running_total": {
        "terse": ["running total of {what}{where}{by_t}", "cumulative {what}{where}{by_t}"],
        "verbose": ["What is the cumulative count of {what}{where_v}{by_v} over the time range?"],
        "jargon": ["{what}{where}{by_j} cumsum"],
    },
    "derivative": {
        "terse": ["rate of change of {what}{where}{by_t}", "{what}{where}{by_t} derivative"],
        "verbose": ["How fast is {what}{where_v}{by_v} changing?"],
        "jargon": ["{what}{where}{by_j} slope", "d/dt {what}{where}{by_j}"],
    },
    "rollup_max": {
        "terse": ["max {what}{where}{by_t} per {seconds_t}"],
        "verbose": ["What is the peak {what}{where_v}{by_v} in each {seconds_v}?"],
        "jargon": ["{what}{where}{by_j} max rollup {seconds_t}"],
    },
    "ratio": {
        "terse": ["{what} over {other}{by_t}", "{what} / {other}{by_t}"],
        "verbose": ["What is {what} as a fraction of {other}{by_v}?"],
        "jargon": ["{what} to {other} ratio{by_j}"],
    },
    "ratio_pct": {
        "terse": ["{what} as % of {other}{by_t}", "{what} / {other} in percent{by_t}"],
        "verbose": ["What is {what} as a percentage of {other}{by_v}?"],
        "jargon": ["{what}/{other} %{by_j}"],
    },
    "either_logs": {
        "terse": ["logs for {either}"],
        "verbose": ["Show logs where {either_v}."],
        "jargon": ["{either} logs"],
    },
    "has_field": {
        "terse": ["{where_bare} logs with {field} set"],
        "verbose": ["Show logs{where_v} that carry the {field} attribute."],
        "jargon": ["{where_bare} logs where @{field} exists"],
    },
    "or_logs": {
        "terse": ["{alt}"],
        "verbose": ["Show logs where {alt_v}."],
        "jargon": ["{alt}, either one"],
    },
    "threshold": {
        "terse": ["{what}{where} {cmp_t} {number}", "{what}{where} {cmp} {number}"],
        "verbose": ["Which series of {what}{where_v} are {cmp_v} {number} right now?"],
        "jargon": ["{what}{where} {cmp} {number}?", "where is {what} {cmp_t} {number}{where}"],
    },
    "count_series": {
        "terse": ["how many {what} series{where}{by_t}", "count of {what}{where}{by_t}"],
        "verbose": ["How many {what} series are there{where_v}{by_v}?"],
        "jargon": ["# of {what} series{where}{by_j}"],
    },
    "info_join": {
        "terse": ["{what} by {by}", "{what} per {by}"],
        "verbose": ["What is the total {what}, per {by}?"],
        "jargon": ["{what} grouped by {by}", "{what} per {by} (join on {key})"],
    },
    "log_bytes": {
        "terse": ["log bytes{where}{by_t} last {window}", "log volume in bytes{where}{by_t}"],
        "verbose": ["How many bytes of logs{where_v}{by_v} in the last {window_v}?"],
        "jargon": ["log bytes{where}{by_j} {jwindow}"],
    },
    "bytes_rate": {
        "terse": ["log bytes per second{where}", "log throughput{where} {window}"],
        "verbose": ["How many bytes of logs per second{where_v}?"],
        "jargon": ["log B/s{where}"],
    },
    "topk_logs": {
        "terse": ["top {k} {by} by log lines{where}", "noisiest {k} {by}{where}"],
        "verbose": ["Which {k} {by} values logged the most lines{where_v} in the last {window_v}?"],
        "jargon": ["top{k} {by} by log volume{where}", "top {k} chattiest {by}{where}"],
    },
    "errors_by": {
        "terse": ["errors by {by} last {window}", "error count per {by}"],
        "verbose": ["How many error log lines per {by} in the last {window_v}?"],
        "jargon": ["# errs per {by} {jwindow}", "err count by {by}"],
    },
    "error_rate": {
        "terse": ["error rate{where}", "{where_bare} errors per second"],
        "verbose": ["How many error lines per second does{where_bare_v} log?"],
        "jargon": ["errs/s{where}", "err rate{where} {window}"],
    },
    "contains_either": {
        "terse": ['{where_bare} logs with "{text}" or "{text2}"'],
        "verbose": ['Find log lines{where_v} that contain "{text}" or "{text2}".'],
        "jargon": ['grep -E "{text}|{text2}"{where}'],
    },
    "field_above": {
        "terse": ["{where_bare} logs with {field} > {number}", "{where_bare} logs where {field} above {number}"],
        "verbose": ["Show logs{where_v} whose {field} is above {number}."],
        "jargon": ["{field}>{number}{where}"],
    },
    "field_contains": {
        "terse": ['{where_bare} logs with {field} containing "{text}"'],
        "verbose": ['Show logs{where_v} whose {field} contains "{text}".'],
        "jargon": ["*{text}* in {field}{where}"],
    },
    "logs_window": {
        "terse": ["logs{where} last {window}"],
        "verbose": ["What did{where_bare_v} log in the last {window_v}?"],
        "jargon": ["logs{where} {jwindow}"],
    },
}


def _fill(draft: Draft, style: str) -> dict[str, str]:
    s = draft.slots
    what = _subject(draft)
    filters = s.get("filters") or []
    by = words(s["by"]) if s.get("by") in _grouping(draft) else ""
    window = s.get("window")
    excluded_label, excluded = s.get("excluded") or ("", [])
    either_label, either = s.get("either") or ("", [])
    part = s.get("part")
    alt = s.get("alt")
    seconds = s.get("seconds")
    seconds_t = {60: "minute", 300: "5 min", 600: "10 min", 3600: "hour"}.get(
        seconds, f"{seconds}s"
    )
    ago = _AGO[s.get("shift") or "1h"]
    return {
        "what": what,
        "shift": s.get("shift") or "",
        "ago": ago[0],
        "ago_t": ago[1],
        "ago_v": ago[2],
        "rps": "rps" if "request" in what else f"{what}/s",
        "lat": "latency" if re.search(r"duration|latency", what) else what,
        "where": _filter_text(filters, verbose=False),
        "where_v": _filter_text(filters, verbose=True),
        "where_bare": _filter_text(filters, verbose=False).strip() or "all",
        "where_bare_v": _filter_text(filters, verbose=False) or " everything",
        "by": by,
        "by_t": f" by {by}" if by else "",
        "by_v": f", per {by}" if by else "",
        "by_j": f" per {by}" if by else "",
        "window": window or "",
        "window_v": _window_words(window),
        "over_v": f", averaged over the last {_window_words(window)}" if window else "",
        "jwindow": _jargon_window(window),
        "op": s.get("op", "avg"),
        "op_v": {"avg": "average", "sum": "total", "max": "highest", "min": "lowest"}.get(
            s.get("op", "avg"), "average"
        ),
        "k": str(s.get("k", "")),
        "qt": _q_words(s.get("q"), "terse"),
        "qv": _q_words(s.get("q"), "verbose"),
        "text": s.get("text") or (s.get("texts") or [""])[0],
        "text2": (s.get("texts") or ["", ""])[-1],
        "threshold": s.get("threshold", ""),
        "events": "requests" if "request" in what else f"{what} observations",
        "level_a": (s.get("levels") or ("", ""))[0],
        "level_b": (s.get("levels") or ("", ""))[1],
        "code": str(s.get("code", "")),
        "excluded": " and ".join(excluded)
        if excluded_label in SUBJECT_LABELS
        else f"{words(excluded_label)} {' and '.join(excluded)}".strip(),
        "excluded_v": f"{words(excluded_label)} " + " and ".join(excluded) if excluded else "",
        "either": " or ".join(either),
        "either_v": f"{words(either_label)} is " + " or ".join(either) if either else "",
        "part": f"{words(part[0])} {part[2]}" if part else "",
        "part_v": f"{words(part[0])} {part[2]}" if part else "",
        "other": words(s.get("other", "")),
        "seconds_t": seconds_t,
        "seconds_v": seconds_t if seconds != 60 else "minute",
        "field": s.get("field", ""),
        "key": s.get("key", ""),
        "number": str(s.get("number", "")),
        "cmp": s.get("cmp", ""),
        "cmp_t": {">": "above", "<": "below"}.get(s.get("cmp", ""), ""),
        "cmp_v": {">": "above", "<": "below"}.get(s.get("cmp", ""), ""),
        "alt": (
            f"{words(alt[0][0])} {alt[0][1]}{_filter_text(filters, False)} or {words(alt[1][0])} {alt[1][1]}"
            if alt
            else ""
        ),
        "alt_v": (
            f"{words(alt[0][0])} is {alt[0][1]}{_filter_text(filters, True)}, or {words(alt[1][0])} is {alt[1][1]}"
            if alt
            else ""
        ),
    }


def phrase(draft: Draft, style: str, rng: random.Random,
           aliases: dict[str, list[str]] | None = None) -> str:
    """One question for `draft` in `style` (terse, verbose or jargon).

    Terse and jargon questions name a metric by a short alias half the time
    when the catalog has one (`metric_aliases`), as engineers do ("restarts",
    not "kube pod container status restarts").
    """
    options = PHRASES.get(draft.kind, PHRASES["show"]).get(style) or PHRASES["show"][style]
    if not draft.slots.get("window"):  # a phrasing that names the window needs one
        options = [o for o in options if "{window}" not in o and "{window_v}" not in o] or options
    slots = _fill(draft, style)
    short = (aliases or {}).get(draft.slots.get("metric", ""))
    if short and style != "verbose" and rng.random() < 0.5:
        slots["what"] = rng.choice(short)
        slots["rps"] = "rps" if "request" in slots["what"] else f"{slots['what']}/s"
    text = rng.choice(options).format(**slots)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.?])", r"\1", text)
    text = _state_everything(text, draft, style)
    if style == "terse" and rng.random() < 0.12:
        text = _typo(text, rng)
    return text


def _state_everything(text: str, draft: Draft, style: str) -> str:
    """Add the grouping or window the query has and the phrasing left out.

    A question that says nothing of a `by (pod)` or a `[10m]` teaches the model
    to invent groupings and windows; so every phrasing states the grouping, and
    every window but the conventional 5m (what an unstated rate window means).
    """
    for by in _grouping(draft):
        if words(by) not in text:
            text = _append(text, f", per {words(by)}" if style == "verbose" else f" by {words(by)}")
    window = draft.slots.get("window")
    in_query = window and re.search(rf"\[\s*{re.escape(window)}\s*[\]:]", draft.query)
    if in_query and window != DEFAULT_WINDOW and not _mentions_window(text, window):
        text = _append(text, f" over the last {_window_words(window)}" if style == "verbose" else f" {window}")
    return text


def _grouping(draft: Draft) -> list[str]:
    """The labels the query groups by (`by (pod, le)` -> ["pod"]); `le` is the histogram's, not the asker's."""
    labels = []
    for clause in re.findall(r"\bby\s*[({]([^)}]*)[)}]", draft.query):
        labels += [name.strip() for name in clause.split(",") if name.strip() not in ("", "le")]
    return list(dict.fromkeys(labels))


def _append(text: str, tail: str) -> str:
    """`tail` before a closing question mark or full stop."""
    if text and text[-1] in "?.":
        return text[:-1] + tail + text[-1]
    return text + tail


def _mentions_window(text: str, window: str) -> bool:
    return any(form and form in text for form in (window, _window_words(window), _jargon_window(window)))


def metric_aliases(catalog: Catalog, stop: frozenset[str] = frozenset(_ALIAS_STOP)) -> dict[str, list[str]]:
    """Metric -> short names that pick it out of this catalog alone.

    An alias is one or two of the metric's own words (in order, stop words
    such as "total" or "bytes" left out) that no other metric of the catalog
    contains: "restarts" for kube_pod_container_status_restarts_total when it
    is the only metric about restarts, "container memory" where node_memory_*
    also speaks of memory.  Derived from the catalog, so it holds for any team's.

    >>> from nlq.catalog import Catalog
    >>> cat = Catalog.from_dict({"kube_pod_container_status_restarts_total": {}, "node_memory_free_bytes": {},
    ...                          "container_memory_usage_bytes": {}})
    >>> metric_aliases(cat)["kube_pod_container_status_restarts_total"][:2]
    ['restarts']
    >>> "memory" in metric_aliases(cat)["node_memory_free_bytes"]
    False
    """
    names = {m.name: words(m.name).lower().split() for m in catalog.metrics.values()}
    families = {" ".join(w): w for w in names.values()}
    # word -> the families using it: a candidate's owners are found among those sharing all
    # its words, not by scanning every metric (10,000-metric catalogs)
    by_word: dict[str, set[str]] = {}
    for family, tokens in families.items():
        for token in tokens:
            by_word.setdefault(token, set()).add(family)
    out: dict[str, list[str]] = {}
    for name, tokens in names.items():
        keep = [t for t in tokens if t not in stop and t.isalpha()]
        if not keep:
            continue
        head = keep[-1]  # the head noun comes last: restarts, lag, duration
        candidates = ([(head,)] if len(head) >= 3 else []) + [(word, head) for word in keep[:-1]]
        found = []
        for candidate in candidates:
            sharing = set.intersection(*sorted((by_word[w] for w in candidate), key=len))
            owners = {f for f in sharing if _contains_in_order(families[f], candidate)}
            if owners == {" ".join(tokens)} and " ".join(candidate) not in families.keys() - owners:
                found.append(" ".join(candidate))
        out[name] = sorted(found, key=lambda a: (len(a.split()), a))[:4]
    return {name: aliases for name, aliases in out.items() if aliases}


def _contains_in_order(tokens: list[str], wanted: tuple[str, ...]) -> bool:
    it = iter(tokens)
    return all(any(t == w for t in it) for w in wanted)


def _typo(text: str, rng: random.Random) -> str:
    """Swap two inner letters of one long word, as hurried typing does."""
    candidates = [m for m in re.finditer(r"\b[a-z]{6,}\b", text)]
    if not candidates:
        return text
    m = rng.choice(candidates)
    i = m.start() + rng.randrange(1, len(m.group()) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nlq.training.pairs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("catalog", help="a catalog file (JSON or YAML)")
    parser.add_argument("-d", "--dialect", help="dialect, when the catalog does not say")
    parser.add_argument("-n", type=int, default=100, help="number of distinct queries")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    catalog = load_catalog(args.catalog, args.dialect)
    for pair in generate_pairs(catalog, n=args.n, seed=args.seed):
        sys.stdout.write(json.dumps(pair.to_fewshot(), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["Pair", "STYLES", "generate_pairs", "phrase", "words"]
