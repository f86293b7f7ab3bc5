"""One classifier evaluated as the evaluate stage needs it: threshold, metrics, behaviour, the reference sample.

Pure functions over arrays and DataFrames; the evaluate stage writes what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ticketops.evaluation.behaviour import invariance_checks, min_functionality
from ticketops.evaluation.metrics import (
    accuracy_interval,
    calibration_table,
    expected_calibration_error,
    headline_metrics,
    per_class_metrics,
    review_stats,
    review_threshold,
)
from ticketops.modeling.predictor import needs_review, top1

ProbaFn = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Evaluation:
    """Everything the evaluate stage writes: metrics, tables for plots, the threshold, the reference sample."""

    metrics: dict[str, object]
    per_class: pd.DataFrame
    calibration: pd.DataFrame
    test_predictions: pd.DataFrame
    reference: pd.DataFrame
    behaviour: dict[str, object]
    review_threshold: float
    reference_source: str = "the held-out answers"


def _score(proba_fn: ProbaFn, labels: Sequence[str], texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    return top1(labels, proba_fn(texts))


def evaluate_classifier(
    proba_fn: ProbaFn,
    labels: Sequence[str],
    heldout: pd.DataFrame,
    test: pd.DataFrame,
    mft_cases: pd.DataFrame,
    *,
    precision_target: float,
    calibration_bins: int,
    invariance_min_agreement: Mapping[str, float],
    mft_min_accuracy: float,
    reference_size: int,
    seed: int,
    invariance_sample: int = 500,
    reference_labels: Collection[str] | None = None,
) -> Evaluation:
    """Threshold from ``heldout`` (text, label, predicted, confidence: the train stage's answers on tickets the
    answering model never saw); metrics, calibration and behaviour on test.

    The drift reference must be this model's own answers on unseen tickets, or live traffic drifts from it on
    day one: ``heldout`` when one model made all of them (a validation split), else (``reference_labels`` given:
    out-of-fold answers came from fold models, less sure than the final one) the test tickets of the labels the
    model was trained on. The test split only describes the model there; nothing is chosen on it."""
    val_pred = heldout["predicted"].tolist()
    val_conf = heldout["confidence"].astype(float).to_numpy()
    val_correct = np.asarray(val_pred) == heldout["label"].to_numpy()
    threshold = review_threshold(val_conf, val_correct, precision_target)

    test_pred, test_conf = _score(proba_fn, labels, test["text"].tolist())
    test_correct = np.asarray(test_pred) == test["label"].to_numpy()
    calibration = calibration_table(test_conf, test_correct, calibration_bins)
    review = review_stats(test_conf, test_correct, threshold)

    def predict(texts: Sequence[str]) -> list[str]:
        return _score(proba_fn, labels, texts)[0]

    sample = test.sample(n=min(invariance_sample, len(test)), random_state=seed)["text"].tolist()
    invariance = invariance_checks(sample, predict, seed)
    mft = min_functionality(mft_cases, predict(mft_cases["text"].tolist()))
    failing = [r.name for r in invariance if r.agreement < invariance_min_agreement[r.name]]
    behaviour_ok = not failing and mft["accuracy"] >= mft_min_accuracy
    reasons = [f"invariance to {name} below {invariance_min_agreement[name]}" for name in failing]
    if mft["accuracy"] < mft_min_accuracy:
        reasons.append(f"minimum functionality {mft['accuracy']:.3f} < {mft_min_accuracy}")

    metrics: dict[str, object] = {
        "test": {
            **headline_metrics(test["label"], test_pred),
            "accuracy_ci95": [round(b, 4) for b in accuracy_interval(test["label"].tolist(), test_pred)],
            **review,
            "ece": expected_calibration_error(calibration),
        },
        "heldout": {
            **headline_metrics(heldout["label"], val_pred),
            **review_stats(val_conf, val_correct, threshold),
        },
        "behaviour": {
            **{f"invariance_{r.name}": r.agreement for r in invariance},
            "min_functionality_accuracy": mft["accuracy"],
            "passed": behaviour_ok,
        },
    }
    if reference_labels is None:
        reference = heldout.assign(confidence=val_conf, needs_review=needs_review(val_conf, threshold))
    else:
        reference = test.assign(predicted=test_pred, confidence=test_conf)[test["label"].isin(set(reference_labels))]
        reference = reference.assign(needs_review=needs_review(reference["confidence"].to_numpy(), threshold))
    if len(reference) > reference_size:
        reference = reference.sample(n=reference_size, random_state=seed)
    return Evaluation(
        metrics=metrics,
        per_class=per_class_metrics(test["label"], test_pred, labels),
        calibration=calibration,
        test_predictions=test.assign(predicted=test_pred, confidence=test_conf)[
            ["text", "label", "predicted", "confidence"]
        ],
        reference=reference[["text", "label", "predicted", "confidence", "needs_review"]].reset_index(drop=True),
        behaviour={
            "passed": behaviour_ok,
            "reasons": reasons,
            "invariance": [r.__dict__ for r in invariance],
            "min_functionality": mft,
        },
        review_threshold=threshold,
        reference_source=(
            "the held-out answers"
            if reference_labels is None
            else "this model's answers on the test tickets of the intents it was trained on"
        ),
    )


def cascade_metrics(cascade, texts: Sequence[str], y_true: Sequence[str]) -> dict[str, float]:
    """Share of tickets each stage answers, accuracy per stage, and the slow model alone for comparison."""
    proba, answered = cascade.predict_proba_with_stage(texts)
    truth = np.asarray(y_true)
    correct = np.asarray(top1(cascade.labels, proba)[0]) == truth
    slow_alone = np.asarray(top1(cascade.labels, cascade.slow.predict_proba(texts))[0]) == truth
    fast_share = float(answered.mean()) if len(answered) else 0.0
    return {
        "threshold": float(cascade.threshold),
        "fast_share": fast_share,
        "slow_share": 1.0 - fast_share,
        "fast_stage_accuracy": float(correct[answered].mean()) if answered.any() else float("nan"),
        "slow_stage_accuracy": float(correct[~answered].mean()) if (~answered).any() else float("nan"),
        "cascade_accuracy": float(correct.mean()),
        "slow_model_accuracy": float(slow_alone.mean()),
    }
