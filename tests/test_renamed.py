"""The renamed world (issue #7's transfer test): the shop under other names, answer for answer."""

from __future__ import annotations

import json
import re

import pytest

from nlq.catalog import load_catalog
from nlq.errors import UsageError
from nlq.evaluation import gold_cache as gc
from nlq.evaluation import load_cases
from nlq.evaluation.cases import CASE_FILES, world_cases
from nlq.evaluation.scoring import Scorer
from nlq.snapshot import renamed as rn
from nlq.snapshot.catalogs import catalog_path

DIALECTS = list(CASE_FILES)


@pytest.fixture(scope="module")
def rename() -> rn.RenameMap:
    return rn.load_rename_map()


def _old_name_pattern(rename: rn.RenameMap) -> re.Pattern:
    """Any old service or metric as a whole name, in any case."""
    return re.compile(r"(?i)(?<![\w.])(" + "|".join(map(re.escape, rename.old_names())) + r")(?![\w]|\.\w)")


def test_the_map_loads_and_a_bad_one_is_a_clear_error(rename, tmp_path):
    assert rename.services["checkout"] == "basket"
    assert rename.metrics["http_request_duration_seconds"] == "web_call_latency_seconds"
    assert len(rename.fingerprint) == 12
    bad = tmp_path / "rename.yaml"
    bad.write_text("services:\n  cart: trolley\n")
    with pytest.raises(UsageError, match="metrics"):
        rn.load_rename_map(bad)
    bad.write_text("services:\n  cart: trolley\n  search: trolley\nmetrics: {}\n")
    with pytest.raises(UsageError, match="same new name"):
        rn.load_rename_map(bad)
    bad.write_text("services:\n  cart: trolley\nmetrics:\n  up: cart.up\n")
    with pytest.raises(UsageError, match="old service name"):
        rn.load_rename_map(bad)
    with pytest.raises(UsageError, match="not found"):
        rn.load_rename_map(tmp_path / "missing.yaml")


@pytest.mark.parametrize("text, expected", [
    ("checkout-bqs2v8m7z2-6fn66", "basket-bqs2v8m7z2-6fn66"),
    ("/api/cart", "/api/trolley"),
    ("cart_items", "cart_items"),  # `_` is a word character: not a service word
    ("sum:checkout.order.value{*}", "sum:basket.order.amount{*}"),  # the metric first, then the service
    ('rate(http_request_duration_seconds_bucket{service="payments"}[5m])',
     'rate(web_call_latency_seconds_bucket{service="billing"}[5m])'),
    ("http_requests_total_extra", "http_requests_total_extra"),  # not the metric's exact name
    ("avg:kafka.consumer.lag{topic:orders}", "avg:stream.consumer.backlog{topic:orders}"),
    ("Checkout errors from search", "Basket errors from lookup"),
    ("payments.v1.PaymentService", "billing.v1.PaymentService"),
])
def test_rename_text(rename, text, expected):
    assert rename.rename_text(text) == expected


def test_the_renamed_snapshot_holds_new_names_only(rename):
    con = rn.open_renamed("renamed-a", rename)
    try:
        metrics = {m for (m,) in con.execute("SELECT DISTINCT metric FROM prom_series").fetchall()}
        assert {"web_calls_total", "web_call_latency_seconds_bucket", "sql_pool_connections"} <= metrics
        assert "http_requests_total" not in metrics
        dd = {m for (m,) in con.execute("SELECT DISTINCT metric FROM dd_series").fetchall()}
        assert "basket.order.amount" in dd and "checkout.order.value" not in dd
        values = {v for (labels,) in con.execute("SELECT labels FROM prom_series").fetchall() for v in labels.values()}
        values |= {v for (labels,) in con.execute("SELECT labels FROM log_streams").fetchall() for v in labels.values()}
        assert set(rename.services.values()) <= values
        assert not set(rename.services) & values
        assert rn.find_names(con, rename.old_names()) == {}
        assert con.execute("SELECT value FROM meta WHERE key = 'name'").fetchone()[0] == "renamed-a"
        # the samples are the shop's own: the rename moves names, never numbers
        shop_count = con.execute("SELECT count(*), sum(hash(series_id, ts, value, stale)) FROM prom_samples").fetchone()
    finally:
        con.close()
    from nlq.snapshot import open_snapshot

    shop = open_snapshot("shop-a")
    try:
        assert shop.execute("SELECT count(*), sum(hash(series_id, ts, value, stale)) FROM prom_samples").fetchone() == shop_count
    finally:
        shop.close()


def test_no_new_name_is_already_in_the_shop(rename):
    assert rn.collisions(rename, ("shop-a",)) == {}


def _spread(cases: list, n: int = 4) -> list:
    """n cases spread over the list by index (no hand-picked answers)."""
    step = max(1, len(cases) // n)
    return cases[::step][:n]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_renamed_golds_find_the_shop_answer_renamed(rename, dialect):
    cases = [c for c in _spread(load_cases(dialect=dialect)) if not rn.expected_difference(c)]
    assert rn.gold_disagreements(cases, rename, ["renamed-a"]) == {}


def test_the_comparison_sees_a_difference_when_there_is_one(rename):
    # LogQL byte counts change with the names' lengths: the check must say so
    bytes_cases = [c for c in load_cases(dialect="logql") if rn.expected_difference(c)]
    assert bytes_cases
    differ = rn.gold_disagreements(bytes_cases[:1], rename, ["renamed-a"])
    assert list(differ) == [bytes_cases[0].id]
    # and on the renamed world, another service's answer is not the gold's
    case = rn.rename_case(next(c for c in load_cases(dialect="promql") if 'service="' in c.gold), rename)
    service = re.search(r'service="(\w+)"', case.gold).group(1)
    other = next(s for s in rename.services.values() if s != service)
    scorer = Scorer(("renamed-a",), world="renamed")
    try:
        assert scorer.score(case, case.gold).equivalent
        assert not scorer.score(case, case.gold.replace(f'"{service}"', f'"{other}"')).equivalent
    finally:
        scorer.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_committed_catalogs_are_the_shop_catalogs_renamed(rename, dialect):
    path = rn.renamed_catalog_path(dialect)
    text = path.read_text()
    assert _old_name_pattern(rename).findall(text) == []
    committed = json.loads(text)
    shop = load_catalog(catalog_path(dialect), dialect)
    assert rn.rename_catalog(shop, rename).to_dict() == committed
    loaded = load_catalog(path, dialect)
    assert len(loaded.metrics) == len(shop.metrics) and len(loaded.log_fields) == len(shop.log_fields)


def test_the_renamed_benchmark_scores_on_the_renamed_world(rename):
    cases, left_out = world_cases(load_cases(dialect="promql")[:3], "renamed")
    assert not left_out and all(c.gold == rename.rename_text(s.gold)
                                for c, s in zip(cases, load_cases(dialect="promql")[:3], strict=True))
    scorer = Scorer(("renamed-a",), world="renamed")
    try:
        for case in cases:
            score = scorer.score(case, case.gold)
            assert score.world == "renamed" and score.valid and score.equivalent
        shop_gold = load_cases(dialect="promql")[0].gold
        assert shop_gold != cases[0].gold
        assert not scorer.score(cases[0], shop_gold).equivalent  # the old names find nothing here
    finally:
        scorer.close()
    with pytest.raises(UsageError, match="world"):
        world_cases(cases, "mars")


def test_the_gold_cache_keeps_the_worlds_apart(rename, tmp_path):
    case = load_cases(dialect="promql")[0]
    cache = gc.GoldCache(tmp_path)
    rn.open_renamed("renamed-a", rename).close()
    shop_key, renamed_key = cache._path(case, "shop-a"), cache._path(rn.rename_case(case, rename), "renamed-a")
    assert shop_key is not None and renamed_key is not None and shop_key != renamed_key
    # even the same query text on the two worlds is two keys
    assert cache._path(case, "renamed-a") not in (None, shop_key)
