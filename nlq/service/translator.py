"""The service's side of `nlq.translate`: the model, the catalogs and the queue.

The model loads on a background thread at start-up (`start_loading`); /readyz
answers 200 only once it is in.  Questions are screened (empty, too long, not
about telemetry, injection only) before they take a place in the queue, so
refusals cost no model time.  Each translation runs on the queue's worker
thread inside an OpenTelemetry span and is counted in the Prometheus metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.errors import NlqError
from nlq.service.config import ServiceConfig
from nlq.service.limits import ModelQueue
from nlq.service.redaction import redact
from nlq.service.telemetry import (
    OPERATION,
    Metrics,
    span_attributes_after,
    span_attributes_before,
    tracer,
)
from nlq.translate import Translation, screen, token_budget, translate

LOGGER = logging.getLogger("nlq.service.translator")


class DialectUnavailable(NlqError):
    """The dialect is known but its parser is not part of this build."""


class ModelNotReady(NlqError):
    """The model is still loading, or failed to load."""


def check_dialect(name: str):
    """The dialect, or `UsageError` (unknown) / `DialectUnavailable` (not built yet)."""
    try:
        return dialects.get(name)
    except ImportError as exc:
        raise DialectUnavailable(f"dialect {name!r} is not available in this build: {exc}") from exc


class ServiceTranslator:
    def __init__(self, config: ServiceConfig, metrics: Metrics):
        self.config = config
        self.metrics = metrics
        self.queue = ModelQueue(config.queue_size, config.translate_timeout_s)
        self.model: Any = None
        self.model_error: str | None = None
        self.ready = threading.Event()
        self._catalogs: dict[str, Catalog | None] = {}
        self._catalog_lock = threading.Lock()
        self._loader: threading.Thread | None = None

    # -- model ------------------------------------------------------------
    def start_loading(self) -> None:
        """Load the model on a daemon thread; /readyz turns 200 when it is done."""
        if self._loader is None:
            self._loader = threading.Thread(target=self._load, name="nlq-model-load", daemon=True)
            self._loader.start()

    def _load(self) -> None:
        from nlq.models import load_model

        started = time.perf_counter()
        try:
            self.model = load_model(self.config.model)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz, not a crash
            self.model_error = f"{type(exc).__name__}: {exc}"
            LOGGER.error("model failed to load", extra={"model": self.config.model, "error": self.model_error})
            return
        self.ready.set()
        self.metrics.model_ready.set(1)
        LOGGER.info("model loaded", extra={"model": self.model.name,
                                            "load_s": round(time.perf_counter() - started, 3)})

    def wait_ready(self, timeout: float) -> None:
        self.start_loading()
        if not self.ready.wait(timeout):
            raise ModelNotReady(self.model_error or "the model is still loading")

    # -- catalogs ---------------------------------------------------------
    def catalog(self, dialect: str) -> Catalog | None:
        """The configured catalog of `dialect` (or the bundled snapshot), loaded once."""
        with self._catalog_lock:
            if dialect not in self._catalogs:
                path = self.config.catalogs.get(dialect)
                if path:
                    self._catalogs[dialect] = load_catalog(path, dialect)
                else:
                    from nlq.translate import default_catalog

                    self._catalogs[dialect] = default_catalog(dialect)
            return self._catalogs[dialect]

    # -- translation ------------------------------------------------------
    def screen(self, question: str, dialect: str) -> str | None:
        """Why `question` is refused before any model work, or None."""
        if len(question) > self.config.max_question_chars:
            return (f"the question is {len(question)} characters long; the limit is "
                    f"{self.config.max_question_chars}: ask one thing at a time")
        return screen(question, self.catalog(dialect)).refusal

    async def translate(self, question: str, dialect: str, endpoint: str, *,
                        wait_for_model: bool = False) -> Translation:
        """Screen, then translate on the model thread.  Raises QueueFull/QueueTimeout/ModelNotReady."""
        check_dialect(dialect)
        refusal = self.screen(question, dialect)
        if refusal:
            result = Translation(question=question, dialect=dialect, status="refused", message=refusal)
            self.metrics.translations.labels(endpoint, dialect, "refused").inc()
            return result
        if not self.ready.is_set() and not wait_for_model:
            raise ModelNotReady(self.model_error or "the model is still loading; retry in a few seconds")
        # Counted when the question is handed to the model path, so a request that
        # should have been refused shows up here at once, not after a model load.
        self.metrics.model_calls.labels(endpoint).inc()
        self.metrics.queue_depth.set(self.queue.depth + 1)
        try:
            return await self.queue.run(lambda: self._translate_now(question, dialect, endpoint))
        finally:
            self.metrics.queue_depth.set(self.queue.depth)

    def _translate_now(self, question: str, dialect: str, endpoint: str) -> Translation:
        self.wait_ready(self.config.translate_timeout_s)
        model_name = getattr(self.model, "name", self.config.model)
        attributes = span_attributes_before(model_name, dialect, token_budget(dialect), 0.0)
        with tracer().start_as_current_span(f"{OPERATION} {model_name}", kind=SpanKind.INTERNAL,
                                            attributes=attributes) as span:
            try:
                result = translate(question, dialect, self.catalog(dialect), self.model,
                                   max_retries=self.config.max_retries)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise
            span.set_attributes(span_attributes_after(result))
            if not result.ok:
                span.set_attribute("error.type", f"nlq.{result.status}")
                span.set_status(Status(StatusCode.ERROR, result.message or result.status))
        self.metrics.record_translation(endpoint, result)
        LOGGER.info("translated", extra={
            "question": redact(question), "dialect": dialect, "status": result.status,
            "attempts": len(result.attempts), "tokens_in": result.tokens["prompt"],
            "tokens_out": result.tokens["completion"],
            "duration_s": round(result.timings.get("total_s", 0.0), 3)})
        return result
