"""JSON error responses: a code, a message and the offending fields — never the ticket text.

Every 4xx/5xx the service produces has the same shape, so clients and tests can rely on it::

    {"error": "validation_error", "message": "...", "fields": [{"field": "tickets.0.text", "message": "..."}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

MAX_FIELD_CHARS = 64  # field names come from the client's JSON keys: keep them short in replies


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str
    type: str = "invalid"
    limit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field[:MAX_FIELD_CHARS], "message": self.message, "type": self.type}
        if self.limit is not None:
            out["limit"] = self.limit
        return out


@dataclass
class ApiError(Exception):
    """An error the client can act on; rendered by ``response()``."""

    status: int
    code: str
    message: str
    fields: Sequence[FieldProblem] = field(default_factory=tuple)
    headers: dict[str, str] | None = None

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.fields, self.headers)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Iterable[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    problems = [problem.as_dict() for problem in fields]
    if problems:
        body["fields"] = problems
    return JSONResponse(body, status_code=status, headers=headers)


def field_path(loc: Iterable[str | int]) -> str:
    """Pydantic's location tuple as ``tickets.0.text`` (``body`` for the document itself)."""
    return ".".join(str(part) for part in loc) or "body"
