"""Shared wording for explanations: durations, aggregations, label names, lists."""

from __future__ import annotations

import re

_UNITS = {"ms": "millisecond", "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week",
          "y": "year", "us": "microsecond", "µs": "microsecond", "ns": "nanosecond"}

AGGREGATIONS = {
    "sum": "summed", "avg": "averaged", "min": "the minimum", "max": "the maximum",
    "count": "counted", "stddev": "the standard deviation", "stdvar": "the variance",
    "group": "grouped", "topk": "the top", "bottomk": "the bottom", "quantile": "the quantile",
    "count_values": "counted by value", "sort": "sorted", "sort_desc": "sorted descending",
    "approx_topk": "the approximate top", "limitk": "limited",
}

LABEL_WORDS = {
    "code": "status code", "status_code": "status code", "http.status_code": "status code",
    "le": "bucket", "instance": "instance", "job": "job", "pod": "pod", "namespace": "namespace",
    "route": "route", "method": "method", "handler": "handler", "env": "environment",
    "service": "service", "host": "host", "level": "level", "status": "status",
}


def duration(text: str) -> str:
    """"5m" -> "5-minute", "1h30m" -> "1h30m", "1h" -> "1-hour"."""
    match = re.fullmatch(r"(\d+)(ms|us|µs|ns|s|m|h|d|w|y)", text.strip())
    if not match:
        return text
    number, unit = match.groups()
    return f"{number}-{_UNITS[unit]}"


def seconds_to_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def label(name: str) -> str:
    return LABEL_WORDS.get(name, name.replace("_", " "))


def join(items: list[str], word: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def matcher_phrase(name: str, op: str, value: str) -> str:
    """`code=~"5.."` -> "a 5xx status code"; `service="checkout"` -> "service checkout"."""
    what = label(name)
    if op in ("=~", "!~") and re.fullmatch(r"\d\.\.", value):
        phrase = f"a {value[0]}xx {what}"
        return phrase if op == "=~" else f"not {phrase}"
    if op in ("=~", "!~") and value in (".*", ".+"):
        return f"any {what}" if op == "=~" else f"no {what}"
    if op in ("=~", "!~") and re.fullmatch(r"[\w.\-/:]+(\|[\w.\-/:]+)+", value):
        phrase = f"{what} {join(value.split('|'), 'or')}"
        return phrase if op == "=~" else f"{what} other than {join(value.split('|'), 'or')}"
    if op == "=~":
        return f"{what} matching /{value}/"
    if op == "!~":
        return f"{what} not matching /{value}/"
    if op == "!=":
        return f"{what} other than {value}"
    return f"{what} {value}"
