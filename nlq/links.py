"""Deep links that open a query in the tool people already use.

| dialect | links |
|---|---|
| promql | Grafana Explore (schemaVersion=1 `panes`), Prometheus expression browser (`/graph?g0.expr=`) |
| logql | Grafana Explore with a Loki data source |
| datadog-metrics | Datadog Metrics Explorer (`/metric/explorer?exp_metric=...`) |
| datadog-logs | Datadog Log Explorer (`/logs?query=...`) |

Base URLs and data source UIDs come from the environment:

| variable | default |
|---|---|
| NLQ_GRAFANA_URL | http://localhost:3000 |
| NLQ_GRAFANA_ORG_ID | 1 |
| NLQ_GRAFANA_PROMETHEUS_UID / NLQ_GRAFANA_LOKI_UID | prometheus / loki |
| NLQ_PROMETHEUS_URL | http://localhost:9090 (2.x `/graph`; 3.x redirects it to `/query`) |
| NLQ_DATADOG_SITE | datadoghq.com (US1; also us3/us5/ap1/ap2/uk1.datadoghq.com, datadoghq.eu, ddog-gov.com) |

Every value is percent-encoded whole (`urllib.parse.quote(..., safe="")`):
PromQL's `%`, `+`, `&` and `#` would otherwise corrupt the link.  Grafana's
`range` must be JSON strings (`"now-1h"`), and data sources are named by UID,
never by name (Grafana 10.2 drops queries whose data source is a name).

    >>> [l.title for l in links("up", "promql")]
    ['Grafana Explore', 'Prometheus']
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from urllib.parse import quote

#: Datadog site parameter -> UI base URL
DATADOG_SITES = {
    "datadoghq.com": "https://app.datadoghq.com",
    "us3.datadoghq.com": "https://us3.datadoghq.com",
    "us5.datadoghq.com": "https://us5.datadoghq.com",
    "datadoghq.eu": "https://app.datadoghq.eu",
    "ap1.datadoghq.com": "https://ap1.datadoghq.com",
    "ap2.datadoghq.com": "https://ap2.datadoghq.com",
    "uk1.datadoghq.com": "https://uk1.datadoghq.com",
    "ddog-gov.com": "https://app.ddog-gov.com",
    "us2.ddog-gov.com": "https://us2.ddog-gov.com",
}
PANE_ID = "nlq"  # 3 characters of [0-9a-z] with a letter, else Grafana makes up a new id


@dataclass(frozen=True)
class Link:
    title: str
    url: str

    def to_dict(self) -> dict:
        return {"title": self.title, "url": self.url}


def _env(name: str, default: str) -> str:
    return (os.environ.get(name) or default).rstrip("/")


def _q(value: str) -> str:
    return quote(value, safe="")


def grafana_explore(expr: str, datasource_type: str, uid: str, range_from: str = "now-1h",
                    range_to: str = "now", base: str | None = None, org_id: str | None = None) -> str:
    """A Grafana (10.1+) Explore URL in the schemaVersion=1 `panes` form."""
    base = base or _env("NLQ_GRAFANA_URL", "http://localhost:3000")
    org_id = org_id or _env("NLQ_GRAFANA_ORG_ID", "1")
    query: dict = {"refId": "A", "datasource": {"type": datasource_type, "uid": uid}, "expr": expr}
    if datasource_type == "prometheus":
        query.update({"range": True, "instant": False, "editorMode": "code"})
    else:
        query.update({"queryType": "range", "editorMode": "code"})
    panes = {PANE_ID: {"datasource": uid, "queries": [query],
                       "range": {"from": str(range_from), "to": str(range_to)}}}
    text = json.dumps(panes, separators=(",", ":"))
    return f"{base}/explore?schemaVersion=1&orgId={_q(org_id)}&panes={_q(text)}"


def prometheus_graph(expr: str, range_input: str = "1h", base: str | None = None) -> str:
    """The Prometheus expression browser with `expr` in its first panel (graph tab)."""
    base = base or _env("NLQ_PROMETHEUS_URL", "http://localhost:9090")
    return f"{base}/graph?g0.expr={_q(expr)}&g0.tab=0&g0.range_input={_q(range_input)}"


def datadog_base(site: str | None = None) -> str:
    site = (site or os.environ.get("NLQ_DATADOG_SITE") or "datadoghq.com").strip().lower()
    site = re.sub(r"^https?://", "", site).rstrip("/")
    if site in DATADOG_SITES:
        return DATADOG_SITES[site]
    if site.startswith(("app.", "us3.", "us5.", "ap1.", "ap2.", "uk1.")):
        return f"https://{site}"  # a UI host given directly
    return f"https://app.{site}"


def datadog_logs(query: str, site: str | None = None, from_ts: int | None = None,
                 to_ts: int | None = None) -> str:
    url = f"{datadog_base(site)}/logs?query={_q(query)}"
    if from_ts is not None and to_ts is not None:
        url += f"&from_ts={int(from_ts)}&to_ts={int(to_ts)}&live=false"
    return url


_DD_METRIC = re.compile(
    r"(?:(?P<agg>avg|sum|min|max|count):)?(?P<metric>[A-Za-z_][\w.]*)\{(?P<scope>[^}]*)\}"
    r"(?:\s*by\s*\{(?P<group>[^}]*)\})?"
)


def datadog_metrics(query: str, site: str | None = None) -> str:
    """Metrics Explorer for the query's first metric: aggregation, metric, scope, group.

    Its URL parameters cannot carry functions or formulas; those parts are dropped.
    """
    match = _DD_METRIC.search(query)
    params = []
    if match:
        params.append(("exp_metric", match["metric"]))
        params.append(("exp_agg", match["agg"] or "avg"))
        scope = match["scope"].strip()
        if scope and scope != "*":
            params.append(("exp_scope", ",".join(s.strip() for s in re.split(r",|\s+AND\s+", scope))))
        if match["group"]:
            params.append(("exp_group", ",".join(g.strip() for g in match["group"].split(","))))
        params.append(("exp_row_type", "metric"))
    return f"{datadog_base(site)}/metric/explorer?" + "&".join(f"{k}={_q(v)}" for k, v in params)


def links(query: str, dialect: str) -> list[Link]:
    """The deep links for `query` in `dialect`, configured from the environment."""
    if dialect == "promql":
        uid = _env("NLQ_GRAFANA_PROMETHEUS_UID", "prometheus")
        return [Link("Grafana Explore", grafana_explore(query, "prometheus", uid)),
                Link("Prometheus", prometheus_graph(query))]
    if dialect == "logql":
        uid = _env("NLQ_GRAFANA_LOKI_UID", "loki")
        return [Link("Grafana Explore", grafana_explore(query, "loki", uid))]
    if dialect == "datadog-metrics":
        return [Link("Datadog Metrics Explorer", datadog_metrics(query))]
    if dialect == "datadog-logs":
        return [Link("Datadog Log Explorer", datadog_logs(query))]
    return []
