"""Input limits and request parsing: what a request may contain before it reaches the model.

Order of checks, cheapest first: Content-Type (415), declared body size, streamed body size (413), JSON
well-formedness and UTF-8 (400), schema and types, empty text, null bytes (422), then ticket count and text
length (413), text with nothing visible and duplicate ids (400). Error messages name the field and the limit;
neither the ticket text nor the client's own JSON key names are echoed back (a key can carry PII too).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ticketops.schemas import ClassifyRequest, FeedbackRequest
from ticketops.serving.errors import ApiError, FieldProblem, field_path
from ticketops.serving.textnorm import has_visible_text

M = TypeVar("M", bound=BaseModel)


def check_content_type(request: Request) -> None:
    """415 unless the body is declared JSON (``application/json`` or ``application/*+json``).

    Why: a browser sends ``text/plain`` and form posts cross-site without a CORS preflight, so accepting them
    lets any web page a signed-in agent opens post to the service. A request with no Content-Type at all
    cannot come from such a form and is read as JSON (command-line clients often omit it).
    """
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.partition(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    raise ApiError(
        415,
        "unsupported_media_type",
        "the body must be JSON (Content-Type: application/json)",
        [FieldProblem("Content-Type", "application/json", "unsupported_media_type")],
    )


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
        problems = [_problem(e) for e in errors]
        raise ApiError(422, "validation_error", "request does not match the schema", problems) from None


def _problem(error: dict) -> FieldProblem:
    """An unexpected key is reported at its parent's path: the key itself is the client's text."""
    if error["type"] == "extra_forbidden":
        return FieldProblem(field_path(error["loc"][:-1]), "unexpected field (see the OpenAPI document)", error["type"])
    return FieldProblem(field_path(error["loc"]), error["msg"], error["type"])


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
    """413 on too many tickets or a too long text; 400 on a text with nothing visible or a repeated id."""
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
    _check_visible_and_unique("tickets", [(t.text, t.id) for t in request.tickets])


def check_feedback_content(request: FeedbackRequest) -> None:
    """400 on feedback text with nothing visible or on an id given twice."""
    _check_visible_and_unique("items", [(item.text, item.id) for item in request.items])


def _check_visible_and_unique(name: str, entries: list[tuple[str | None, str | None]]) -> None:
    blank = [i for i, (text, _) in enumerate(entries) if text is not None and not has_visible_text(text)]
    if blank:
        raise ApiError(
            400,
            "empty_text",
            "text has no visible characters (only whitespace or zero-width characters)",
            [FieldProblem(f"{name}.{i}.text", "no visible characters", "empty_text") for i in blank],
        )
    first: dict[str, int] = {}
    repeated: list[int] = []
    for i, (_, ticket_id) in enumerate(entries):
        if ticket_id is None:
            continue
        if ticket_id in first:
            repeated.append(i)
        else:
            first[ticket_id] = i
    if repeated:
        raise ApiError(
            400,
            "duplicate_id",
            "every id may appear once per request",
            [FieldProblem(f"{name}.{i}.id", "same id as an earlier entry", "duplicate_id") for i in repeated],
        )
