"""Degenerate queries: valid, yet answering nothing (a part repeated, an expression set against itself)."""

from __future__ import annotations

import pytest
from corpus_util import corpus_lines

from nlq import dialects
from nlq.degenerate import degenerate


def why(dialect: str, query: str) -> str | None:
    finding = degenerate(dialects.get(dialect).parse(query), query)
    return finding and finding.message


def test_the_finding_points_at_the_repeat_or_at_the_whole_operation():
    query = 'up{job="a", env="b", job="a"}'
    finding = degenerate(dialects.get("promql").parse(query), query)
    assert finding.span == (21, 28) and query[21:28] == 'job="a"'
    query = 'sum(x{a="1"}) - (sum(x{a="1"}))'
    finding = degenerate(dialects.get("promql").parse(query), query)
    assert finding.span == (0, len(query))


@pytest.mark.parametrize(
    ("dialect", "query", "expected"),
    [
        ("promql", 'up{job="node", job="node"}', 'the matcher job="node" is written twice'),
        ("promql", 'sum(rate(x{a="1"}[5m])) / sum(rate(x{a="1"}[5m]))', "both sides of `/` are sum(rate("),
        ("promql", "(sum(x)) - sum(x)", "both sides of `-` are sum(x)"),
        ("promql", "x unless on (a) x", "both sides of `unless`"),
        ("promql", "sum by (a, a) (x)", "the label a is written twice"),  # the type checks refuse it too
        ("logql", '{app="a"} | json | json', "the stage json is written twice in a row"),
        ("logql", '{app="a"} |= "x" |= "x"', 'the stage |= "x" is written twice in a row'),
        ("logql", 'sum(rate({app="a"}[5m])) / sum(rate({app="a"}[5m]))', "both sides of `/`"),
        ("logql", '{app="a", app="a"}', 'the matcher app="a" is written twice'),
        ("datadog-metrics", "sum:x.y{*} / sum:x.y{*}", "both sides of `/` are sum:x.y{*}"),
        ("datadog-metrics", "avg:x.y{env:prod,env:prod}", "the condition env:prod is written twice"),
        ("datadog-metrics", "sum:x.y{*} by {team,team}", "the tag team is written twice"),
        ("datadog-logs", "service:a @http.status_code:500 @http.status_code:500",
         "the condition @http.status_code:500 is written twice"),
        # a condition beside its own negation
        ("promql", 'up{job="api", job!="api"}', 'job!="api" negates job="api": no line or series can meet both'),
        ("promql", 'up{job=~"a|b", job!~"a|b"}', 'job!~"a|b" negates job=~"a|b"'),
        ("logql", '{app="a", app!="a"}', 'app!="a" negates app="a"'),
        ("datadog-metrics", "avg:x.y{env:prod,!env:prod}", "!env:prod negates env:prod"),
        ("datadog-logs", "service:payments -service:payments @error.kind:Timeout",
         "-service:payments negates service:payments: no line or series can meet both"),
        ("datadog-logs", "service:a OR -service:a", "-service:a negates service:a: one of them always holds"),
        ("datadog-logs", "-service:a service:a", "service:a negates -service:a"),
    ],
)
def test_repeats_and_self_cancelling_operations_are_named(dialect, query, expected):
    found = why(dialect, query)
    assert found is not None and found.startswith(expected), found


@pytest.mark.parametrize(
    ("dialect", "query"),
    [
        ("promql", 'sum(rate(http_requests_total{code=~"5..", code!="503"}[5m]))'),  # one label, two conditions
        ("promql", "x == x"),  # keeps the samples that are not NaN
        ("promql", "x * x"),
        ("promql", "x + x"),
        ("promql", 'sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m]))'),
        ("promql", "rate(x[5m]) / rate(x[1h])"),
        ("promql", "x - x offset 1d"),
        ("promql", 'label_replace(x, "a", "$1", "a", "(.*)")'),  # function arguments may repeat
        ("logql", '{app="a"} | json | line_format "{{.msg}}" | json'),  # a re-parse, not a repeat
        ("logql", 'sum(count_over_time({app="a"} |= "x" [5m])) / sum(count_over_time({app="a"}[5m]))'),
        ("datadog-metrics", "sum:x.y{env:prod} / sum:x.y{env:dev}"),
        ("datadog-logs", "service:a status:error -status:warn"),
        ("datadog-logs", "service:a -(service:a @http.status_code:500)"),  # a NOT of more than the term
        ("promql", 'up{job!="api", job!~"a.*"}'),
        ("logql", '{app="a"} != "a"'),
    ],
)
def test_what_real_queries_repeat_is_not_degenerate(dialect, query):
    assert why(dialect, query) is None


@pytest.mark.parametrize(
    ("dialect", "folder", "name"),
    [
        ("promql", "promql", "kubernetes-mixin.txt"),
        ("promql", "promql", "node-mixin.txt"),
        ("promql", "promql", "awesome-prometheus-alerts.txt"),
        ("logql", "logql", "loki-bench-queries.txt"),
        ("logql", "logql", "loki-docs-examples.txt"),
        ("datadog-metrics", "datadog", "api-client-python-metric-queries.txt"),
        ("datadog-metrics", "datadog", "integrations-extras-monitor-queries.txt"),
        ("datadog-logs", "datadog", "api-client-python-log-queries.txt"),
        ("datadog-logs", "datadog", "vector-search-syntax-queries.txt"),
    ],
)
def test_queries_people_wrote_for_dashboards_and_alerts_are_not_degenerate(dialect, folder, name):
    spec = dialects.get(dialect)
    parsed = flagged = 0
    for line in corpus_lines(folder, name):
        try:
            node = spec.parse(line)
        except Exception:  # noqa: BLE001 - parse coverage is the corpus tests' business
            continue
        parsed += 1
        if degenerate(node, line):
            flagged += 1
    assert parsed >= 25 and flagged == 0, f"{flagged} of {parsed} flagged"


def test_every_field_it_reads_has_a_name_for_its_parts():
    from nlq.degenerate import ORDERED_FIELDS, PART_NAMES, UNORDERED_FIELDS

    assert set(PART_NAMES) == UNORDERED_FIELDS | ORDERED_FIELDS
