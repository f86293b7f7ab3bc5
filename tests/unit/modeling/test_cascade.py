"""Cascade: threshold choice on validation, routing, and one artifact that loads back the same."""

import numpy as np

from tests.helpers.tiny_model import tiny_frame, tiny_labels
from ticketops.config import TrainParams
from ticketops.data.split import split_frame
from ticketops.modeling.classifiers import CascadeClassifier, load_classifier
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder import encode, load_encoder
from ticketops.modeling.routing import cascade_threshold
from ticketops.modeling.training import train_classifier


def one_hot(rows: list[int], n: int, confidence: list[float]) -> np.ndarray:
    proba = np.full((len(rows), n), 0.0)
    for i, (r, c) in enumerate(zip(rows, confidence, strict=True)):
        proba[i] = (1 - c) / (n - 1)
        proba[i, r] = c
    return proba


def test_threshold_is_the_lowest_that_keeps_accuracy():
    y = np.array([0, 1, 2, 0, 1, 2])
    # fast: right and confident on the first three, wrong and unsure on the rest
    fast = one_hot([0, 1, 2, 1, 2, 0], 3, [0.95, 0.9, 0.85, 0.5, 0.45, 0.4])
    slow = one_hot([0, 1, 2, 0, 1, 2], 3, [0.9] * 6)  # always right
    threshold, info = cascade_threshold(fast, slow, y, tolerance=0.0)
    assert threshold == 0.85  # the three confident ones stay with the fast stage, the rest go slow
    assert info["cascade_accuracy"] == 1.0 and info["fast_share"] == 0.5


def test_tolerance_lets_the_fast_stage_answer_more():
    y = np.array([0, 1, 2, 0])
    fast = one_hot([0, 1, 2, 1], 3, [0.9, 0.8, 0.7, 0.6])
    slow = one_hot([0, 1, 2, 0], 3, [0.9] * 4)
    strict, _ = cascade_threshold(fast, slow, y, tolerance=0.0)
    loose, info = cascade_threshold(fast, slow, y, tolerance=0.25)
    assert loose < strict and info["fast_share"] == 1.0


def test_cascade_trains_routes_and_round_trips(tmp_path):
    parts = split_frame(tiny_frame(), seed=3, test_fraction=0.2, validation_fraction=0.2)
    encoder = load_encoder(threads=1)
    texts = [t for part in parts.values() for t in part["text"]]
    cache = EmbeddingCache()
    cache.fill(texts, lambda batch: encode(encoder, batch))
    params = TrainParams(model="cascade", threads=1)
    cascade = train_classifier(
        params, tiny_labels(), parts["train"], cache, progress=False, validation=parts["validation"]
    )
    assert isinstance(cascade, CascadeClassifier)
    test_texts = parts["test"]["text"].tolist()
    proba, answered = cascade.predict_proba_with_stage(test_texts)
    fast_conf = cascade.fast.predict_proba(test_texts).max(axis=1)
    assert np.array_equal(answered, fast_conf >= cascade.threshold)
    cascade.save(tmp_path / "model")
    loaded = load_classifier(tmp_path / "model", threads=1)
    assert isinstance(loaded, CascadeClassifier) and loaded.threshold == cascade.threshold
    np.testing.assert_allclose(loaded.predict_proba(test_texts), proba, atol=1e-5)
