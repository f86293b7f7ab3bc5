"""The cascade's fast stage for one ticket at a time: a fitted tf-idf model as plain lookup tables.

scikit-learn's ``FeatureUnion.transform`` followed by a sparse x dense product costs several milliseconds per
call whatever the batch size (input checks, joblib, building sparse matrices, and a copy of the head's
transposed weight matrix on every product). A one-ticket request on the event loop cannot afford that at
1,000 requests/s. The same arithmetic done directly on one text's n-grams takes about a tenth of a
millisecond: the vectorizers' own analyzers, vocabularies and idf weights, sublinear tf, the l2 norm per
vectorizer (each block of the union is normalised on its own), then only the head rows of the n-grams found.

``verify`` compares the result with scikit-learn's at load time, so a model this module does not reproduce
exactly never becomes ready.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ticketops.modeling.classifiers import TfidfClassifier
from ticketops.modeling.linear import softmax


class UnsupportedVectorizer(ValueError):
    """The tf-idf configuration is one this module does not reproduce (it would silently disagree)."""


class CompiledMismatch(RuntimeError):
    """The compiled stage disagrees with scikit-learn on a probe text."""


@dataclass(frozen=True)
class _Block:
    """One vectorizer of the union: text -> n-grams -> (column, tf-idf value) with its own l2 norm."""

    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray
    offset: int
    sublinear: bool


def _blocks(vectorizer) -> list[_Block]:
    parts = getattr(vectorizer, "transformer_list", None)
    if parts is None:
        parts = [("tfidf", vectorizer)]
    elif getattr(vectorizer, "transformer_weights", None):
        raise UnsupportedVectorizer("weighted FeatureUnion")
    blocks, offset = [], 0
    for name, vec in parts:
        if not isinstance(vec, TfidfVectorizer):
            raise UnsupportedVectorizer(f"{name}: {type(vec).__name__} is not a TfidfVectorizer")
        if vec.norm != "l2" or not vec.use_idf or vec.binary:
            raise UnsupportedVectorizer(f"{name}: norm={vec.norm!r} use_idf={vec.use_idf} binary={vec.binary}")
        vocabulary = dict(vec.vocabulary_)
        blocks.append(_Block(vec.build_analyzer(), vocabulary, np.asarray(vec.idf_), offset, bool(vec.sublinear_tf)))
        offset += len(vocabulary)
    return blocks


class CompiledTfidf:
    """``predict_proba`` of a :class:`TfidfClassifier` for one text, without scikit-learn's per-call overhead."""

    def __init__(self, classifier: TfidfClassifier):
        self.labels = list(classifier.labels)
        self._blocks = _blocks(classifier.vectorizer)
        width = sum(len(b.vocabulary) for b in self._blocks)
        self._weight_t = classifier.head.weight_t  # (features, labels): one row per n-gram
        if self._weight_t.shape[0] != width:
            expected = self._weight_t.shape[0]
            raise UnsupportedVectorizer(f"head expects {expected} features, the vectorizers make {width}")
        self._bias = np.asarray(classifier.head.bias, dtype=np.float64)

    def _features(self, text: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for block in self._blocks:
            counts = Counter(block.analyzer(text))
            lookup = block.vocabulary.get
            index = np.array([lookup(gram, -1) for gram in counts], dtype=np.int64)
            known = index >= 0
            if not known.any():
                continue
            index = index[known]
            tf = np.array(list(counts.values()), dtype=np.float64)[known]
            if block.sublinear:
                tf = np.log(tf) + 1.0
            value = tf * block.idf[index]
            value /= np.sqrt(value @ value)
            columns.append(index + block.offset)
            values.append(value)
        return columns, values

    def logits(self, text: str) -> np.ndarray:
        columns, values = self._features(text)
        if not columns:
            return self._bias.copy()
        return np.concatenate(values) @ self._weight_t[np.concatenate(columns)] + self._bias

    def proba(self, text: str) -> np.ndarray:
        """Probabilities over ``labels`` for one text (the same as the classifier's, to float rounding)."""
        return softmax(self.logits(text)[None, :])[0]

    def verify(self, classifier: TfidfClassifier, texts: Sequence[str], atol: float = 1e-5) -> float:
        """Largest difference from scikit-learn's probabilities on ``texts``; raises beyond ``atol``."""
        expected = classifier.predict_proba(list(texts))
        got = np.stack([self.proba(t) for t in texts])
        worst = float(np.abs(expected - got).max()) if len(texts) else 0.0
        if worst > atol:
            raise CompiledMismatch(f"compiled tf-idf differs from scikit-learn by {worst:.2e} (> {atol:g})")
        return worst
