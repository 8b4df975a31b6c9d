"""Grammar narrowing and the llguidance decode loop.

Acceptance checks use llguidance's byte-level tokenizer (no model needed);
the decode-loop tests use the embedded model and are marked `model`.
"""

from __future__ import annotations

from pathlib import Path

import lark
import llguidance
import numpy as np
import pytest

from nlq.catalog import load_catalog
from nlq.constrain import larktext
from nlq.constrain.decode import repeating, unpack_bitmask
from nlq.constrain.grammar import ConstraintGrammar, GrammarError
from nlq.constrain.narrow import generation_text, narrow_text, narrowed_grammar
from nlq.grammar import GRAMMAR_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "translate"
BYTE_TOKENIZER = llguidance.LLTokenizer("byte")


def catalog(dialect: str):
    return load_catalog(FIXTURES / f"catalog_{dialect.replace('-', '_')}.json", dialect)


def grammar_file(dialect: str) -> Path:
    return GRAMMAR_DIR / f"{dialect.replace('-', '_')}.lark"


def needs_grammar(dialect: str):
    return pytest.mark.skipif(not grammar_file(dialect).is_file(), reason=f"grammars/{dialect} not written yet")


def accepts(lark_text: str, text: str) -> bool:
    """Does llguidance accept `text`, fed byte by byte, as a whole query?"""
    matcher = llguidance.LLMatcher(BYTE_TOKENIZER, llguidance.LLMatcher.grammar_from_lark(lark_text))
    assert not matcher.is_error(), matcher.get_error()
    for token in BYTE_TOKENIZER.tokenize_str(text):
        if not matcher.consume_token(token):
            return False
    return matcher.is_accepting()


@pytest.fixture(scope="module")
def narrowed():
    """Narrowed generation grammars for each dialect with a grammar file, built without caches."""
    out = {}
    for dialect in ("promql", "logql", "datadog-metrics", "datadog-logs"):
        if grammar_file(dialect).is_file():
            out[dialect] = narrowed_grammar(dialect, catalog(dialect), disk_cache=False)
    return out


# ---------------------------------------------------------------- lark text helpers
def test_definitions_and_substitution():
    text = 'start: expr\n?expr: a "x" -> named\n    | b\nA: /a+/\n// comment\nb: A "b"\n'
    defs = larktext.definitions(text)
    assert set(defs) == {"start", "expr", "A", "b"}
    assert defs["expr"].prefix == "?" and defs["expr"].last_line == 2
    assert larktext.alternatives(defs["expr"].body) == ['a "x" -> named', "b"]
    # names inside strings, regexes and after -> are not references
    assert larktext.referenced_names('a "b" /c/ -> d | e') == ["a", "e"]
    assert larktext.substitute('a "a" -> a | a', {"a": "z"}) == 'z "a" -> a | z'


def test_generation_text_allows_single_spaces_only():
    text = "start: A B\nA: \"a\"\nB: \"b\"\n%import common.WS\n%ignore WS\n"
    gen = generation_text(text)
    assert accepts(gen, "a b") and accepts(gen, "ab")
    assert not accepts(gen, "a\nb")
    assert accepts(text, "a\nb")


# ---------------------------------------------------------------- narrowing
@needs_grammar("logql")
def test_logql_narrowed_to_catalog(narrowed):
    g = narrowed["logql"].lark
    assert accepts(g, '{service="checkout"} |= "error"')
    assert accepts(g, 'sum by (level) (count_over_time({env="prod"} [5m]))')
    assert not accepts(g, '{service="payments"}')  # not in the catalog
    assert not accepts(g, '{team="checkout"}')  # no such label
    assert not accepts(g, '{env="checkout"}')  # a value of another label
    assert accepts(g, '{service=~"checkout|cart"}')  # regexes over observed values
    assert accepts(g, '{service=~".*"}')
    assert accepts(g, '{service="cart"} | json | status >= 500')
    assert not accepts(g, '{service="cart"} | json | colour >= 500')  # unknown field


@needs_grammar("promql")
def test_promql_labels_depend_on_the_metric(narrowed):
    g = narrowed["promql"]
    assert g.narrowed.get("scoped_metrics") == 7
    text = g.lark
    assert accepts(text, 'sum by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))')
    assert accepts(text, 'up{job="api"} == 0')
    assert not accepts(text, 'up{service="checkout"}')  # up has no service label
    assert not accepts(text, 'up{job="checkout"}')  # not a value of up's job
    assert not accepts(text, "http_requests_totally")
    assert not accepts(text, 'node_cpu_seconds_total{code="500"}')
    assert accepts(text, 'process_open_fds{pod="any-pod-at-all"}')  # high-cardinality: free values
    assert accepts(text, 'up{instance=~"node-.*"}')  # prefixes of observed values, cut at separators
    assert not accepts(text, 'up{instance=~"web-.*"}')


def test_promql_quoted_metric_names_come_from_the_catalog(narrowed):
    """Prometheus 3's `{"name"}` is a metric name too: narrowed like one, never a second name."""
    text = narrowed["promql"].lark
    assert accepts(text, '{"http_requests_total", service="checkout"}')
    assert not accepts(text, '{"made_up_total"}')
    # a metric named before the braces cannot be named again inside them (the model wrote
    # `process_resident_memory_bytes{"service="}`: valid under the plain grammar, an error after)
    assert not accepts(text, 'http_requests_total{"service="}')
    assert not accepts(text, 'http_requests_total{"http_requests_total"}')
    plain = narrowed_grammar("promql", None, disk_cache=False).lark
    assert accepts(plain, 'http_requests_total{"service="}')  # what the plain grammar allows


@pytest.mark.parametrize("query, allowed", [
    ("sum(rate(http_requests_total[5m]))", True),
    ('rate(http_requests_total{service="cart"}[5m] offset 1h)', True),
    ("rate((http_requests_total[5m]))", True),
    ("max_over_time(rate(http_requests_total[5m])[1h:5m])", True),
    ("histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", True),
    ("quantile_over_time(0.9, up[1h])", True),
    ("predict_linear(up[1h], 3600)", True),
    ('label_replace(up, "dst", "$1", "job", "(.*)")', True),
    ("round(up)", True),
    ("round(up, 5)", True),
    ("hour()", True),
    ("time()", True),
    ("up offset 1h", True),
    ("max(up[6h])", False),                        # a range vector in an aggregation
    ("count(http_requests_total[5m])", False),
    ("http_requests_total[5m] > 0", False),        # ... in an operator
    ("up[5m]", False),                             # ... at the top
    ("rate(up[5m])[1h:5m]", False),
    ("rate(up)", False),                           # an instant vector where a range goes
    ("min_over_time(up[5m], 3)", False),           # one argument too many
    ("min_over_time(0.9, up[5m])", False),         # a scalar first: quantile_over_time's shape
    ("quantile_over_time(up[1h])", False),         # its quantile left out
    ("histogram_quantile(0.9)", False),
    ("abs(up[5m])", False),
    ('label_replace(up, dst, "$1", "job", "(.*)")', False),  # a label where a string goes
    ("round(up, 5, 6)", False),
    ("time(up)", False),
])
def test_promql_generation_calls_take_what_their_signatures_say(narrowed, query, allowed):
    """The checks refuse a call with the wrong arguments or a range vector outside a call,
    and a model retrying writes it again: generation cannot write them (nlq.constrain.calls)."""
    assert accepts(narrowed["promql"].lark, query) is allowed
    assert accepts(narrowed_grammar("promql", None, disk_cache=False).lark, query) is allowed
    assert lark.Lark(grammar_file("promql").read_text(), parser="earley", lexer="dynamic").parse(query)


@pytest.mark.parametrize("query, allowed", [
    ('up{job="api"}', True),
    ("sum(rate(http_requests_total[5m]))", True),
    ('{job="api"}', False),                        # every metric of those series
    ('count({service="cart"})', False),
    ('sum(rate({service="cart"}[5m]))', False),
])
def test_promql_generation_selectors_name_their_metric(narrowed, query, allowed):
    """No question means every metric of some series; validation still takes it (nlq.constrain.selectors)."""
    assert accepts(narrowed["promql"].lark, query) is allowed
    assert accepts(narrowed_grammar("promql", None, disk_cache=False).lark, query) is allowed
    assert lark.Lark(grammar_file("promql").read_text(), parser="earley", lexer="dynamic").parse(query)


@pytest.mark.parametrize("query, allowed", [
    ("histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", True),
    ('histogram_quantile(0.9, sum(rate(http_request_duration_seconds_bucket{route="/api/cart"}[5m])) by (le))',
     True),
    ("histogram_quantile(0.9, max by (le) (sum by (le, service) (increase(http_request_duration_seconds_bucket[1h]))))",
     True),
    ("histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m] offset 1h))", True),
    ("histogram_quantile(0.9, http_request_duration_seconds_bucket)", True),
    ("histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_count[5m])))", False),  # the family's count
    ("histogram_quantile(0.9, sum by (le) (rate(up[5m])))", False),
    ('histogram_quantile(0.9, rate(http_request_duration_seconds_bucket{mode="idle"}[5m]))', False),  # not its label
    ("histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])) * on () group_left up)",
     True),                                                                     # a join after the buckets
    ("histogram_quantile(0.9, sum by (le) (topk by (le) (1, rate(http_request_duration_seconds_bucket[5m]))))", True),
    ("histogram_quantile(0.9, 2 * sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", False),
    ("sum(rate(http_request_duration_seconds_count[5m]))", True),  # a count anywhere else
])
def test_promql_generation_quantiles_read_buckets(narrowed, query, allowed):
    """The checks refuse histogram_quantile over anything but buckets, and a model retrying picks
    the family's `_count` again: generation names bucket series there (nlq.constrain.histograms)."""
    assert accepts(narrowed["promql"].lark, query) is allowed
    unscoped = narrowed_grammar("promql", catalog("promql"), scoped=False, disk_cache=False)
    assert accepts(unscoped.lark, query) is (allowed or "mode=" in query)  # unscoped: any metric's labels
    assert lark.Lark(grammar_file("promql").read_text(), parser="earley", lexer="dynamic").parse(query)


@needs_grammar("promql")
def test_a_regrouped_grammar_groups_by_the_given_labels_only(narrowed):
    """A retry after `by (x)` over series without x groups only by its metrics' labels
    (nlq.constrain.regroup); matchers and everything else stay as narrowed."""
    from nlq.constrain.regroup import grouping_within

    regrouped = grouping_within(narrowed["promql"], ["cpu", "instance", "mode"])
    for query, allowed in [
        ("sum by (instance) (rate(node_cpu_seconds_total[5m]))", True),
        ('sum(rate(node_cpu_seconds_total{mode="idle"}[5m])) by (instance, cpu)', True),
        ("sum without (cpu) (rate(node_cpu_seconds_total[5m]))", True),
        ("sum by (service) (rate(node_cpu_seconds_total[5m]))", False),
        ("sum(rate(node_cpu_seconds_total[5m])) by (job)", False),
        ('rate(http_requests_total{service="cart"}[5m])', True),
    ]:
        assert accepts(regrouped.lark, query) is allowed, query
        assert accepts(narrowed["promql"].lark, query), query
    assert regrouped.narrowed["group_labels"] == 3 and regrouped.name == narrowed["promql"].name + "+grouped"
    with pytest.raises(ValueError):
        grouping_within(narrowed["promql"], [])


@needs_grammar("promql")
def test_quantiles_need_no_buckets_to_compile():
    """Unnarrowed, or narrowed to a catalog with no histogram, any metric fits the quantile's
    selectors (the checks then refuse a non-bucket one): only the form is limited."""
    from nlq.catalog import Catalog, Metric

    plain = narrowed_grammar("promql", None, disk_cache=False).lark
    assert accepts(plain, "histogram_quantile(0.9, sum by (le) (rate(anything_count[5m])))")
    assert not accepts(plain, "histogram_quantile(0.9, 2 * rate(x_bucket[5m]))")
    metrics = {"jobs_total": Metric("jobs_total", "counter", labels={"queue": ["a", "b"]})}
    no_buckets = narrowed_grammar("promql", Catalog("promql", metrics), disk_cache=False).lark
    assert accepts(no_buckets, 'histogram_quantile(0.9, rate(jobs_total{queue="a"}[5m]))')


@pytest.mark.parametrize("query, allowed", [
    ('sum by (level) (count_over_time({env="prod"} [5m]))', True),
    ('rate({service="cart"} [5m])', True),
    ('rate({service="cart"} | json | unwrap status [5m])', True),  # rate takes either
    ('sum_over_time({service="cart"} | json | unwrap status [5m])', True),
    ('avg_over_time({service="cart"} | json | unwrap status [5m]) by (level)', True),
    ('quantile_over_time(0.99, {service="cart"} | json | unwrap status [5m]) by (level)', True),
    ('topk(3, sum by (level) (rate({env="prod"} [5m])))', True),
    ('sum(rate({env="prod"} [5m]))', True),
    ('bytes_over_time({service="cart"} | json | unwrap status [5m])', False),  # refuses unwrap
    ('count_over_time({service="cart"} | json | unwrap status [5m])', False),
    ('sum_over_time({service="cart"} [5m])', False),                           # needs unwrap
    ('count_over_time({env="prod"} [5m]) by (level)', False),                  # may not group
    ('sum_over_time({service="cart"} | json | unwrap status [5m]) by (level)', False),
    ('quantile_over_time({service="cart"} | json | unwrap status [5m])', False),  # no quantile
    ('count_over_time(3, {env="prod"} [5m])', False),                          # no parameter
    ('topk(sum(rate({env="prod"} [5m])))', False),                             # no k
    ('sum(3, rate({env="prod"} [5m]))', False),
])
def test_logql_generation_aggregations_take_what_loki_allows(narrowed, query, allowed):
    """Loki refuses an aggregation with an unwrap, grouping or parameter it does not take;
    generation cannot write one (nlq.constrain.aggregations), validation still parses it."""
    assert accepts(narrowed["logql"].lark, query) is allowed
    assert accepts(narrowed_grammar("logql", None, disk_cache=False).lark, query) is allowed
    assert lark.Lark(grammar_file("logql").read_text(), parser="earley", lexer="dynamic").parse(query)


@pytest.mark.parametrize("dialect, query, allowed", [
    ("promql", 'up{job="api"}', True),
    ("promql", 'up{job!="api"}', True),
    ("promql", 'up{job=~"api|node"}', True),
    ("promql", 'up{instance=~"node-.*"}', True),
    ("promql", 'up{instance!~"node-.*"}', True),
    ("promql", 'up{job=".*"}', False),             # a pattern after `=` matches no series
    ("promql", 'up{instance="node-.*"}', False),
    ("promql", 'up{job!=".+"}', False),
    ("logql", '{service="checkout"}', True),
    ("logql", '{service=~"check.*|cart"}', False),  # a prefix not cut at a separator
    ("logql", '{service=~".*"}', True),
    ("logql", '{service=".*"}', False),
])
def test_patterns_follow_only_the_regex_operators(narrowed, dialect, query, allowed):
    """`=` and `!=` compare a value exactly, so they take observed values only; `=~` and `!~`
    take the patterns over them too."""
    assert accepts(narrowed[dialect].lark, query) is allowed


@needs_grammar("datadog-metrics")
def test_datadog_metrics_tags_depend_on_the_metric(narrowed):
    text = narrowed["datadog-metrics"].lark
    assert accepts(text, "avg:system.cpu.user{host:web-1} by {host}")
    assert accepts(text, "sum:trace.http.request.hits{service:cart}.as_count()")
    assert not accepts(text, "avg:system.cpu.user{service:cart}")
    assert not accepts(text, "avg:system.cpu.idle{*}")
    assert accepts(text, "avg:system.cpu.user{host:web-*}")  # wildcards stay possible


@needs_grammar("datadog-metrics")
@pytest.mark.parametrize("query, allowed", [
    ("derivative(avg:system.cpu.user{*})", True),
    ("deriv(avg:system.cpu.user{*})", False),                                 # no such function
    ("top5_mean(avg:system.cpu.user{*} by {host})", True),                    # a rank shorthand
    ("sum:trace.http.request.hits{service:cart}.as_rate()", True),
    ("sum:trace.http.request.hits{service:cart}.as_time()", False),           # no such modifier
    ("avg:system.cpu.user{*}.rollup(max, 60).fill(zero)", True),
    ("p95:trace.http.request.duration{*}", True),
    ("median:trace.http.request.duration{*}", False),                         # no such aggregator
    ("timeshift(avg:system.cpu.user{*}, -3600) / 2", True),
    ("host", False),                                                          # a formula's query reference
    ("a / b", False),
])
def test_datadog_metrics_generation_names_what_the_checks_know(narrowed, query, allowed):
    """Functions, modifiers and aggregators the checks refuse by name cannot be generated, nor
    references to named queries (nlq.constrain.datadog_names); validation still parses them."""
    assert accepts(narrowed["datadog-metrics"].lark, query) is allowed
    assert accepts(narrowed_grammar("datadog-metrics", None, disk_cache=False).lark, query) is allowed
    assert lark.Lark(grammar_file("datadog-metrics").read_text(), parser="earley", lexer="dynamic").parse(query)


def test_values_no_rule_can_spell_leave_only_wildcards():
    """A Datadog tag value cannot hold a space: where a key's every known value has one, the
    grammar offers wildcards, not any text the catalog check would then refuse."""
    from nlq.catalog import Catalog, Metric

    labels = {"resource_name": ["GET /api/cart", "POST /api/checkout"], "service": ["cart", "checkout"]}
    metrics = {"trace.http.request.hits": Metric("trace.http.request.hits", "count", labels=labels)}
    text = narrowed_grammar("datadog-metrics", Catalog("datadog-metrics", metrics), disk_cache=False).lark
    assert accepts(text, "sum:trace.http.request.hits{resource_name:*checkout*}.as_count()")
    assert accepts(text, "sum:trace.http.request.hits{resource_name:GET*}.as_count()")  # a first word
    assert not accepts(text, "sum:trace.http.request.hits{resource_name:PUT*}.as_count()")
    assert not accepts(text, "sum:trace.http.request.hits{resource_name:checkout}.as_count()")
    assert accepts(text, "sum:trace.http.request.hits{service:checkout}.as_count()")


@needs_grammar("datadog-logs")
def test_datadog_logs_narrowed(narrowed):
    text = narrowed["datadog-logs"].lark
    assert accepts(text, "service:cart status:error")
    assert accepts(text, "service:checkout @http.status_code:500")
    assert not accepts(text, "service:payments")
    assert not accepts(text, "@http.colour:500")


@needs_grammar("datadog-logs")
@pytest.mark.parametrize("query, allowed", [
    ("service:(cart OR checkout)", True),
    ("-service:(cart OR frontend) status:error", True),
    ("service:(cart OR payments)", False),                 # payments is no service here
    ("service:(service OR @http.status_code)", False),
    ("@http.url_details.path:(/api/cart OR /api/checkout)", True),
    ("@http.url_details.path:(/api/cart OR /api/nope)", False),
    ("@http.status_code:[500 TO 599]", True),              # numbers compare and range
    ("@http.status_code:>=500", True),
    ("@duration:>=1500000000", True),                      # free-form values keep everything
    ("service:[500 TO 599]", False),                       # names do not
    ("status:>=500", False),
    ('service:"checkout"', True),                          # a quoted phrase stays free
])
def test_datadog_logs_generation_values_belong_to_their_key(narrowed, query, allowed):
    """A value group, a comparison or a range after a key is narrowed like a single value:
    free text there parses and matches nothing (nlq.constrain.keyed_values)."""
    assert accepts(narrowed["datadog-logs"].lark, query) is allowed


@needs_grammar("datadog-logs")
def test_a_key_grounding_withheld_takes_no_comparison():
    """Grounding withholds every service when the question names none ("failed logins"), and
    keeps numbers: an emptied key held names, so it compares and ranges no more than before."""
    text = narrowed_grammar("datadog-logs", catalog("datadog-logs"), disk_cache=False, question="failed logins").lark
    assert accepts(text, "service:* @http.status_code:404")
    assert accepts(text, "@http.status_code:>=400")
    assert not accepts(text, "service:>/home/./service")  # what the shipped adapter wrote here
    assert not accepts(text, "service:[a TO z]")


@needs_grammar("datadog-metrics")
@pytest.mark.parametrize("query, allowed", [
    ("avg:system.cpu.user{host:web-*}", True),             # a prefix cut at a separator
    ("avg:system.cpu.user{*}", True),
    ("avg:system.cpu.user{host:*}", True),
    ("sum:trace.http.request.hits{http.status_code:5*}.as_count()", True),   # the 5xx
    ("sum:trace.http.request.hits{http.status_code:50*}.as_count()", True),
    ("sum:trace.http.request.hits{http.status_code:4*}.as_count()", False),  # no 4xx here
    ("avg:system.cpu.user{host:db-*}", False),             # no host starts so
    ("sum:trace.http.request.hits{service:orders*}.as_count()", False),
    ("sum:trace.http.request.hits{service:check*}.as_count()", False),       # not at a separator
])
def test_datadog_wildcards_match_a_known_value(narrowed, query, allowed):
    assert accepts(narrowed["datadog-metrics"].lark, query) is allowed


@pytest.mark.parametrize("dialect", ["promql", "logql", "datadog-metrics", "datadog-logs"])
def test_narrowed_grammar_is_valid_lark_and_llguidance(dialect, narrowed):
    if dialect not in narrowed:
        pytest.skip(f"grammars/{dialect} not written yet")
    g = narrowed[dialect]
    assert g.missing_rules == [], f"grammar lacks the narrowable rules {g.missing_rules}"
    lark.Lark(g.lark, parser="earley")
    assert llguidance.LLMatcher.validate_grammar(g.spec, BYTE_TOKENIZER) == ""


@needs_grammar("logql")
def test_narrowing_is_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    from nlq.constrain import narrow

    monkeypatch.setenv("NLQ_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(narrow, "_MEMORY", {})
    cat = catalog("logql")
    first = narrowed_grammar("logql", cat, disk_cache=True)
    assert narrowed_grammar("logql", cat, disk_cache=True) is first
    files = list((tmp_path / "grammars").glob("logql-*.lark"))
    assert len(files) == 1 and files[0].read_text() == first.lark
    # a different catalog is a different grammar
    cat.log_labels["service"].append("payments")
    other = narrowed_grammar("logql", cat, disk_cache=True)
    assert other.lark != first.lark and accepts(other.lark, '{service="payments"}')
    # a fresh process (empty memory cache) reads the disk copy
    monkeypatch.setattr(narrow, "_MEMORY", {})
    assert narrowed_grammar("logql", catalog("logql"), disk_cache=True).lark == first.lark


def test_no_catalog_means_the_plain_generation_grammar():
    if not grammar_file("logql").is_file():
        pytest.skip("grammars/logql.lark not written yet")
    g = narrowed_grammar("logql", None)
    assert g.narrowed == {} and accepts(g.lark, '{anything="goes"}')


def test_invalid_grammar_fails_loudly():
    with pytest.raises(GrammarError, match="llguidance refused"):
        ConstraintGrammar("start: undefined_rule\n", name="broken").validated_spec(BYTE_TOKENIZER)


def test_narrow_text_reports_missing_rules():
    text = 'start: "up"\n'
    narrowed, stats, missing = narrow_text(text, "promql", catalog("promql"))
    assert narrowed == text and stats == {} and "metric_name" in missing


# ---------------------------------------------------------------- decode helpers
def test_unpack_bitmask_matches_llguidance_numpy():
    rng = np.random.default_rng(0)
    mask = rng.integers(-(2**31), 2**31 - 1, size=(2, 4), dtype=np.int64).astype(np.int32)
    allowed = unpack_bitmask(mask, 100)
    logits = np.zeros((2, 100), dtype=np.float32)
    import llguidance.numpy

    llguidance.numpy.apply_token_bitmask_inplace(logits, mask)
    assert (allowed == (logits == 0)).all()


def test_repetition_detector():
    assert repeating([5, 1, 2, 3] * 3)
    assert not repeating([1] + [0] * 9)  # 1000000000 is a number, not a loop
    assert repeating([7] * 12)
    assert not repeating([1, 2, 3, 4, 5, 6])


# ---------------------------------------------------------------- real model
TOY = r"""
start: AGG "(rate(" METRIC "[" DUR "]))"
AGG: "sum" | "avg" | "max"
METRIC: "http_requests_total" | "node_cpu_seconds_total"
DUR: "1m" | "5m" | "1h"
"""


MESSAGES = [
    {"role": "system", "content": "Write a PromQL query. Answer with the query only."},
    {"role": "user", "content": "total rate of HTTP requests over 5 minutes"},
]


@pytest.mark.model
def test_greedy_decode_stays_in_the_grammar(model):
    gen = model.generate([MESSAGES], ConstraintGrammar(TOY), max_tokens=32)[0]
    text = gen.texts[0]
    assert accepts(TOY, text), text
    c = gen.completions[0]
    assert c.finish_reason == "grammar"
    # "(rate(" and "]))" are forced: fast-forwarded without sampling
    assert c.forced_tokens >= 2 and gen.steps < c.tokens
    assert gen.timings["mask_s"] < gen.timings["decode_s"]


@pytest.mark.model
def test_sampled_batch_decode(model):
    gen = model.generate([MESSAGES], ConstraintGrammar(TOY), max_tokens=32, temperature=1.0, n=3, seed=7)[0]
    assert len(gen.texts) == 3
    for text in gen.texts:
        assert accepts(TOY, text), text
    again = model.generate([MESSAGES], ConstraintGrammar(TOY), max_tokens=32, temperature=1.0, n=3, seed=7)[0]
    assert again.texts == gen.texts  # seeded


@pytest.mark.model
def test_llguidance_tokenizer_uses_the_chat_eos(model):
    assert model.tokenizer.eos_token == "<|im_end|>"
    assert model.eos_token_id == model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.ll_tokenizer.eos_token == model.eos_token_id
    prompt = model.render(MESSAGES)
    assert model.tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")


@needs_grammar("promql")
def test_large_catalogs_use_global_label_sets():
    """Per-metric clones past ~100 metrics overflow llguidance's Earley items: fall back."""
    from nlq.catalog import Catalog, Metric
    from nlq.constrain.narrow import MAX_SCOPED_ENTITIES

    metrics = {f"m{i}_total": Metric(f"m{i}_total", "counter", labels={"service": ["a", "b"]})
               for i in range(MAX_SCOPED_ENTITIES + 1)}
    g = narrowed_grammar("promql", Catalog("promql", metrics), disk_cache=False)
    # all 101 metrics carry the same labels, so they share one scoped group
    assert g.narrowed["scoped_groups"] == 1 and g.narrowed["scoped_metrics"] == MAX_SCOPED_ENTITIES + 1
    assert accepts(g.lark, f'sum(rate(m{MAX_SCOPED_ENTITIES}_total{{service="a"}}[5m]))')


@pytest.mark.parametrize(("question", "whole"), [
    ("total mem used across the cluster", True),
    ("cluster-wide network receive throughput", True),
    ("overall 5xx rate", True),
    ("lowest idle cpu of any host", False),  # a ranking word: the breakdown may be meant
    ("total requests per service", False),
    ("memory by pod, across the cluster", False),
    ("which node has the most load overall", False),
    ("checkout vs cart total traffic", False),
    ('lines containing "total failure" for cart', False),  # quoted: a line to match, not a cue
    ("cpu of checkout", False),
    ("totally broken pods", False),  # whole words only
])
def test_the_cue_for_a_question_about_the_whole(question, whole):
    from nlq.constrain.whole import asks_for_the_whole

    assert asks_for_the_whole(question) is whole


@pytest.mark.parametrize(("dialect", "breakdown", "whole"), [
    ("promql", "sum by (service) (rate(http_requests_total[5m]))", "sum(rate(http_requests_total[5m]))"),
    ("promql", "sum(rate(http_requests_total[5m])) by (route)",
     "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ("promql", "sum by (le) (rate(http_requests_total[5m]))", "sum(rate(http_requests_total[5m]))"),
    ("promql", "topk(3, sum without (route) (rate(http_requests_total[5m])))",
     'sum(rate(http_requests_total{service="cart"}[5m])) / sum(rate(http_requests_total[5m]))'),
    ("logql", 'sum by (level) (count_over_time({env="prod"}[5m]))', 'sum(count_over_time({env="prod"}[5m]))'),
    ("logql", 'sum(count_over_time({env="prod"}[5m])) by (level)', 'sum by () (count_over_time({env="prod"}[5m]))'),
    ("datadog-metrics", "sum:system.mem.used{*} by {host}", "sum:system.mem.used{*}"),
    ("datadog-metrics", "avg:system.cpu.user{env:prod} by {host}", "max:system.cpu.user{env:prod}"),
])
def test_a_question_about_the_whole_leaves_the_breakdown_out(narrowed, dialect, breakdown, whole):
    """nlq.constrain.whole: no `by` list but `le`, an empty one, or no `by {...}`."""
    from nlq.constrain.whole import without_breakdown

    plain = narrowed[dialect]
    assert accepts(plain.lark, breakdown) and accepts(plain.lark, whole)
    grammar = without_breakdown(plain, dialect)
    assert not accepts(grammar.lark, breakdown), breakdown
    assert accepts(grammar.lark, whole), whole
    assert grammar.name == plain.name + "+whole"


def test_a_log_search_has_no_breakdown_to_leave_out(narrowed):
    from nlq.constrain.whole import without_breakdown

    with pytest.raises(ValueError):
        without_breakdown(narrowed["datadog-logs"], "datadog-logs")
