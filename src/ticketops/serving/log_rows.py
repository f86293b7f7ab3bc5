"""The prediction log's row types: what a request hands the log, and what a feedback label joins to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogRow:
    """One classified ticket; the log's ``scrub`` turns it into what is stored (redacted text, stored id)."""

    ticket_id: str
    text: str
    label: str
    confidence: float
    needs_review: bool
    model_version: str
    stage: str
    latency_ms: float
    created_at: float
    row_key: str = field(default_factory=lambda: uuid.uuid4().hex)  # stored once, however often it is retried
