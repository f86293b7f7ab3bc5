"""Review reasons on a real tiny tf-idf model: the top terms are the ticket's own words that pushed toward the label."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers.tiny_model import build_package, tiny_frame
from ticketops.modeling.predictor import Predictor
from ticketops.serving.reasons import ReasonEngine


def test_top_terms_come_from_the_ticket_and_similar_tickets_are_labelled(tmp_path: Path) -> None:
    predictor = Predictor.from_folder(build_package(tmp_path), threads=1)
    engine = ReasonEngine(predictor.classifier, tiny_frame()[["text", "label"]], "training split")
    text = "my new card has still not arrived"
    label = predictor.score([text]).labels[0]
    reasons = engine.explain(text, label)
    terms = [t["term"] for t in reasons["top_terms"]]
    assert terms and all(set(term.split()) <= set(text.split()) for term in terms)
    weights = [t["weight"] for t in reasons["top_terms"]]
    assert weights == sorted(weights, reverse=True) and weights[-1] > 0
    assert reasons["similar"][0]["label"] == label == "card_arrival"
    assert engine.explain(text, "not-a-label")["top_terms"] == []


def test_similar_tickets_are_redacted() -> None:
    examples = pd.DataFrame({"text": ["write to harriet@example.org about my card"], "label": ["card_arrival"]})
    engine = ReasonEngine(object(), examples, "training split")
    (similar,) = engine.explain("my card", "card_arrival")["similar"]
    assert "harriet@example.org" not in similar["text"] and "[EMAIL]" in similar["text"]
    assert engine.explain("my card", "card_arrival")["top_terms"] == []  # no tf-idf block: no term reasons
