"""The batchable inner API: texts in, one result per ticket out (label, confidence, review flag, stage).

This is what the adaptive batcher calls with the merged texts of concurrent requests. Results name the
``stage`` that produced them: ``single`` for one-model families; a cascade reports ``fast`` (tf-idf was
sure) or ``slow`` (the encoder answered). The service runs a cascade's stages apart (serving/cascade.py:
fast stage in the request path, only unsure tickets batched); ``score_batch`` stays the whole model in one
call, for in-process use (benchmarks) and every other family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ticketops.modeling.predictor import Predictor, Scored

SINGLE_STAGE = "single"


@dataclass(frozen=True, slots=True)
class TicketScore:
    """The model's answer for one ticket."""

    label: str
    confidence: float
    needs_review: bool
    stage: str = SINGLE_STAGE


def ticket_scores(scored: Scored, stages: Sequence[str]) -> list[TicketScore]:
    """One answer per ticket of ``scored`` (Predictor.decide), each naming the stage that produced it."""
    return [
        TicketScore(label, confidence, review, stage)
        for label, confidence, review, stage in zip(
            scored.labels, scored.confidence.tolist(), scored.needs_review.tolist(), stages, strict=True
        )
    ]


class Scorer:
    """A loaded predictor behind ``score_batch``; one call = one model invocation over the whole batch."""

    stage = SINGLE_STAGE

    def __init__(self, predictor: Predictor):
        self.predictor = predictor

    @property
    def labels(self) -> list[str]:
        return self.predictor.labels

    def score_batch(self, texts: Sequence[str]) -> list[TicketScore]:
        texts = list(texts)
        classifier = self.predictor.classifier
        if hasattr(classifier, "predict_proba_with_stage"):  # cascade: name the stage that answered each ticket
            proba, answered = classifier.predict_proba_with_stage(texts)
            stages = [classifier.FAST if fast else classifier.SLOW for fast in answered]
        else:
            proba, stages = classifier.predict_proba(texts), [self.stage] * len(texts)
        return ticket_scores(self.predictor.decide(proba), stages)
