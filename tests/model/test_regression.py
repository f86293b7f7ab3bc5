"""Regression pins: the tiny model's label, confidence and review decision on fixed tickets.

A change to features, the head or training that moves these is a behaviour change: update the pins on
purpose, never to make the test pass. Confidences are pinned to 0.005 (numerics differ a little by BLAS).
"""

from __future__ import annotations

import pytest

PINNED = [
    # (text, label, confidence, needs review at the package's 0.5 threshold)
    ("My card has not arrived yet", "card_arrival", 0.5396, False),
    ("I lost my card", "lost_or_stolen_card", 0.9972, False),
    ("How do I change my PIN?", "change_pin", 0.9895, False),
    ("close my account please", "terminate_account", 0.9812, False),
    ("what exchange rate do you use", "exchange_rate", 0.9958, False),
    ("I want a refund for this purchase", "request_refund", 0.9804, False),
    ("Someone stole my wallet with my card", "lost_or_stolen_card", 0.8916, False),
    ("My card has not arrievd yet", "lost_or_stolen_card", 0.4666, True),  # a typo the model gets wrong
]


def test_the_package_review_threshold(tiny_predictor):
    assert tiny_predictor.review_threshold == 0.5


def test_pinned_predictions(tiny_predictor):
    scored = tiny_predictor.score([text for text, *_ in PINNED])
    got = list(zip(scored.labels, scored.confidence.tolist(), scored.needs_review.tolist(), strict=True))
    for (text, label, confidence, review), (got_label, got_confidence, got_review) in zip(PINNED, got, strict=True):
        assert (got_label, got_review) == (label, review), text
        assert got_confidence == pytest.approx(confidence, abs=0.005), text


def test_a_batch_scores_like_its_tickets_one_by_one(tiny_predictor):
    texts = [text for text, *_ in PINNED]
    batch = tiny_predictor.score(texts)
    for i, text in enumerate(texts):
        alone = tiny_predictor.score([text])
        assert alone.labels == [batch.labels[i]]
        assert alone.confidence[0] == pytest.approx(batch.confidence[i], abs=1e-9)
