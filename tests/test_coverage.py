"""nlq.coverage: which values a question names outright, and which a query leaves out."""

from __future__ import annotations

from nlq.catalog import Catalog, Metric
from nlq.coverage import left_out, named_values

ROUTES = ["/api/cart", "/api/checkout", "/api/login", "/api/orders", "/cart", "/"]


def shop() -> Catalog:
    labels = {
        "service": ["cart", "checkout", "checkout-db", "payments"],
        "route": ROUTES,
        "region": ["eu-west-1", "us-east-1", "us-west-2"],
        "instance": ["ip-10-0-1-17", "ip-10-0-1-42"],
        "level": ["error", "info"],
        "code": ["200", "500"],
        "namespace": ["shop"],
    }
    return Catalog("promql", {"http_requests_total": Metric("http_requests_total", "counter", labels=labels)})


def named(question: str) -> list[tuple[str, ...]]:
    return named_values(question, "promql", shop())


def test_a_value_is_named_by_all_of_its_words():
    assert named("p99 of payments") == [("payments",)]
    assert named("label printing depth") == []
    # every word of the value, so checkout-db is named by "checkout db" and checkout is not asked twice
    assert named("errors in the checkout db") == [("checkout-db",)]
    # the service and the route read the same: either answers, the shorter is shown
    assert named("p99 of checkout") == [("checkout", "/api/checkout")]


def test_words_most_values_of_a_key_share_do_not_count():
    # "api" starts most routes, so "login" names /api/login on its own ...
    assert named("login requests per second") == [("/api/login",)]
    # ... and "eu" names eu-west-1 where "west" and "1" are shared with the us regions
    assert named("5xx in eu") == [("eu-west-1",)]
    # but a number alone never names a host: "17" is not ip-10-0-1-17
    assert named("errors in the last 17 minutes") == []
    assert named("cpu of ip-10-0-1-17") == [("ip-10-0-1-17",)]


def test_values_that_read_the_same_are_one_group():
    # /cart and /api/cart (less "api") and the service cart: naming any one answers "cart"
    assert named("cart traffic") == [("cart", "/cart", "/api/cart")]
    assert left_out('sum(rate(http_requests_total{route="/cart"}[5m]))', named("cart traffic")) == []


def test_generic_single_and_quantity_values_are_never_asked_for():
    assert named("error logs in shop with code 500") == []


def test_left_out_reads_the_query_text_leniently():
    groups = [("checkout",), ("/api/login",)]
    assert left_out('sum(rate(http_requests_total{service="checkout"}[5m]))', groups) == ["/api/login"]
    assert left_out('rate(http_requests_total{service!="Checkout", route="/api/login"}[5m])', groups) == []
    assert left_out("anything", []) == []


def test_no_catalog_names_nothing():
    assert named_values("p99 of checkout", "promql", None) == []
