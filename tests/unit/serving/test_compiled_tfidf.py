"""The compiled fast stage gives scikit-learn's probabilities, refuses configurations it cannot reproduce,
and the sliding slow-stage share counts only the most recent tickets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from tests.helpers.tiny_model import tiny_frame, tiny_labels
from ticketops.config import TrainParams
from ticketops.modeling.classifiers import TfidfClassifier
from ticketops.modeling.linear import LinearHead
from ticketops.modeling.training import label_indices, train_classifier
from ticketops.serving.compiled_tfidf import CompiledMismatch, CompiledTfidf, UnsupportedVectorizer
from ticketops.serving.sliding_share import SlidingShare

ODD_TEXTS = [
    "qqqq zzzz",  # no known word; a few known character n-grams at most
    "!!!",
    "Ünïcödé çàrd — 💳 arrived?",
    "card " * 300,  # repeated n-grams: sublinear tf matters
    "PIN pin Pin pIn",
]


@pytest.fixture(scope="module")
def classifier() -> TfidfClassifier:
    frame = tiny_frame()
    model = train_classifier(TrainParams(model="tfidf", threads=1), tiny_labels(), frame, progress=False)
    assert isinstance(model, TfidfClassifier)
    return model


def test_probabilities_match_scikit_learn(classifier):
    compiled = CompiledTfidf(classifier)
    texts = tiny_frame()["text"].tolist() + ODD_TEXTS
    expected = classifier.predict_proba(texts)
    got = np.stack([compiled.proba(t) for t in texts])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert compiled.verify(classifier, texts) < 1e-9


def test_a_text_without_known_n_grams_gets_the_head_bias_alone(classifier):
    compiled = CompiledTfidf(classifier)
    text = "\u2603"  # one character: no word token, no character n-gram of length >= 2 in the vocabulary
    np.testing.assert_allclose(compiled.logits(text), classifier.head.bias, atol=1e-12)
    np.testing.assert_allclose(compiled.proba(text), classifier.predict_proba([text])[0], atol=1e-12)


def test_a_model_that_disagrees_is_refused(classifier):
    compiled = CompiledTfidf(classifier)
    shifted = LinearHead(classifier.head.weight, classifier.head.bias + np.linspace(0, 1, len(classifier.labels)))
    other = TfidfClassifier(classifier.labels, classifier.vectorizer, shifted)
    with pytest.raises(CompiledMismatch):
        compiled.verify(other, tiny_frame()["text"].tolist()[:20])


@pytest.mark.parametrize(
    "options", [{"norm": "l1"}, {"binary": True}, {"use_idf": False}], ids=["l1", "binary", "no-idf"]
)
def test_configurations_it_cannot_reproduce_are_refused(options):
    frame = tiny_frame()
    vectorizer = FeatureUnion([("word", TfidfVectorizer(**options))]).fit(frame["text"])
    y = label_indices(tiny_labels(), frame["label"])
    head = LinearHead.fit(vectorizer.transform(frame["text"]), y, len(tiny_labels()), 1.0, 200, 0)
    with pytest.raises(UnsupportedVectorizer):
        CompiledTfidf(TfidfClassifier(tiny_labels(), vectorizer, head))


def test_sliding_share_forgets_tickets_older_than_the_window():
    window = SlidingShare(4)
    assert window.share is None
    window.extend([True, False])
    assert window.share == 0.5 and len(window) == 2
    window.extend([False, False, False])  # the first True slides out
    assert window.share == 0.0 and len(window) == 4
    window.extend([True] * 3)
    assert window.share == 0.75
