"""Shared record types: the same Ticket, Prediction and Feedback in training, serving and monitoring."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain null bytes")
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value


class Ticket(_Strict):
    """One incoming support ticket."""

    text: str = Field(description="The customer's message.")
    id: str | None = Field(default=None, max_length=128, description="Caller's ticket id, echoed back.")

    _text_ok = field_validator("text")(_check_text)


class Prediction(_Strict):
    """What the model says about one ticket; ``needs_review`` routes uncertain tickets to a person."""

    id: str | None = None
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    needs_review: bool


class ClassifyRequest(_Strict):
    tickets: list[Ticket] = Field(min_length=1)


class ClassifyResponse(_Strict):
    model_version: str
    predictions: list[Prediction]


class FeedbackItem(_Strict):
    """An agent's true label for a ticket that was classified earlier."""

    id: str = Field(min_length=1, max_length=128)
    text: str | None = None
    label: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _text_ok(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value)


class FeedbackRequest(_Strict):
    items: list[FeedbackItem] = Field(min_length=1)


class LabelResult(_Strict):
    id: str
    status: str  # labelled | agreed | relabelled | disputed | adjudicated


class FeedbackResponse(_Strict):
    accepted: int
    matched: int
    disputed: int = 0
    results: list[LabelResult] = Field(default_factory=list)


class CategoryRequest(_Strict):
    """An admin's new category for the label catalogue."""

    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=500)
