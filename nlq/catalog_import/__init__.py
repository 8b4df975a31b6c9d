"""Catalogs from a running system: Prometheus-API servers, Loki, Datadog, or an exported file.

    >>> from nlq.catalog_import.prometheus import import_prometheus   # doctest: +SKIP
    >>> catalog = import_prometheus("http://127.0.0.1:9090", window=TimeWindow.last(3600))  # doctest: +SKIP

Every importer returns an `nlq.catalog.Catalog`; `nlq catalog import` writes it
atomically.  The shared HTTP client (auth from the environment, TLS, timeouts,
retries, clear errors) is `nlq.catalog_import.http`.
"""

from nlq.catalog_import.common import TimeWindow, top_values
from nlq.catalog_import.http import HttpClient, ImportFailure

__all__ = ["HttpClient", "ImportFailure", "TimeWindow", "top_values"]
