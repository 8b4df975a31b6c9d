"""Prometheus's JSON results in the dict form `nlq.results.as_result` reads."""

from __future__ import annotations


def from_prometheus_json(data: dict) -> dict:
    """{"type", "series": [{"labels", "samples": [(ts_ms, value)]}]} or a scalar/string."""
    kind = data["resultType"]
    result = data["result"]
    if kind in ("scalar", "string"):
        ts, value = result
        return {"type": kind, "series": [{"labels": {}, "samples": [(_ms(ts), _value(value, kind))]}]}
    series = []
    for item in result:
        points = [item["value"]] if kind == "vector" else item["values"]
        series.append({"labels": dict(item["metric"]), "samples": [(_ms(t), _value(v, kind)) for t, v in points]})
    return {"type": kind, "series": series}


def _ms(ts: float) -> int:
    return int(round(float(ts) * 1000))


def _value(text: str, kind: str):
    return text if kind == "string" else float(text)
