"""The batchable inner API: texts in, one result per ticket out (label, confidence, review flag, stage).

This is what the adaptive batcher calls with the merged texts of concurrent requests. A cascade model
(issue 6) fits here unchanged: its cheap stage can answer confident tickets in the request path and send
only the rest through the batcher, each result naming the ``stage`` that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ticketops.modeling.predictor import Predictor

SINGLE_STAGE = "single"


@dataclass(frozen=True, slots=True)
class TicketScore:
    """The model's answer for one ticket."""

    label: str
    confidence: float
    needs_review: bool
    stage: str = SINGLE_STAGE


class Scorer:
    """A loaded predictor behind ``score_batch``; one call = one model invocation over the whole batch."""

    stage = SINGLE_STAGE

    def __init__(self, predictor: Predictor):
        self.predictor = predictor

    @property
    def labels(self) -> list[str]:
        return self.predictor.labels

    def score_batch(self, texts: Sequence[str]) -> list[TicketScore]:
        scored = self.predictor.score(list(texts))
        return [
            TicketScore(label, float(conf), bool(review), self.stage)
            for label, conf, review in zip(scored.labels, scored.confidence, scored.needs_review, strict=True)
        ]
