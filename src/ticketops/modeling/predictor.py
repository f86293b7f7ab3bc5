"""Predictor: a verified model folder turned into labels, confidences and review decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ticketops.fileio import read_json
from ticketops.modeling.artifacts import CHECKSUMS_FILE, verify_checksums
from ticketops.modeling.classifiers import Classifier, EncoderClassifier, load_classifier

SERVING_FILE = "serving.json"


def top1(labels: Sequence[str], proba: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Each row's most probable label and its probability: the decision before a review threshold exists.

    ``proba`` is (tickets, labels); evaluation picks the review threshold from these confidences.
    """
    best = proba.argmax(axis=1)
    return [labels[i] for i in best.tolist()], proba[np.arange(len(best)), best]


def needs_review(confidence: np.ndarray, review_threshold: float) -> np.ndarray:
    """Tickets an agent should check: confidence below the review threshold chosen on validation."""
    return confidence < review_threshold


@dataclass(frozen=True)
class Scored:
    """Predictions for a batch of texts, as arrays (the serving path builds responses from these)."""

    labels: list[str]
    confidence: np.ndarray
    needs_review: np.ndarray


class Predictor:
    """A classifier plus the review threshold chosen for it on the validation split."""

    def __init__(self, classifier: Classifier, review_threshold: float):
        if not 0.0 < review_threshold < 1.0:  # 0 sends nothing to review, 1 everything: neither is a threshold
            raise ValueError(f"review_threshold must be in (0, 1), got {review_threshold!r}")
        self.classifier = classifier
        self.review_threshold = review_threshold

    @classmethod
    def from_folder(
        cls, folder: Path, threads: int = 2, verify: bool = True, encoder_backend: str = "auto"
    ) -> Predictor:
        """Load a registered package folder; with ``verify``, its files must match its own manifest first.

        ``encoder_backend`` (modeling/encoder_choice.py): ``auto`` runs the artifact's ONNX graph when it has one."""
        folder = Path(folder)
        if verify:
            verify_checksums(folder, read_json(folder / CHECKSUMS_FILE))
        serving = read_json(folder / SERVING_FILE) if (folder / SERVING_FILE).exists() else {}
        classifier = load_classifier(folder, threads=threads, encoder_backend=encoder_backend)
        return cls(classifier, float(serving.get("review_threshold", 0.5)))

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def decide(self, proba: np.ndarray) -> Scored:
        """The answer for each row of ``proba`` (tickets, labels): top label, its probability, and whether an
        agent should review it (confidence below the review threshold). Every scoring path goes through here."""
        labels, confidence = top1(self.labels, proba)
        return Scored(labels, confidence, needs_review(confidence, self.review_threshold))

    def score(self, texts: Sequence[str]) -> Scored:
        return self.decide(self.classifier.predict_proba(texts))

    def predict_frame(self, texts: Sequence[str]) -> pd.DataFrame:
        scored = self.score(texts)
        return pd.DataFrame(
            {"label": scored.labels, "confidence": scored.confidence.astype(float), "needs_review": scored.needs_review}
        )


def encoder_parts(classifier: Classifier) -> list[EncoderClassifier]:
    """The parts of ``classifier`` that run a sentence encoder: itself, or a cascade's slow stage."""
    parts = (classifier, getattr(classifier, "slow", None))
    return [part for part in parts if isinstance(part, EncoderClassifier)]


def set_encoder_batch_size(predictor: Predictor, size: int) -> None:
    """Sentences per encoder mini-batch inside one model call (the model's own encoder, or a cascade's slow one).

    The encoder sorts a call's texts by length and pads each mini-batch to its longest text; a batch of 64
    support tickets (5 to 50 tokens) padded as one block wastes over half the encoder's work. Mini-batches of
    16 gave the same embeddings (to 1e-7) for 35-45% less CPU per ticket on the test split. The service and
    ``ticketops predict`` both set it from ``TICKETOPS_ENCODER_BATCH_SIZE``.
    """
    for part in encoder_parts(predictor.classifier):
        part.encoder_batch_size = size
