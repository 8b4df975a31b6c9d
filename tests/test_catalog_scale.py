"""Narrowing large catalogs: trie terminals, grouped label scoping, the compile cache.

The language is what matters: a query over the catalog's names is accepted by
llguidance (a byte-level tokenizer, no model needed), near misses are not.
Speed is measured by benchmarks/catalog_scale.py, not here.
"""

from __future__ import annotations

import random
import re

import llguidance
import pytest

from nlq.catalog import Catalog, Metric
from nlq.constrain.narrow import (
    MAX_SCOPED_ENTITIES,
    GrammarError,
    compiled_matcher,
    generation_text,
    narrow_text,
    trie_regex,
)
from nlq.grammar import grammar_text

BYTES = llguidance.LLTokenizer("byte")
PROMQL = grammar_text("promql.lark")


def _spec(text: str) -> str:
    spec = llguidance.LLMatcher.grammar_from_lark(generation_text(text))
    assert llguidance.LLMatcher.validate_grammar(spec, BYTES) == ""
    return spec


def accepts(spec: str, query: str) -> bool:
    matcher = compiled_matcher(spec, BYTES)
    return matcher.consume_tokens(list(query.encode())) and matcher.is_accepting()


def test_trie_regex_matches_exactly_its_strings():
    rnd = random.Random(7)
    for _ in range(200):
        words = {"".join(rnd.choice("ab_-./") for _ in range(rnd.randint(0, 6))) for _ in range(rnd.randint(1, 40))}
        rx = re.compile(trie_regex(sorted(words)))
        for probe in words | {"".join(rnd.choice("ab_-./") for _ in range(rnd.randint(0, 7))) for _ in range(60)}:
            assert (rx.fullmatch(probe) is not None) == (probe in words), (sorted(words), probe, rx.pattern)
    assert trie_regex(["up", "up_time", "upper"]) == "up(?:_time|per)?"


def test_trie_regex_means_the_same_to_llguidance():
    words = ["a-b/c", "a.b", "x y", 'q"t', "k=v,w", "tab\tx", "π-1", "p(1)", "br[1]", "a+b", "e|f", "back\\slash", "$x^"]
    spec = llguidance.LLMatcher.grammar_from_lark(f"start: NAME\nNAME: /{trie_regex(words)}/\n")
    assert llguidance.LLMatcher.validate_grammar(spec, BYTES) == ""
    for word in words:
        assert accepts(spec, word), word
    for near in ("a-b", "a.bb", "x  y", "p(1", "e", "π"):
        assert not accepts(spec, near), near


def _catalog(n: int, label_sets: list[list[str]], values: int = 4) -> Catalog:
    metrics = {}
    for i in range(n):
        labels = label_sets[i % len(label_sets)]
        name = f"svc{i % 7}_thing{i}_total"
        metrics[name] = Metric(name, "counter", labels={lab: [f"{lab}-{(i + k) % 50}" for k in range(values)]
                                                         for lab in labels})
    return Catalog("promql", metrics)


def test_a_large_catalog_scopes_label_names_per_group_of_metrics():
    sets = [["service", "pod"], ["job", "instance"], ["topic", "partition", "service"]]
    catalog = _catalog(2_000, sets)
    text, stats, _ = narrow_text(PROMQL, "promql", catalog)
    assert stats["scoped_metrics"] == 2_000 and stats["scoped_groups"] == len(sets)
    spec = _spec(text)
    metric = "svc3_thing10_total"  # labels job, instance (10 % 3 == 1)
    value = catalog.metrics[metric].labels["job"][0]
    assert accepts(spec, f'sum by (job) (rate({metric}{{job="{value}"}}[5m]))')
    assert accepts(spec, f'{metric}{{instance="instance-49"}}')  # another metric's value of this label
    assert not accepts(spec, f'{metric}{{service="service-1"}}')  # a label this metric does not have
    assert not accepts(spec, 'svc3_thing10_total{job="job-999"}')  # a value nobody has
    assert not accepts(spec, "svc3_thing10_totalx")
    assert not accepts(spec, "svc3_thing10_tota")
    assert "label_value: STRING" in text  # the union of all values is not built: only matchers use values


def test_metrics_with_the_same_labels_share_one_clone_with_their_own_values():
    metrics = {f"m{i}_total": Metric(f"m{i}_total", "counter", labels={"service": ["a", "b"]})
               for i in range(MAX_SCOPED_ENTITIES * 3)}
    metrics["up"] = Metric("up", "gauge", labels={"job": ["api"]})
    text, stats, _ = narrow_text(PROMQL, "promql", Catalog("promql", metrics))
    assert stats["scoped_groups"] == 2 and stats["scoped_metrics"] == len(metrics)
    spec = _spec(text)
    assert accepts(spec, 'sum(rate(m250_total{service="a"}[5m]))')
    assert accepts(spec, 'up{job="api"} == 0')
    assert not accepts(spec, 'm250_total{job="api"}')
    assert not accepts(spec, 'up{service="a"}')
    assert not accepts(spec, 'up{job="a"}')


def test_too_many_label_name_sets_fall_back_to_global_sets():
    names = [f"l{i}" for i in range(30)]
    sets = [[a, b] for a in names for b in names if a < b][: MAX_SCOPED_ENTITIES + 5]
    catalog = _catalog(len(sets), sets, values=1)
    text, stats, _ = narrow_text(PROMQL, "promql", catalog)
    assert "scoped_metrics" not in stats and stats["metric_name"] == len(sets)
    spec = _spec(text)
    first = next(iter(catalog.metrics))
    label, values = next(iter(catalog.metrics[first].labels.items()))
    assert accepts(spec, f'{first}{{{label}="{values[0]}"}}')
    assert not accepts(spec, first + "x")


def test_compiled_matchers_are_independent_copies():
    spec = _spec(narrow_text(PROMQL, "promql", _catalog(300, [["service"]]))[0])
    one, two = compiled_matcher(spec, BYTES), compiled_matcher(spec, BYTES)
    assert one.consume_tokens(list(b"svc0_thing0_total"))
    assert two.consume_tokens(list(b"sum(")) and not two.is_error()  # `two` did not see `one`'s bytes
    with pytest.raises(GrammarError):
        compiled_matcher(llguidance.LLMatcher.grammar_from_lark("start: undefined_rule\n"), BYTES)
