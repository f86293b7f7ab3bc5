"""The monitored model's side of every comparison: its reference sample, embedded once, and its embedder.

The champion alias moves when a rollout promotes; the monitor asks the registry which version the alias points
at before each check (one cheap lookup) and reloads only when it changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ticketops.modeling.classifiers import CascadeClassifier, EncoderClassifier
from ticketops.monitoring.embedding import model_embedder
from ticketops.monitoring.windows import Embedder, Window, reference_window, with_embeddings

logger = logging.getLogger(__name__)
LOCAL = "local"


@dataclass(frozen=True)
class Reference:
    """A model's reference window (with embeddings), the embedder for current windows, and its identity."""

    uri: str
    version: str
    window: Window
    embedder: Embedder
    family: str
    score: object  # texts -> (labels, confidence, needs_review), for CSVs that carry no predictions


def resolve_version(uri: str) -> str:
    """The registry version ``uri`` names right now (``local`` for a package folder)."""
    from ticketops.registry.ref import is_registry_uri, parse_model_uri

    if not is_registry_uri(uri):
        return LOCAL
    from ticketops.registry import store

    return str(store.get_version(store.client(), parse_model_uri(uri)).version)


def load_reference(uri: str, threads: int = 2, embed: bool = True) -> Reference:
    """Open the model, read its stored reference sample (reference.csv) and embed it."""
    from ticketops.fileio import read_csv
    from ticketops.modeling.artifacts import REFERENCE_FILE
    from ticketops.registry.loading import open_model

    with open_model(uri, threads=threads) as model:
        path = model.folder / REFERENCE_FILE if model.folder else None
        if path is None or not path.exists():
            raise FileNotFoundError(f"{uri} (version {model.version}) has no {REFERENCE_FILE}")
        frame: pd.DataFrame = read_csv(path)
        predictor = model.predictor
        version = model.version
    embedder = model_embedder(predictor.classifier, threads=threads)
    window = reference_window(with_stages(frame, predictor.classifier), version)
    if embed:
        window = with_embeddings(window, embedder)

    classifier = predictor.classifier

    def score(texts: list[str]):
        """Labels, confidences, review flags; an encoder model reuses the (cached) embeddings drift needs too."""
        if isinstance(classifier, EncoderClassifier):
            scored = predictor.decide(classifier.predict_proba(texts, embeddings=embedder(texts)))
        else:
            scored = predictor.score(texts)
        return scored.labels, scored.confidence, scored.needs_review

    logger.info("reference of %s (version %s): %d tickets", uri, version, len(window))
    return Reference(uri, version, window, embedder, predictor.classifier.family, score)


def with_stages(reference: pd.DataFrame, classifier: object) -> pd.DataFrame:
    """A cascade's reference sample with the stage that answers each ticket (its fast stage decides: cheap).

    The stored sample predates the stage column; the slow-share signal compares live routing with this one.
    """
    if not isinstance(classifier, CascadeClassifier) or "stage" in reference.columns:
        return reference
    answered = classifier.route(classifier.fast.predict_proba(reference["text"].astype(str).tolist()))
    return reference.assign(stage=np.where(answered, CascadeClassifier.FAST, CascadeClassifier.SLOW))


class ReferenceCache:
    """Keeps one loaded reference and reloads it when the URI's version changes."""

    def __init__(self, uri: str, threads: int = 2):
        self.uri = uri
        self.threads = threads
        self._reference: Reference | None = None

    def get(self) -> Reference:
        version = resolve_version(self.uri)
        if self._reference is None or self._reference.version != version:
            self._reference = load_reference(self.uri, self.threads)
        return self._reference
