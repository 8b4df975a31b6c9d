"""The editor JSON API: /v1/translate, /v1/explain, /v1/validate, /v1/format, /v1/complete.

Requests are pydantic models with unknown fields refused, so a wrong JSON
shape gets a 422 naming the field.  Errors always have the shape
`{"error": {"kind": ..., "message": ...}}`.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nlq.lsp.completion import complete
from nlq.service.redaction import redact
from nlq.service.translator import ServiceTranslator, check_dialect
from nlq.validation import validate

LOGGER = logging.getLogger("nlq.service.api")
Dialect = Literal["promql", "logql", "datadog-metrics", "datadog-logs"]
MAX_QUERY_CHARS = 20_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TranslateRequest(_Strict):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS,
                          description="The question, e.g. '5xx rate of checkout by status code'")
    dialect: Dialect = "promql"


class QueryRequest(_Strict):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    dialect: Dialect
    catalog: bool = Field(True, description="Run the catalog checks against the configured catalog")


class FormatRequest(_Strict):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    dialect: Dialect


class CompleteRequest(_Strict):
    text: str = Field("", max_length=MAX_QUERY_CHARS)
    offset: int | None = Field(None, ge=0, description="Cursor offset in characters; default the end")
    dialect: Dialect


def error(status: int, kind: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"kind": kind, "message": message}}, status_code=status,
                        headers=headers)


def translation_body(result) -> dict:
    body = result.to_dict()
    for internal in ("grammar", "examples"):
        body.pop(internal, None)
    return body


def router(translator: ServiceTranslator) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["editor"])

    @api.post("/translate")
    async def translate_question(body: TranslateRequest, request: Request):
        """Translate a question into a validated query with its explanation and links."""
        request.state.dialect = body.dialect
        LOGGER.info("translate request", extra={"question": redact(body.question), "dialect": body.dialect})
        result = await translator.translate(body.question, body.dialect, "translate")
        if result.status == "refused":
            return JSONResponse({"error": {"kind": "refused", "message": result.message},
                                 **translation_body(result)}, status_code=422)
        return translation_body(result)

    @api.post("/validate")
    async def validate_query(body: QueryRequest, request: Request):
        """Parse and check a query; `valid` false with the error (line, column, hint) otherwise."""
        request.state.dialect = body.dialect
        check_dialect(body.dialect)
        catalog = translator.catalog(body.dialect) if body.catalog else None
        checked = validate(body.query, body.dialect, catalog)
        if not checked.valid:
            translator.metrics.validation_failures.labels("validate", body.dialect,
                                                          checked.error.kind).inc()
        return {"dialect": body.dialect, **checked.to_dict()}

    @api.post("/format")
    async def format_query(body: FormatRequest, request: Request):
        """The canonical text of a query (400 with the parse error when it does not parse)."""
        request.state.dialect = body.dialect
        spec = check_dialect(body.dialect)
        node = spec.parse(body.query)  # QueryError -> 400 by the app's handler
        return {"dialect": body.dialect, "query": spec.format(node)}

    @api.post("/explain")
    async def explain_query(body: QueryRequest, request: Request):
        """The one-sentence explanation of a valid query."""
        request.state.dialect = body.dialect
        check_dialect(body.dialect)
        catalog = translator.catalog(body.dialect) if body.catalog else None
        checked = validate(body.query, body.dialect, catalog)
        if not checked.valid:
            raise checked.error
        try:
            from nlq.explain import explain
        except ImportError as exc:  # pragma: no cover - the package is part of nlq
            return error(501, "unavailable", f"explanations are not available: {exc}")
        try:
            explanation = explain(checked.ast, body.dialect, catalog)
        except ImportError:
            return error(501, "unavailable", f"no explainer for {body.dialect} in this build")
        return {"dialect": body.dialect, "query": body.query, "explanation": explanation.sentence}

    @api.post("/complete")
    async def complete_text(body: CompleteRequest, request: Request):
        """Completion items (functions, metrics, labels, values) at the cursor."""
        request.state.dialect = body.dialect
        offset = len(body.text) if body.offset is None else min(body.offset, len(body.text))
        items = complete(body.text, offset, body.dialect, translator.catalog(body.dialect))
        return {"dialect": body.dialect, "items": [i.to_dict() for i in items]}

    return api

