"""A cascade in the service: the fast stage answers in the request path, only unsure tickets wait for the encoder.

Most tickets are easy; the tf-idf stage answers them in a fraction of a millisecond without leaving the
request handler, so they never queue behind encoder calls. Tickets below the routing threshold go to the
adaptive batcher, whose batch function here is the slow stage alone (``score_slow``): encoder batches hold
only the tickets that need it. The answers (label, confidence, review flag) are the cascade's own, stage by
stage, so the response contract and the prediction log do not change; each answer names its stage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketops.fileio import read_csv
from ticketops.modeling.artifacts import REFERENCE_FILE
from ticketops.modeling.classifiers import CascadeClassifier
from ticketops.modeling.predictor import Predictor
from ticketops.serving.compiled_tfidf import CompiledTfidf
from ticketops.serving.scoring import TicketScore, ticket_scores

FAST, SLOW = CascadeClassifier.FAST, CascadeClassifier.SLOW
VERIFY_TEXTS = 200  # reference tickets the compiled fast stage is checked on at load

logger = logging.getLogger("ticketops.serving")


def is_cascade(predictor: Predictor) -> bool:
    return isinstance(predictor.classifier, CascadeClassifier)


def reference_texts(folder: Path | None) -> list[str]:
    """Texts of the package's reference sample (validation tickets), or none if the package has no sample."""
    path = Path(folder) / REFERENCE_FILE if folder is not None else None
    if path is None or not path.exists():
        return []
    return [t for t in read_csv(path)["text"].astype(str).tolist() if t.strip()]


class CascadeStages:
    """The two stages of a loaded cascade: routing is the cascade's own, answers are ``Predictor.decide``'s."""

    def __init__(self, predictor: Predictor):
        cascade = predictor.classifier
        if not isinstance(cascade, CascadeClassifier):
            raise TypeError(f"{type(cascade).__name__} is not a cascade")
        self.predictor = predictor
        self.cascade = cascade
        self.threshold = float(cascade.threshold)
        self.fast = CompiledTfidf(cascade.fast)

    def verify(self, texts: Sequence[str]) -> float:
        """The compiled fast stage must agree with the registered model (raises otherwise)."""
        return self.fast.verify(self.cascade.fast, texts)

    def score_fast(self, texts: Sequence[str]) -> list[TicketScore | None]:
        """The fast stage's answer where it is sure (the cascade's routing), None where the slow stage must answer."""
        if not texts:
            return []
        proba = np.array([self.fast.proba(text) for text in texts])  # (tickets, labels); cheaper than np.stack
        scored = self.predictor.decide(proba)
        sure = self.cascade.route(proba).tolist()
        return [
            answer if fast else None
            for answer, fast in zip(ticket_scores(scored, [FAST] * len(sure)), sure, strict=True)
        ]

    def score_slow(self, texts: Sequence[str]) -> list[TicketScore]:
        """The batch function behind the batcher: the slow stage alone, on the tickets the fast one was unsure of."""
        texts = list(texts)
        scored = self.predictor.decide(self.cascade.slow.predict_proba(texts))
        return ticket_scores(scored, [SLOW] * len(texts))

    def slow_share(self, texts: Sequence[str]) -> float | None:
        """Share of ``texts`` the fast stage would pass on (the model's expected slow share on a reference sample)."""
        if not texts:
            return None
        return sum(score is None for score in self.score_fast(texts)) / len(texts)


def served_stages(
    predictor: Predictor, folder: Path | None, warm_up_text: str
) -> tuple[CascadeStages | None, float | None]:
    """For a cascade: its stages, checked against the registered model, and its slow share on the reference."""
    if not is_cascade(predictor):
        return None, None
    stages = CascadeStages(predictor)
    reference = reference_texts(folder)
    stages.verify([warm_up_text, *reference[:VERIFY_TEXTS]])
    share = stages.slow_share(reference)
    logger.info(
        "cascade: fast stage in the request path (routing threshold %.3f), slow share on the reference %s",
        stages.threshold,
        "unknown (no reference sample)" if share is None else f"{share:.1%}",
    )
    return stages, share
