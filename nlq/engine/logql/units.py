"""Durations and byte sizes as Loki reads them from queries and from label values."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PROM_UNITS = {**_UNITS, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w|y)")
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_BYTE_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024, "m": 1000**2, "mb": 1000**2,
    "mi": 1024**2, "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "ti": 1024**4, "tib": 1024**4, "p": 1000**5, "pb": 1000**5,
    "pi": 1024**5, "pib": 1024**5, "e": 1000**6, "eb": 1000**6, "ei": 1024**6, "eib": 1024**6,
}  # fmt: skip


def _parse(text: str, units: dict[str, float]) -> float:
    s = text.strip()
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.group(2) not in units:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f"time: missing unit in duration {text!r}")
    return sign * total


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds (no d/w/y): how Loki reads label values."""
    if re.fullmatch(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*", text) and text.strip() not in (
        "0",
        "+0",
        "-0",
    ):
        raise ValueError(f"time: missing unit in duration {text!r}")
    return _parse(text, _UNITS)


def parse_duration_seconds(text: str) -> float:
    """A duration written in a query: Prometheus units (d, w, y) or Go's."""
    return _parse(text, _PROM_UNITS)


def parse_bytes(text: str) -> float:
    """go-humanize's ParseBytes: 1.5MB, 2KiB, 10 B."""
    m = _BYTES.match(text.replace(",", ""))
    if not m:
        raise ValueError(f"strconv.ParseFloat: parsing {text!r}: invalid syntax")
    unit = m.group(2).lower()
    if unit not in _BYTE_UNITS:
        raise ValueError(f"unhandled size name: {m.group(2)}")
    return float(int(float(m.group(1)) * _BYTE_UNITS[unit]))  # go-humanize returns whole bytes
