"""Metrics over true and predicted labels: headline scores, per class, the review threshold, calibration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def headline_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "n": len(y_true),
    }


def accuracy_interval(y_true: Sequence[str], y_pred: Sequence[str], confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the accuracy: a test split of ~1,000 tickets pins it to about +-1.5 points, so a
    goal such as 94.5% is judged against the interval, not the point estimate."""
    from scipy.stats import binomtest

    n = len(y_true)
    if n == 0:
        return (0.0, 1.0)
    hits = int(sum(t == p for t, p in zip(y_true, y_pred, strict=True)))
    ci = binomtest(hits, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def per_class_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> pd.DataFrame:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0
    )
    return pd.DataFrame({"label": labels, "precision": precision, "recall": recall, "f1": f1, "support": support})


def review_threshold(confidence: np.ndarray, correct: np.ndarray, precision_target: float) -> float:
    """The lowest confidence cut at which tickets kept (confidence >= cut) reach ``precision_target``.

    Chosen on the validation split. If no cut reaches the target, every ticket goes to review (returns 1.0+).
    """
    order = np.argsort(-confidence, kind="stable")
    conf_sorted, correct_sorted = confidence[order], correct[order].astype(float)
    kept_precision = np.cumsum(correct_sorted) / np.arange(1, len(order) + 1)
    # A cut must not split tied confidences: only positions where the next confidence is strictly lower.
    boundary = np.append(conf_sorted[1:] < conf_sorted[:-1], True)
    ok = np.flatnonzero((kept_precision >= precision_target) & boundary)
    if len(ok) == 0:
        return float(np.nextafter(1.0, 2.0))
    # Keep the largest prefix whose precision reaches the target.
    return float(conf_sorted[ok[-1]])


def review_stats(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, float]:
    """Review rate and the precision of what is answered automatically, at ``threshold``."""
    kept = confidence >= threshold
    return {
        "review_threshold": float(threshold),
        "review_rate": float(1.0 - kept.mean()) if len(kept) else 0.0,
        "auto_precision": float(correct[kept].mean()) if kept.any() else float("nan"),
        "auto_coverage": float(kept.mean()) if len(kept) else 0.0,
    }


def calibration_table(confidence: np.ndarray, correct: np.ndarray, bins: int) -> pd.DataFrame:
    """Reliability diagram data: per confidence bin, mean confidence, accuracy and count."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append(
            {
                "bin_lower": float(edges[b]),
                "bin_upper": float(edges[b + 1]),
                "confidence": float(confidence[mask].mean()) if mask.any() else float("nan"),
                "accuracy": float(correct[mask].mean()) if mask.any() else float("nan"),
                "count": int(mask.sum()),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(table: pd.DataFrame) -> float:
    filled = table[table["count"] > 0]
    weights = filled["count"] / filled["count"].sum()
    return float((weights * (filled["accuracy"] - filled["confidence"]).abs()).sum())
