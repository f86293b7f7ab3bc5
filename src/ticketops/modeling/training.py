"""Fit the model family that ``params.yaml`` names on the training split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ticketops.config import TrainParams
from ticketops.modeling.classifiers import (
    CascadeClassifier,
    Classifier,
    EncoderClassifier,
    FinetunedClassifier,
    TfidfClassifier,
    combine_features,
)
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder import load_encoder, set_threads
from ticketops.modeling.finetune import finetune_top_layers
from ticketops.modeling.linear import LinearHead
from ticketops.modeling.routing import cascade_threshold
from ticketops.modeling.tfidf import build_vectorizer


def label_indices(labels: Sequence[str], values: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index[v] for v in values], dtype=np.int64)


def train_tfidf(params: TrainParams, labels: Sequence[str], texts: list[str], y: np.ndarray) -> TfidfClassifier:
    vectorizer = build_vectorizer(params.tfidf)
    features = vectorizer.fit_transform(texts)
    head = LinearHead.fit(features, y, len(labels), params.tfidf.C, params.tfidf.max_iter, params.seed)
    return TfidfClassifier(labels, vectorizer, head)


def train_hybrid(
    params: TrainParams, labels: Sequence[str], texts: list[str], y: np.ndarray, embeddings: np.ndarray
) -> EncoderClassifier:
    vectorizer = build_vectorizer(params.tfidf).fit(texts)
    features = combine_features(vectorizer, texts, embeddings, params.hybrid.embedding_weight)
    head = LinearHead.fit(features, y, len(labels), params.hybrid.C, params.hybrid.max_iter, params.seed)
    return EncoderClassifier(
        labels, head, load_encoder(threads=params.threads), params.hybrid.embedding_weight, vectorizer
    )


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


def train_cascade(
    params: TrainParams,
    labels: Sequence[str],
    texts: list[str],
    y: np.ndarray,
    embeddings: EmbeddingCache | None,
    validation: pd.DataFrame,
    progress: bool,
) -> CascadeClassifier:
    """Both stages on train; the routing threshold on validation (never test)."""
    fast = train_tfidf(params, labels, texts, y)
    if params.cascade.slow_model == "hybrid":
        if embeddings is None:
            raise ValueError("a cascade with a hybrid slow stage needs the embed stage's embeddings")
        slow = train_hybrid(params, labels, texts, y, embeddings.lookup(texts))
    else:
        slow = train_finetune(params, labels, texts, y, progress)
    val_texts = validation["text"].tolist()
    val_y = label_indices(labels, validation["label"])
    precomputed = embeddings.lookup(val_texts) if params.cascade.slow_model == "hybrid" else None
    slow_val = slow.predict_proba(val_texts, precomputed)
    tolerance = params.cascade.accuracy_tolerance
    threshold, _ = cascade_threshold(fast.predict_proba(val_texts), slow_val, val_y, tolerance)
    return CascadeClassifier(labels, fast, slow, threshold)


def train_classifier(
    params: TrainParams,
    labels: Sequence[str],
    train: pd.DataFrame,
    embeddings: EmbeddingCache | None = None,
    progress: bool = True,
    validation: pd.DataFrame | None = None,
) -> Classifier:
    """The family in ``params.model``, fitted on ``train`` (columns text, label); a cascade also needs
    ``validation`` to choose its routing threshold."""
    set_threads(params.threads)
    if params.sample_fraction < 1.0:
        train = train.groupby("label", group_keys=False).sample(frac=params.sample_fraction, random_state=params.seed)
    texts = train["text"].tolist()
    y = label_indices(labels, train["label"])
    if params.model == "tfidf":
        return train_tfidf(params, labels, texts, y)
    if params.model == "hybrid":
        if embeddings is None:
            raise ValueError("the hybrid model needs the embed stage's embeddings")
        return train_hybrid(params, labels, texts, y, embeddings.lookup(texts))
    if params.model == "finetune":
        return train_finetune(params, labels, texts, y, progress)
    if params.model == "cascade":
        if validation is None:
            raise ValueError("the cascade model needs the validation split to choose its routing threshold")
        return train_cascade(params, labels, texts, y, embeddings, validation, progress)
    raise ValueError(f"unknown model family {params.model!r}")
