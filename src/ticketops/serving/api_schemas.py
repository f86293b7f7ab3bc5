"""Response bodies of the service's routes beyond the shared records in ``ticketops.schemas``.

They exist for the OpenAPI document (serving/openapi.py), which a fuzzer checks every response against, so
each one describes exactly what the route returns: a field added to a route without its model here makes
the schema test fail.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ticketops.serving.auth import Role


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldError(_Closed):
    field: str = Field(description="Where in the request: `tickets.0.text`, `body`, a header name.")
    message: str
    type: str
    limit: int | None = None


class ErrorBody(_Closed):
    """Every 4xx/5xx: a code, a message and the offending fields; never the ticket text or a client's keys."""

    error: str
    message: str
    fields: list[FieldError] | None = None


class ReviewItem(_Closed):
    id: str
    text: str = Field(description="As stored: redacted.")
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    model_version: str
    received_at: str
    needs_review: bool
    reasons: dict[str, Any]


class ReviewQueue(_Closed):
    pending: int = Field(ge=0)
    items: list[ReviewItem]


class AgentLabel(_Closed):
    actor: str
    label: str


class DisputedTicket(_Closed):
    id: str
    text: str
    label: str
    model_version: str
    received_at: str
    labels: list[AgentLabel]


class AdjudicationList(_Closed):
    pending: int = Field(ge=0)
    items: list[DisputedTicket]


class AuditEventOut(_Closed):
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditList(_Closed):
    events: list[AuditEventOut]


class Category(_Closed):
    name: str
    description: str
    served: bool
    added_by: str = ""
    added_at: str = ""


class LabelCatalogue(_Closed):
    version: int
    categories: list[Category]


class CategoryAdded(_Closed):
    name: str
    catalogue_version: int


class WhoAmI(_Closed):
    name: str
    role: Role
    labelled_today: int = Field(ge=0)
