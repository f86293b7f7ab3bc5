"""Metrics, the review threshold, behavioural checks (CheckList style) and the promotion gate.

Pure functions over arrays and DataFrames; the evaluate stage writes what they return.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

ProbaFn = Callable[[Sequence[str]], np.ndarray]


def headline_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "n": len(y_true),
    }


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


# --- behavioural checks ---------------------------------------------------------------------------

_KEYBOARD_NEIGHBOURS = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqrtyuiopoadfghjklkxcvbnmn", strict=True)}


def perturb_case(text: str) -> str:
    return text.upper() if text != text.upper() else text.lower()


def perturb_punctuation(text: str) -> str:
    stripped = re.sub(r"[^\w\s']", "", text).strip()
    return stripped + "!!" if stripped else text


def perturb_typo(text: str, rng: random.Random) -> str:
    """One realistic slip in one word of four letters or more: swap, drop or neighbouring key."""
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "neighbour"))
    if kind == "swap":
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind == "drop":
        word = word[:j] + word[j + 1 :]
    else:
        word = word[:j] + _KEYBOARD_NEIGHBOURS.get(word[j].lower(), word[j]) + word[j + 1 :]
    words[i] = word
    return " ".join(words)


@dataclass(frozen=True)
class InvarianceResult:
    name: str
    agreement: float
    n: int
    examples: list[dict[str, str]]


def invariance_checks(
    texts: Sequence[str], predict: Callable[[Sequence[str]], list[str]], seed: int
) -> list[InvarianceResult]:
    """Share of tickets whose predicted label survives casing, punctuation and typo perturbations."""
    rng = random.Random(seed)
    original = predict(texts)
    perturbations = {
        "casing": [perturb_case(t) for t in texts],
        "punctuation": [perturb_punctuation(t) for t in texts],
        "typo": [perturb_typo(t, rng) for t in texts],
    }
    results = []
    for name, changed in perturbations.items():
        after = predict(changed)
        flips = [
            {"perturbed": c, "before": b, "after": a}
            for c, b, a in zip(changed, original, after, strict=True)
            if a != b
        ]
        agreement = 1.0 - len(flips) / len(texts) if texts else 1.0
        results.append(InvarianceResult(name, agreement, len(texts), flips[:5]))
    return results


def min_functionality(cases: pd.DataFrame, predicted: Sequence[str]) -> dict[str, object]:
    """Minimum-functionality test: hand-written tickets whose label is not in doubt."""
    correct = cases["label"].to_numpy() == np.asarray(predicted)
    failures = [
        {"text": t, "expected": e, "predicted": p}
        for t, e, p, ok in zip(cases["text"], cases["label"], predicted, correct, strict=True)
        if not ok
    ]
    return {"accuracy": float(correct.mean()) if len(correct) else 1.0, "n": len(correct), "failures": failures}


# --- promotion gate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version may become challenger (or champion when there is none), and why."""

    passed: bool
    reason: str
    candidate: float
    champion: float | None


def promotion_gate(
    metric: str,
    candidate: float,
    champion: float | None,
    margin: float,
    behaviour_ok: bool,
    behaviour_reason: str = "",
) -> GateDecision:
    if not behaviour_ok:
        return GateDecision(False, f"behavioural checks failed: {behaviour_reason}", candidate, champion)
    if champion is None:
        return GateDecision(True, f"no champion yet; {metric}={candidate:.4f}", candidate, None)
    needed = champion + margin
    if candidate >= needed:
        return GateDecision(
            True, f"{metric} {candidate:.4f} beats champion {champion:.4f} by >= {margin:.4f}", candidate, champion
        )
    return GateDecision(
        False,
        f"{metric} {candidate:.4f} does not beat champion {champion:.4f} by the margin {margin:.4f} "
        f"(needs >= {needed:.4f})",
        candidate,
        champion,
    )


# --- whole evaluation of one classifier -----------------------------------------------------------


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


def _score(proba_fn: ProbaFn, labels: Sequence[str], texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    proba = proba_fn(texts)
    best = proba.argmax(axis=1)
    return [labels[i] for i in best], proba[np.arange(len(best)), best]


def evaluate_classifier(
    proba_fn: ProbaFn,
    labels: Sequence[str],
    validation: pd.DataFrame,
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
) -> Evaluation:
    """Threshold on validation; metrics, calibration and behaviour on test; the reference sample from validation."""
    val_pred, val_conf = _score(proba_fn, labels, validation["text"].tolist())
    val_correct = np.asarray(val_pred) == validation["label"].to_numpy()
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
            **review,
            "ece": expected_calibration_error(calibration),
        },
        "validation": {
            **headline_metrics(validation["label"], val_pred),
            **review_stats(val_conf, val_correct, threshold),
        },
        "behaviour": {
            **{f"invariance_{r.name}": r.agreement for r in invariance},
            "min_functionality_accuracy": mft["accuracy"],
            "passed": behaviour_ok,
        },
    }
    reference = validation.assign(predicted=val_pred, confidence=val_conf, needs_review=val_conf < threshold)
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
    )


def cascade_metrics(cascade, texts: Sequence[str], y_true: Sequence[str]) -> dict[str, float]:
    """Share of tickets each stage answers, accuracy per stage, and the slow model alone for comparison."""
    proba, answered = cascade.predict_proba_with_stage(texts)
    labels = np.asarray(cascade.labels)
    truth = np.asarray(y_true)
    correct = labels[proba.argmax(axis=1)] == truth
    slow_alone = labels[cascade.slow.predict_proba(texts).argmax(axis=1)] == truth
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
