"""Why the model said what it said, for the agent who reviews a ticket.

Two reasons an agent can check at a glance:

* the top terms: the word n-grams of the ticket whose tf-idf weight times the predicted label's weight in the
  linear head pushed hardest toward that label (the model's own numbers; the tf-idf part of a hybrid or the
  fast stage of a cascade). Models without a tf-idf block get none.
* similar labelled tickets: the nearest labelled training tickets by word tf-idf cosine (the training split
  when the service runs in a checkout, otherwise the model package's labelled reference sample), redacted.

Built lazily on the first review request: the service's hot path never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ticketops.serving.redaction import redact

WORD_PREFIX = "word__"  # FeatureUnion's prefix of the word n-gram block (modeling/tfidf.py)


@dataclass(frozen=True)
class TermView:
    """The tf-idf block of a linear model: vectorizer, the head's weights for it, feature names."""

    vectorizer: object
    weight: np.ndarray  # (n_labels, n_tfidf_features)
    labels: list[str]
    names: np.ndarray
    word_mask: np.ndarray


def term_view(classifier) -> TermView | None:
    """The tf-idf block of ``classifier`` (tfidf, hybrid with tf-idf, a cascade's fast stage), or None."""
    model = getattr(classifier, "fast", classifier)
    vectorizer = getattr(model, "vectorizer", None)
    head = getattr(model, "head", None)
    if vectorizer is None or head is None:
        return None
    names = np.asarray(vectorizer.get_feature_names_out())
    word = np.char.startswith(names.astype(str), WORD_PREFIX)
    if not word.any():
        word = np.ones(len(names), dtype=bool)
    return TermView(vectorizer, np.asarray(head.weight[:, : len(names)]), list(model.labels), names, word)


def top_terms(view: TermView, text: str, label: str, k: int = 5) -> list[dict]:
    """The ``k`` word features of ``text`` that contributed most to ``label`` (positive contributions only)."""
    if label not in view.labels:
        return []
    row = view.vectorizer.transform([text]).tocsr()
    index, values = row.indices, row.data
    keep = view.word_mask[index]
    index, values = index[keep], values[keep]
    contribution = values * view.weight[view.labels.index(label), index]
    order = np.argsort(-contribution)[:k]
    return [
        {"term": str(view.names[index[i]]).removeprefix(WORD_PREFIX), "weight": round(float(contribution[i]), 4)}
        for i in order
        if contribution[i] > 0
    ]


class SimilarTickets:
    """Nearest labelled tickets by word (1-2 gram) tf-idf cosine."""

    def __init__(self, examples: pd.DataFrame):
        from sklearn.feature_extraction.text import TfidfVectorizer

        examples = examples[examples["text"].astype(str).str.strip().ne("")].reset_index(drop=True)
        self.texts = examples["text"].astype(str).tolist()
        self.labels = examples["label"].astype(str).tolist()
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(self.texts) if self.texts else None

    def nearest(self, text: str, k: int = 3) -> list[dict]:
        if self.matrix is None:
            return []
        scores = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
        order = np.argsort(-scores)[:k]
        return [
            {"text": redact(self.texts[i]), "label": self.labels[i], "similarity": round(float(scores[i]), 3)}
            for i in order
            if scores[i] > 0
        ]


class ReasonEngine:
    """Top terms and similar tickets for a ticket, from one served model and its labelled examples."""

    def __init__(self, classifier, examples: pd.DataFrame, source: str):
        self.view = term_view(classifier)
        self.similar = SimilarTickets(examples)
        self.source = source  # where the similar tickets come from (shown to the agent)

    def explain(self, text: str, label: str, k_terms: int = 5, k_similar: int = 3) -> dict:
        return {
            "top_terms": top_terms(self.view, text, label, k_terms) if self.view is not None else [],
            "similar": self.similar.nearest(text, k_similar),
            "similar_from": self.source,
        }

    def explain_all(self, items: Sequence[tuple[str, str]]) -> list[dict]:
        return [self.explain(text, label) for text, label in items]
