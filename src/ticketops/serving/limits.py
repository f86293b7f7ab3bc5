"""Input limits and request parsing: what a request may contain before it reaches the model.

Order of checks, cheapest first: declared body size, streamed body size (413), JSON well-formedness and
UTF-8 (400), schema and types, empty text, null bytes (422), then ticket count and text length (413).
Error messages name the field and the limit; the ticket text is never echoed back.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ticketops.schemas import ClassifyRequest
from ticketops.serving.errors import ApiError, FieldProblem, field_path

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            problem = FieldProblem("body", "Content-Length is not a number")
            raise ApiError(400, "bad_request", "bad Content-Length header", [problem]) from None
        if size > max_bytes:
            raise _too_large_body(max_bytes)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise _too_large_body(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large_body(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"request body is larger than {max_bytes} bytes",
        [FieldProblem("body", f"at most {max_bytes} bytes", "too_large", max_bytes)],
    )


def parse_json(model: type[M], body: bytes) -> M:
    """Validate ``body`` against ``model``: 400 if it is not UTF-8 JSON, 422 if it does not fit the schema."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise _not_json(body, errors[0]["msg"]) from None
        problems = [FieldProblem(field_path(e["loc"]), e["msg"], e["type"]) for e in errors]
        raise ApiError(422, "validation_error", "request does not match the schema", problems) from None


def _not_json(body: bytes, detail: str) -> ApiError:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ApiError(
            400,
            "invalid_utf8",
            "request body is not valid UTF-8",
            [FieldProblem("body", f"invalid UTF-8 at byte {exc.start}", "invalid_utf8")],
        )
    if not body.strip():
        return ApiError(400, "malformed_json", "request body is empty", [FieldProblem("body", "empty", "json_invalid")])
    # pydantic's message is a position ("… at line 1 column 24"), never the document's content.
    return ApiError(
        400, "malformed_json", "request body is not valid JSON", [FieldProblem("body", detail, "json_invalid")]
    )


def check_classify_limits(request: ClassifyRequest, max_tickets: int, max_text_chars: int) -> None:
    """413 when a request has too many tickets or a ticket is longer than allowed."""
    if len(request.tickets) > max_tickets:
        raise ApiError(
            413,
            "too_many_tickets",
            f"at most {max_tickets} tickets per request",
            [
                FieldProblem(
                    "tickets", f"{len(request.tickets)} tickets, at most {max_tickets}", "too_many", max_tickets
                )
            ],
        )
    long = [i for i, ticket in enumerate(request.tickets) if len(ticket.text) > max_text_chars]
    if long:
        raise ApiError(
            413,
            "text_too_long",
            f"ticket text longer than {max_text_chars} characters",
            [
                FieldProblem(f"tickets.{i}.text", f"at most {max_text_chars} characters", "too_long", max_text_chars)
                for i in long
            ],
        )
