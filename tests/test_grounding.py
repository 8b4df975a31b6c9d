"""Grounding label values in the question (nlq.constrain.grounding), and the grammars it narrows."""

from __future__ import annotations

import json
from pathlib import Path

import llguidance
import pytest

from nlq.constrain.grounding import Mentions, grounded_values, is_generic, is_quantity
from nlq.constrain.narrow import compiled_matcher, narrowed_grammar
from nlq.translate import default_catalog, translate

BYTES = llguidance.LLTokenizer("byte")
FEWSHOT = Path(__file__).resolve().parents[1] / "fewshot"


def accepts(dialect: str, question: str | None, query: str) -> bool:
    """Does the catalog grammar (grounded in `question` when given) accept `query` whole?"""
    grammar = narrowed_grammar(dialect, default_catalog(dialect), question=question)
    matcher = compiled_matcher(grammar.validated_spec(BYTES), BYTES)
    return matcher.consume_tokens(list(query.encode())) and matcher.is_accepting()


@pytest.mark.parametrize("question, value", [
    ("load on node-exporter targets", "node-exporter"),
    ("rabbit queue depth", "rabbitmq"),                       # a word starts the value
    ("email queue backlog", "email-notifications"),          # ... or one of its parts
    ("disk use on ip-10-0-2-8", "ip-10-0-2-8:9100"),
    ("restarts seen by ksm", "kube-state-metrics"),            # initials
    ("warnings raised by shipping", "warn"),                            # the value starts a word
    ("payment errors", "payments"),
    ("count of timeouts today", "GatewayTimeout"),               # a camelCase part starts a word
    ("paymnets latency", "payments"),                   # one typo
    ("fronted error rate", "frontend"),
    ("node.js heap warnings", "nodejs"),                               # equal without punctuation
    ("is the ok flag set", "ok"),
    ("5xx in eu", "eu-west-1"),                               # a whole short part
    ("p99 of the checkout db", "checkout-db"),
])
def test_a_question_mentions_a_value(question, value):
    assert Mentions(question).names(value)


@pytest.mark.parametrize("question, value", [
    ("goroutine count per pod", "checkout"),
    ("top 3 pods by memory", "auth"),
    ("the broker is slow", "ok"),                             # short values match whole words only
    ("queues with unacked messages", "label-printing"),
    ("card payments", "cart"),                                # no typo match on a short word
    ("request count by service", "frontend"),
    ("errors in checkout", "in-memory-cache"),                # a function word is no part
    ("disk of web-1", "eu-west-1"),                           # only a whole part counts
])
def test_a_question_does_not_mention_a_value(question, value):
    assert not Mentions(question).names(value)


def test_a_short_part_most_values_of_a_label_share_names_none_of_them():
    routes = ["/api/cart", "/api/login", "/api/orders", "/"]
    regions = ["eu-west-1", "us-east-1"]
    kept = grounded_values({"route": routes, "region": regions}, Mentions("api errors in eu"))
    assert kept == {"route": [], "region": ["eu-west-1"]}
    assert grounded_values({"service": ["api-gateway", "cart"]}, Mentions("api errors")) == {
        "service": ["api-gateway"]}


def test_values_that_are_not_a_teams_own_names_stay():
    keys = {
        "service": ["cart", "checkout", "payments"],
        "status_code": ["200", "500", "503"],          # quantities
        "mode": ["idle", "iowait", "user"],            # an exporter's vocabulary
        "namespace": ["shop"],                         # one value: a constant, not a choice
        "pod": None,                                   # free-form: nothing to choose from
        "queue": ["email-notifications", "label-printing"],
    }
    grounded = grounded_values(keys, Mentions("cpu utilisation of checkout"))
    assert grounded == {"service": ["checkout"], "status_code": ["200", "500", "503"],
                        "mode": ["idle", "iowait", "user"], "namespace": ["shop"], "pod": None, "queue": []}
    assert is_quantity("0.5") and is_quantity("+Inf") and is_quantity("1.15.0") and not is_quantity("v2")
    assert is_generic("GET") and is_generic("DeadlineExceeded") and not is_generic("checkout")


def test_promql_may_not_pick_a_service_the_question_does_not_name():
    question = "instances holding over 200 file descriptors"
    assert accepts("promql", None, 'process_open_fds{service="inventory"} > 200')
    assert not accepts("promql", question, 'process_open_fds{service="inventory"} > 200')
    assert accepts("promql", question, "process_open_fds > 200")
    assert accepts("promql", question, "sum by (service) (process_open_fds) > 200")  # grouping still works
    assert accepts("promql", "file descriptors used by inventory", 'process_open_fds{service="inventory"}')
    # what the question does not choose among stays: exporter vocabulary and quantities
    assert accepts("promql", "cpu utilisation per node",
                   'sum by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))')
    assert accepts("promql", "5xx rate", 'sum(rate(http_requests_total{status_code=~"5.."}[5m]))')


def test_logql_keeps_a_single_valued_label_for_the_stream_selector():
    question = "log volume in bytes split by service"
    assert not accepts("logql", question, 'sum(bytes_rate({service="payments"}[5m]))')
    assert accepts("logql", question, 'sum by (service) (bytes_rate({namespace="shop"}[5m]))')


def test_datadog_keeps_wildcards_for_withheld_tags():
    question = "request count by service"
    assert not accepts("datadog-metrics", question, "sum:trace.http.request.hits{service:frontend}.as_count()")
    assert accepts("datadog-metrics", question,
                   "sum:trace.http.request.hits{service:*} by {service}.as_count()")
    assert accepts("datadog-logs", "timeout messages across services", "status:error @error.message:*timeout*")
    assert accepts("datadog-logs", "error logs grouped by host", "status:error host:*")
    assert not accepts("datadog-logs", "error logs grouped by host", "status:error host:ip-10-0-1-17")


def test_a_catalog_too_large_to_narrow_per_question_is_not_grounded_and_says_so(monkeypatch):
    from nlq.constrain import narrow
    from nlq.translate import _grounding

    catalog = default_catalog("promql")
    question = "instances holding over 200 file descriptors"
    grounded = narrowed_grammar("promql", catalog, question=question)
    assert "withheld" in _grounding(grounded, "promql", catalog, "catalog", True)
    monkeypatch.setattr(narrow, "MAX_GROUNDED_VALUES", 10)
    plain = narrowed_grammar("promql", catalog, question=question)
    assert plain is narrowed_grammar("promql", catalog)
    assert _grounding(plain, "promql", catalog, "catalog", True).startswith("skipped: the catalog holds more than 10")
    assert _grounding(plain, "promql", catalog, "catalog", False) == "off"


def test_a_generated_query_cannot_hold_a_comment():
    # a `#` comment runs to the end of the line: a model could fill its whole budget with one
    assert not accepts("promql", None, "up # anything at all")
    assert not accepts("logql", None, '{namespace="shop"} # anything')


def test_grounding_keeps_nearly_every_curated_query_reachable_from_its_question():
    """The curated pairs name what they filter on; grounding must not block them (the few it
    does imply a value: "refunds endpoint" means the payments service, "the two eu-west hosts"
    two host names, which a Datadog value group may only name where the question does)."""
    for dialect in ("promql", "logql", "datadog-metrics", "datadog-logs"):
        pairs = [json.loads(line) for line in (FEWSHOT / f"{dialect}.jsonl").read_text().splitlines() if line]
        reachable = [p for p in pairs if accepts(dialect, None, p["query"])]
        grounded = [p for p in reachable if accepts(dialect, p["question"], p["query"])]
        assert len(reachable) >= 0.9 * len(pairs), dialect
        assert len(grounded) >= 0.94 * len(reachable), (dialect, len(grounded), len(reachable))


def test_translate_grounds_values_with_the_real_model(model):
    question = "goroutine count above 40 in any pod"
    catalog = default_catalog("promql")
    services = catalog.metrics["go_goroutines"].labels["service"]
    grounded = translate(question, "promql", catalog, model, max_retries=0)
    assert grounded.grammar["name"].endswith("+grounded")
    assert grounded.attempts and not any(f'"{s}"' in grounded.attempts[0].query for s in services)
    free = translate(question, "promql", catalog, model, max_retries=0, ground_values=False)
    assert not free.grammar["name"].endswith("+grounded")


def test_ask_any_value_turns_grounding_off(model):
    from click.testing import CliRunner

    from nlq.cli import main

    args = ["ask", "-d", "promql", "--max-retries", "0", "--json", "goroutine count above 40 in any pod"]
    grounded = json.loads(CliRunner().invoke(main, args).output)
    free = json.loads(CliRunner().invoke(main, [*args, "--any-value"]).output)
    assert grounded["grammar"]["name"].endswith("+grounded")
    assert not free["grammar"]["name"].endswith("+grounded")
