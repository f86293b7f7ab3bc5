"""The service's OpenAPI 3.1 document, built from the pydantic models the routes validate and answer with.

Why not BentoML's: it only knows BentoML's own APIs, so the mounted contract app (``/classify``,
``/feedback``, the people's routes) was missing. The limits come from the replica's settings (max tickets,
max text length), so the document says what this replica accepts, and every status a route can answer is
listed with its body: a property-based fuzzer (tests/integration/test_fuzz.py) checks each response against it.
``OpenAPIMiddleware`` answers ``GET /docs.json`` (BentoML's address for it) and ``GET /openapi.json``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketops.data.catalogue import NAME_PATTERN
from ticketops.schemas import (
    CategoryRequest,
    ClassifyRequest,
    ClassifyResponse,
    FeedbackRequest,
    FeedbackResponse,
)
from ticketops.serving import api_schemas as out
from ticketops.settings import ServiceSettings

REF = "#/components/schemas/{model}"
DOC_PATHS = ("/docs.json", "/openapi.json")
AUTH_ERRORS = {401: "missing or unknown bearer token", 403: "the caller's role may not call this route"}
WORK_ERRORS = {
    429: "too many requests in flight; retry after `Retry-After`",
    503: "not ready (model loading) or shutting down",
    504: "no answer within the request deadline",
}
BODY_ERRORS = {
    400: "not UTF-8 JSON, text with nothing visible, or an id given twice",
    413: "body, ticket count or a text over its limit",
    415: "the body is not declared JSON",
    422: "does not match the request schema",
}
QUERY_ERRORS = {422: "a query parameter is out of range"}

MODELS: list[type[BaseModel]] = [
    ClassifyRequest,
    ClassifyResponse,
    FeedbackRequest,
    FeedbackResponse,
    CategoryRequest,
    out.ErrorBody,
    out.ReviewQueue,
    out.AdjudicationList,
    out.AuditList,
    out.LabelCatalogue,
    out.CategoryAdded,
    out.WhoAmI,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*groups: dict[int, str]) -> dict[str, Any]:
    merged = {code: text for group in groups for code, text in group.items()}
    return {str(code): _json(_ref(out.ErrorBody), text) for code, text in sorted(merged.items())}


def _limit_param(default: int, maximum: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}
    return {"name": "limit", "in": "query", "required": False, "schema": schema}


def _operation(summary: str, ok: type[BaseModel], *, body: type[BaseModel] | None = None, **extra: Any) -> dict:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {
            "200": _json(_ref(ok), "OK"),
            **_errors(AUTH_ERRORS, WORK_ERRORS, BODY_ERRORS if body else QUERY_ERRORS),
        },
        **extra,
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def _probe(summary: str) -> dict[str, Any]:
    plain = {"text/plain": {"schema": {"type": "string"}}}
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK", "content": plain}}}}


def _components(settings: ServiceSettings) -> dict[str, Any]:
    _, defs = models_json_schema([(model, "serialization") for model in MODELS], ref_template=REF)
    schemas = defs["$defs"]
    # Requests are validated in their input form: take those (they differ where defaults exist).
    for model in (ClassifyRequest, FeedbackRequest, CategoryRequest):
        _, request_defs = models_json_schema([(model, "validation")], ref_template=REF)
        schemas.update(request_defs["$defs"])
    ticket_text = schemas["Ticket"]["properties"]["text"]
    ticket_text.update(minLength=1, maxLength=settings.max_text_chars)
    schemas["ClassifyRequest"]["properties"]["tickets"]["maxItems"] = settings.max_tickets
    schemas["FeedbackRequest"]["properties"]["items"]["maxItems"] = settings.max_tickets
    schemas["CategoryRequest"]["properties"]["name"]["pattern"] = NAME_PATTERN
    return schemas


def openapi_document(settings: ServiceSettings) -> dict[str, Any]:
    """The whole document for a replica configured by ``settings``."""
    since = {"name": "since", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}}
    paths = {
        "/classify": {
            "post": _operation("Classify tickets", ClassifyResponse, body=ClassifyRequest, tags=["contract"])
        },
        "/feedback": {
            "post": _operation("An agent's true labels", FeedbackResponse, body=FeedbackRequest, tags=["contract"])
        },
        "/review": {
            "get": _operation(
                "Tickets flagged for review that no agent has labelled",
                out.ReviewQueue,
                parameters=[_limit_param(20, 200)],
                tags=["people"],
            )
        },
        "/adjudication": {
            "get": _operation(
                "Tickets whose agents disagree",
                out.AdjudicationList,
                parameters=[_limit_param(20, 200)],
                tags=["people"],
            )
        },
        "/audit": {
            "get": _operation(
                "The audit trail, newest first",
                out.AuditList,
                parameters=[_limit_param(100, 1000), since],
                tags=["people"],
            )
        },
        "/labels": {
            "get": _operation("The label catalogue", out.LabelCatalogue, tags=["people"]),
            "post": _operation("Add a category (admin)", out.CategoryAdded, body=CategoryRequest, tags=["people"]),
        },
        "/whoami": {"get": _operation("The caller's name, role and labels today", out.WhoAmI, tags=["people"])},
        "/livez": _probe("Liveness"),
        "/readyz": _probe("Readiness: 200 once a verified model is loaded"),
        "/metrics": _probe("Prometheus metrics"),
    }
    # 409 exists only where a category is added.
    paths["/labels"]["post"]["responses"]["409"] = _json(_ref(out.ErrorBody), "the category exists")
    paths["/readyz"]["get"]["responses"]["503"] = {"description": "not ready yet"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ticketops", "version": "1", "description": "Support-ticket classifier (ARCHITECTURE.md)."},
        "paths": paths,
        "components": {
            "schemas": _components(settings),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


class OpenAPIMiddleware:
    """Answers ``GET /docs.json`` and ``GET /openapi.json`` with the document; everything else passes on."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings):
        self.app = app
        self.body = json.dumps(openapi_document(settings)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOC_PATHS or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body if scope["method"] == "GET" else b""})
