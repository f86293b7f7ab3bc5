"""Fit the model family that ``params.yaml`` names, with its answers on tickets it never saw.

``fit_model`` returns the classifier and its held-out predictions: out-of-fold over train + validation
(``train.heldout: out_of_fold``), or on the validation split with the model fitted on train (``validation``).
Those predictions choose a cascade's routing threshold and an SVM head's temperature here, and the review
threshold and the drift reference in the evaluate stage. The test split is never read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ticketops.config import TrainParams
from ticketops.modeling.classifiers import (
    CascadeClassifier,
    Classifier,
    EncoderClassifier,
    FinetunedClassifier,
    TfidfClassifier,
)
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder import base_encoder_path, load_encoder, set_threads
from ticketops.modeling.features import combine_features
from ticketops.modeling.finetune import finetune_top_layers
from ticketops.modeling.heldout import out_of_fold_logits
from ticketops.modeling.linear import LinearHead, fit_temperature, softmax
from ticketops.modeling.neighbours import NeighbourVote
from ticketops.modeling.predictor import top1
from ticketops.modeling.routing import cascade_threshold
from ticketops.modeling.tfidf import build_vectorizer

logger = logging.getLogger("ticketops.modeling")
M = TypeVar("M", bound=Classifier)


def label_indices(labels: Sequence[str], values: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index[v] for v in values], dtype=np.int64)


@dataclass(frozen=True)
class Tickets:
    """Texts, label indices and (for encoder families) their precomputed embeddings, row-aligned."""

    texts: list[str]
    y: np.ndarray
    embeddings: np.ndarray | None = None

    def rows(self, index: np.ndarray) -> Tickets:
        return Tickets(
            [self.texts[i] for i in index],
            self.y[index],
            None if self.embeddings is None else self.embeddings[index],
        )


@dataclass(frozen=True)
class Trained:
    """A fitted classifier and its answers on tickets the answering model never saw."""

    classifier: Classifier
    heldout: pd.DataFrame | None  # text, label, predicted, confidence (None: no held-out tickets were given)
    heldout_source: str  # how those answers were made, for the model card
    fit_rows: int
    details: dict[str, Any]  # temperature, routing threshold, out-of-fold accuracy: the train summary records them


def train_tfidf(params: TrainParams, labels: Sequence[str], texts: list[str], y: np.ndarray) -> TfidfClassifier:
    vectorizer = build_vectorizer(params.tfidf)
    features = vectorizer.fit_transform(texts)
    head = LinearHead.fit(features, y, len(labels), params.tfidf.C, params.tfidf.max_iter, params.seed)
    return TfidfClassifier(labels, vectorizer, head)


def train_hybrid(
    params: TrainParams,
    labels: Sequence[str],
    texts: list[str],
    y: np.ndarray,
    embeddings: np.ndarray,
    encoder_name: str | None = None,
    load: bool = True,
) -> EncoderClassifier:
    """tf-idf + weighted embeddings under a linear head; ``load=False`` skips loading the encoder (fold models
    only score precomputed embeddings)."""
    p = params.hybrid
    vectorizer = build_vectorizer(params.tfidf).fit(texts)
    features = combine_features(vectorizer, texts, embeddings, p.embedding_weight)
    head = LinearHead.fit(features, y, len(labels), p.C, p.max_iter, params.seed, kind=p.head)
    encoder = load_encoder(base_encoder_path(encoder_name), threads=params.threads) if load else None
    kwargs: dict[str, Any] = {"encoder_name": encoder_name} if encoder_name else {}
    if p.neighbours:
        vectors = np.asarray(embeddings, dtype=np.float32)
        kwargs["vote"] = NeighbourVote(vectors, np.asarray(y), len(labels), p.neighbours, p.neighbour_sharpness)
        kwargs["vote_weight"] = p.neighbour_weight
    return EncoderClassifier(labels, head, encoder, p.embedding_weight, vectorizer, **kwargs)


def train_finetune(
    params: TrainParams, labels: Sequence[str], texts: list[str], y: np.ndarray, progress: bool
) -> FinetunedClassifier:
    p = params.finetune
    encoder = load_encoder(threads=params.threads, max_length=p.max_length)
    _, embeddings = finetune_top_layers(
        encoder,
        texts,
        y,
        len(labels),
        train_layers=p.train_layers,
        epochs=p.epochs,
        batch_size=p.batch_size,
        encoder_lr=p.encoder_lr,
        head_lr=p.head_lr,
        weight_decay=p.weight_decay,
        warmup_fraction=p.warmup_fraction,
        max_length=p.max_length,
        seed=params.seed,
        progress=progress,
    )
    vectorizer = build_vectorizer(params.tfidf).fit(texts) if p.tfidf_blend else None
    features = combine_features(vectorizer, texts, embeddings, p.embedding_weight)
    head = LinearHead.fit(features, y, len(labels), p.C, p.max_iter, params.seed)
    return FinetunedClassifier(labels, head, encoder, p.embedding_weight, vectorizer)


def _fit_scored(
    params: TrainParams,
    n_labels: int,
    fit: Callable[[Tickets], M],
    score: Callable[[M, Tickets], np.ndarray],
    data: Tickets,
    held: Tickets | None,
) -> tuple[M, np.ndarray | None]:
    """The model fitted on ``data`` and held-out logits: out of fold over ``data``, or on ``held``."""
    if params.heldout == "out_of_fold":
        logits = out_of_fold_logits(
            lambda fit_rows, held_rows: score(fit(data.rows(fit_rows)), data.rows(held_rows)),
            data.y,
            n_labels,
            params.folds,
            params.seed,
            jobs=params.threads,
        )
        return fit(data), logits
    model = fit(data)
    return model, (None if held is None else score(model, held))


def _calibrated(head_kind: str, model: EncoderClassifier, logits: np.ndarray | None, y: np.ndarray | None) -> float:
    """The temperature of an SVM head's margins, or of a head mixed with a neighbour vote, from held-out answers
    (1.0 for a logistic head alone: its logits already are log-probabilities)."""
    if head_kind != "svc" and model.vote is None:
        return 1.0
    if logits is None or y is None:
        logger.warning("no held-out tickets to fit a temperature on: raw scores are used as logits (temperature 1)")
        return 1.0
    temperature = fit_temperature(logits, y)
    model.calibrate(temperature)
    return temperature


def _frame(tickets: Tickets, labels: Sequence[str], proba: np.ndarray) -> pd.DataFrame:
    predicted, confidence = top1(labels, proba)
    truth = [labels[i] for i in tickets.y]
    return pd.DataFrame({"text": tickets.texts, "label": truth, "predicted": predicted, "confidence": confidence})


def fit_model(
    params: TrainParams,
    labels: Sequence[str],
    train: pd.DataFrame,
    embeddings: EmbeddingCache | None = None,
    progress: bool = True,
    validation: pd.DataFrame | None = None,
) -> Trained:
    """The family in ``params.model`` and its held-out predictions (see the module docstring)."""
    set_threads(params.threads)
    family, out_of_fold = params.model, params.heldout == "out_of_fold"
    if family not in ("tfidf", "hybrid", "finetune", "cascade"):
        raise ValueError(f"unknown model family {family!r}")
    slow_finetune = family == "finetune" or (family == "cascade" and params.cascade.slow_model == "finetune")
    if out_of_fold and slow_finetune:
        raise ValueError(
            "train.heldout=out_of_fold fine-tunes the encoder once per fold: use train.heldout=validation "
            "with the finetune family (or a cascade over it)"
        )
    needs_embeddings = family == "hybrid" or (family == "cascade" and not slow_finetune)
    if needs_embeddings and embeddings is None:
        raise ValueError(f"the {family} model needs the embed stage's embeddings")
    if family == "cascade" and validation is None and not out_of_fold:
        raise ValueError("the cascade model needs held-out tickets (validation) to choose its routing threshold")
    if params.sample_fraction < 1.0:
        train = train.groupby("label", group_keys=False).sample(frac=params.sample_fraction, random_state=params.seed)
    if out_of_fold and validation is not None:
        fit_frame, held_frame = pd.concat([train, validation], ignore_index=True), None
        source = f"out of fold: {params.folds} folds over train + validation ({len(fit_frame):,} tickets)"
    elif out_of_fold:
        fit_frame, held_frame = train, None
        source = f"out of fold: {params.folds} folds over train ({len(train):,} tickets)"
    else:
        fit_frame, held_frame = train, validation
        source = f"validation split ({len(validation):,} tickets)" if validation is not None else "none"

    def tickets(frame: pd.DataFrame) -> Tickets:
        texts = frame["text"].tolist()
        vectors = embeddings.lookup(texts) if needs_embeddings else None
        return Tickets(texts, label_indices(labels, frame["label"]), vectors)

    data = tickets(fit_frame)
    held = tickets(held_frame) if held_frame is not None else None
    scored = data if out_of_fold else held  # the tickets the held-out logits belong to
    n = len(labels)
    encoder_name = embeddings.encoder if needs_embeddings else None
    details: dict[str, Any] = {}

    def fit_fast(d: Tickets) -> TfidfClassifier:
        return train_tfidf(params, labels, d.texts, d.y)

    def fit_hybrid(d: Tickets) -> EncoderClassifier:
        return train_hybrid(params, labels, d.texts, d.y, d.embeddings, encoder_name, load=False)

    def score_fast(m: TfidfClassifier, d: Tickets) -> np.ndarray:
        return m.logits(d.texts)

    def score_hybrid(m: EncoderClassifier, d: Tickets) -> np.ndarray:
        return m.logits(d.texts, d.embeddings)

    def attach_encoder(m: EncoderClassifier) -> EncoderClassifier:
        m.encoder = load_encoder(base_encoder_path(encoder_name), threads=params.threads)
        return m

    def slow_model() -> tuple[EncoderClassifier, np.ndarray | None]:
        if slow_finetune:
            tuned = train_finetune(params, labels, data.texts, data.y, progress)
            return tuned, (None if held is None else tuned.logits(held.texts))
        model, logits = _fit_scored(params, n, fit_hybrid, score_hybrid, data, held)
        temperature = _calibrated(params.hybrid.head, model, logits, None if scored is None else scored.y)
        details["temperature"] = round(temperature, 4)
        return attach_encoder(model), (None if logits is None else logits * temperature)

    if family == "tfidf":
        classifier, logits = _fit_scored(params, n, fit_fast, score_fast, data, held)
        proba = None if logits is None else softmax(logits)
    elif family in ("hybrid", "finetune"):
        classifier, logits = slow_model()
        proba = None if logits is None else softmax(logits)
    else:
        fast, fast_logits = _fit_scored(params, n, fit_fast, score_fast, data, held)
        slow, slow_logits = slow_model()
        fast_proba, slow_proba = softmax(fast_logits), softmax(slow_logits)
        threshold, routing = cascade_threshold(fast_proba, slow_proba, scored.y, params.cascade.accuracy_tolerance)
        classifier = CascadeClassifier(labels, fast, slow, threshold)
        answered = classifier.route(fast_proba)
        proba = np.where(answered[:, None], fast_proba, slow_proba)
        details.update(
            {"routing_threshold": round(threshold, 6), "heldout_fast_share": round(routing["fast_share"], 4)}
        )
    heldout = None if proba is None else _frame(scored, labels, proba)
    if heldout is not None:
        details["heldout_accuracy"] = round(float((heldout["predicted"] == heldout["label"]).mean()), 4)
    return Trained(classifier, heldout, source, len(fit_frame), details)


def train_classifier(
    params: TrainParams,
    labels: Sequence[str],
    train: pd.DataFrame,
    embeddings: EmbeddingCache | None = None,
    progress: bool = True,
    validation: pd.DataFrame | None = None,
) -> Classifier:
    """The family in ``params.model``, fitted on ``train`` (columns text, label), plus ``validation`` when
    ``params.heldout`` is out_of_fold; a cascade needs held-out tickets to choose its routing threshold."""
    return fit_model(params, labels, train, embeddings, progress, validation).classifier
