"""The ASGI app of `nlq serve`: Slack, the editor API, health, readiness and metrics.

    app = create_app(load_config())        # uvicorn.run(app, host="127.0.0.1", port=8080)

A pure-ASGI middleware in front of every route gives each request its id
(X-Request-Id, echoed back), refuses bodies over the size limit (413) before
any handler reads them, applies the per-client rate limit to /v1 (429 with
Retry-After), and writes one JSON log line and the request metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlq.errors import NlqError, QueryError, UsageError
from nlq.service import slack
from nlq.service.api import error, router
from nlq.service.config import ServiceConfig
from nlq.service.limits import QueueFull, QueueTimeout, RateLimiter
from nlq.service.logs import REQUEST_ID
from nlq.service.redaction import redact
from nlq.service.telemetry import Metrics, setup_tracing, shutdown_tracing
from nlq.service.translator import DialectUnavailable, ModelNotReady, ServiceTranslator

LOGGER = logging.getLogger("nlq.service")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RATE_LIMITED_PREFIXES = ("/v1/",)
KNOWN_ENDPOINTS = ("/slack/commands", "/slack/actions", "/v1/translate", "/v1/explain", "/v1/validate",
                   "/v1/format", "/v1/complete", "/healthz", "/readyz", "/metrics", "/docs",
                   "/openapi.json")


class ServiceMiddleware:
    """Request id, body-size limit, /v1 rate limit, access log line and request metrics."""

    def __init__(self, app, config: ServiceConfig, metrics: Metrics, limiter: RateLimiter):
        self.app = app
        self.config = config
        self.metrics = metrics
        self.limiter = limiter

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_OK.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        path = scope["path"]
        endpoint = path if path in KNOWN_ENDPOINTS else "other"
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            refusal = await self._admission(scope, receive, headers, endpoint)
            if isinstance(refusal, Response):
                await refusal(scope, receive, send_with_id)
            else:
                await self.app(scope, refusal, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            dialect = (scope.get("state") or {}).get("dialect", "")
            status = status_holder["status"]
            self.metrics.requests.labels(endpoint, dialect, str(status)).inc()
            self.metrics.latency.labels(endpoint, dialect).observe(elapsed)
            LOGGER.info("request", extra={"method": scope["method"], "path": endpoint, "status": status,
                                          "dialect": dialect, "duration_ms": round(elapsed * 1000, 2)})
            REQUEST_ID.reset(token)

    async def _admission(self, scope, receive, headers, endpoint):
        """A refusal `Response`, or a `receive` that replays the (size-checked) body."""
        limit = self.config.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            self.metrics.rejections.labels(endpoint, "body_too_large").inc()
            return error(413, "too_large", f"the request body is over the limit of {limit} bytes")
        if scope["path"].startswith(RATE_LIMITED_PREFIXES):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.check(client)
            if wait:
                self.metrics.rejections.labels(endpoint, "rate_limited").inc()
                return error(429, "rate_limited", f"too many requests: retry in {wait:.0f} s",
                             {"Retry-After": str(max(1, round(wait)))})
        return await self._buffered(scope, receive, endpoint, limit)

    async def _buffered(self, scope, receive, endpoint, limit):
        # Read the body here (it is small by the limit) so that a chunked body
        # without Content-Length is held to the same limit.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                self.metrics.rejections.labels(endpoint, "body_too_large").inc()
                return error(413, "too_large", f"the request body is over the limit of {limit} bytes")
            chunks.append(body)
            more = message.get("more_body", False)
        whole = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        return replay


def create_app(config: ServiceConfig) -> FastAPI:
    """The service for `config`; the model starts loading when the app starts (lifespan)."""
    metrics = Metrics()
    translator = ServiceTranslator(config, metrics)
    limiter = RateLimiter(config.rate_limit_per_minute)
    slack_limiter = RateLimiter(config.rate_limit_per_minute)
    verifier = slack.SlackVerifier(config.slack_signing_secret) if config.slack_signing_secret else None
    background: set[asyncio.Task] = set()
    config.export_link_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        setup_tracing()
        if config.load_model_at_start:
            translator.start_loading()
        yield
        for task in list(background):
            task.cancel()
        translator.queue.shutdown()
        shutdown_tracing()

    app = FastAPI(title="nlq", version="0.1.0", lifespan=lifespan,
                  description="Translate questions about telemetry into PromQL, LogQL and Datadog "
                              "queries; validate, format, explain and complete queries.")
    app.state.translator = translator
    app.state.metrics = metrics
    app.include_router(router(translator))

    # -- errors -----------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError):
        problems = []
        for problem in exc.errors()[:5]:
            where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {problem.get('msg', 'invalid')}")
        return error(422, "invalid_request", "; ".join(problems) or "the request body is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        kinds = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "the request body is not valid JSON (or not UTF-8)"
        return error(exc.status_code, kinds.get(exc.status_code, "http_error"), message,
                     getattr(exc, "headers", None))

    @app.exception_handler(QueryError)
    async def bad_query(_request: Request, exc: QueryError):
        return JSONResponse({"error": {"kind": "invalid_query", "message": exc.render(),
                                       "detail": exc.to_dict()}}, status_code=400)

    @app.exception_handler(QueueFull)
    async def overloaded(_request: Request, _exc: QueueFull):
        metrics.rejections.labels("translate", "queue_full").inc()
        return error(503, "overloaded", f"all {config.queue_size} places in the translation queue are "
                     "taken: retry in a few seconds", {"Retry-After": "5"})

    @app.exception_handler(QueueTimeout)
    async def timed_out(_request: Request, _exc: QueueTimeout):
        return error(504, "timeout", f"the translation took longer than {config.translate_timeout_s:g} s")

    @app.exception_handler(ModelNotReady)
    async def not_ready(_request: Request, exc: ModelNotReady):
        return error(503, "model_not_ready", str(exc), {"Retry-After": "10"})

    @app.exception_handler(DialectUnavailable)
    async def unavailable(_request: Request, exc: DialectUnavailable):
        return error(501, "dialect_unavailable", str(exc))

    @app.exception_handler(NlqError)
    async def nlq_error(_request: Request, exc: NlqError):
        return error(400 if isinstance(exc, UsageError) else 422, "invalid_request", str(exc))

    # -- health -----------------------------------------------------------
    @app.get("/healthz", tags=["ops"])
    async def healthz():
        """The process answers (liveness)."""
        return {"status": "ok", "queue_depth": translator.queue.depth}

    @app.get("/readyz", tags=["ops"])
    async def readyz():
        """200 once the model is loaded, 503 while it loads or when it failed."""
        if translator.ready.is_set():
            return {"status": "ready", "model": translator.model.name}
        if translator.model_error:
            return JSONResponse({"status": "failed", "error": translator.model_error}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503)

    @app.get("/metrics", tags=["ops"])
    async def prometheus_metrics():
        """Prometheus text exposition of the service's metrics."""
        metrics.queue_depth.set(translator.queue.depth)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- Slack ------------------------------------------------------------
    def slack_gate(body: bytes, request: Request, endpoint: str) -> Response | None:
        if verifier is None:
            return error(503, "slack_not_configured", "NLQ_SLACK_SIGNING_SECRET is not set")
        try:
            verifier.verify(body, request.headers)
        except slack.SlackRequestRefused as refused:
            metrics.rejections.labels(endpoint, refused.reason).inc()
            LOGGER.warning("slack request refused", extra={"reason": refused.reason})
            return error(refused.status, refused.reason, refused.message)
        return None

    def allowed_response_url(url: str) -> bool:
        return any(url.startswith(prefix) for prefix in config.slack_response_url_prefixes)

    def in_background(coroutine) -> None:
        task = asyncio.create_task(coroutine)
        background.add(task)
        task.add_done_callback(background.discard)

    async def answer_later(command: slack.SlashCommand, dialect: str, question: str) -> None:
        try:
            result = await translator.translate(question, dialect, "slack", wait_for_model=True)
            message = slack.answer_message(result)
        except QueueFull:
            metrics.rejections.labels("slack", "queue_full").inc()
            message = {"response_type": "ephemeral",
                       "text": "nlq is busy right now (the translation queue is full): try again in a minute."}
        except QueueTimeout:
            message = {"response_type": "ephemeral",
                       "text": f"The translation took longer than {config.translate_timeout_s:g} s; "
                               "try a shorter question."}
        except (ModelNotReady, NlqError) as exc:
            message = {"response_type": "ephemeral", "text": f"nlq could not answer: {exc}"}
        except Exception:  # noqa: BLE001 - the user must hear back; the trace goes to the log
            LOGGER.exception("slack translation failed")
            message = {"response_type": "ephemeral", "text": "nlq hit an internal error; it was logged."}
        try:
            status = await asyncio.to_thread(slack.post, command.response_url, message)
            LOGGER.info("slack answer posted", extra={"status": status})
        except Exception as exc:  # noqa: BLE001 - network trouble with Slack is logged, not raised
            LOGGER.warning("slack answer not delivered", extra={"error": f"{type(exc).__name__}: {exc}"})

    @app.post("/slack/commands", tags=["slack"])
    async def slack_command(request: Request):
        """Slack slash command: verified, acknowledged at once, answered at response_url."""
        body = await request.body()
        if b"ssl_check=1" in body[:200] and b"command=" not in body:
            return Response(status_code=200)  # Slack's certificate probe: nothing to do
        refused = slack_gate(body, request, "/slack/commands")
        if refused is not None:
            return refused
        try:
            command = slack.parse_slash_command(body)
        except ValueError as exc:
            metrics.rejections.labels("/slack/commands", "malformed").inc()
            return error(400, "malformed", str(exc))
        if not allowed_response_url(command.response_url):
            metrics.rejections.labels("/slack/commands", "response_url").inc()
            return error(400, "bad_response_url", "response_url is not a Slack URL")
        text = command.text.strip()
        if text.lower() in ("", "help", "?"):
            return slack.help_message(command.command, config.slack_default_dialect)
        wait = slack_limiter.check(f"{command.team_id}:{command.user_id}")
        if wait:
            metrics.rejections.labels("/slack/commands", "rate_limited").inc()
            return {"response_type": "ephemeral", "text": f"Too many questions: try again in {wait:.0f} s."}
        dialect, question = slack.split_dialect(text, config.slack_default_dialect)
        request.state.dialect = dialect
        LOGGER.info("slack command", extra={"question": redact(question), "dialect": dialect})
        refusal = translator.screen(question, dialect)
        if refusal:
            return {"response_type": "ephemeral", "text": f"Refused: {refusal}"}
        in_background(answer_later(command, dialect, question))
        title = slack.TITLES[dialect]
        return {"response_type": "ephemeral", "text": f"Translating into {title}: _{question[:200]}_ …"}

    @app.post("/slack/actions", tags=["slack"])
    async def slack_action(request: Request):
        """Slack interactivity (button clicks): Share in channel posts the answer for everyone."""
        body = await request.body()
        refused = slack_gate(body, request, "/slack/actions")
        if refused is not None:
            return refused
        try:
            payload = json.loads(slack.parse_form(body).get("payload", ""))
            actions = payload.get("actions") or []
            user_id = (payload.get("user") or {}).get("id", "")
            response_url = payload.get("response_url", "")
        except (ValueError, AttributeError) as exc:
            return error(400, "malformed", f"not an interaction payload: {exc}")
        for action in actions:
            if action.get("action_id") == slack.SHARE_ACTION and allowed_response_url(response_url):
                try:
                    message = slack.shared_message(action.get("value", ""), user_id)
                except (ValueError, KeyError, TypeError):
                    return error(400, "malformed", "the share button's value is not nlq's")
                in_background(asyncio.to_thread(slack.post, response_url, message))
        return Response(status_code=200)

    app.add_middleware(ServiceMiddleware, config=config, metrics=metrics, limiter=limiter)
    return app
