"""A cascade's routing threshold: how sure the fast stage must be to answer a ticket itself."""

from __future__ import annotations

import numpy as np


def cascade_threshold(
    fast_proba: np.ndarray, slow_proba: np.ndarray, y: np.ndarray, tolerance: float
) -> tuple[float, dict[str, float]]:
    """The lowest routing threshold whose cascade accuracy stays within ``tolerance`` of the slow stage alone.

    Lower thresholds let the fast stage answer more; the search runs over the fast stage's own confidences
    (on the validation split, never test), so every candidate is a real cut point.
    """
    fast_conf = fast_proba.max(axis=1)
    fast_right = fast_proba.argmax(axis=1) == y
    slow_right = slow_proba.argmax(axis=1) == y
    slow_accuracy = float(slow_right.mean())
    order = np.argsort(-fast_conf, kind="stable")
    # If the k most confident go to the fast stage: right = fast_right on them + slow_right on the rest.
    right_fast_prefix = np.concatenate([[0], np.cumsum(fast_right[order])])
    right_slow_suffix = np.concatenate([np.cumsum(slow_right[order][::-1])[::-1], [0]])
    accuracy = (right_fast_prefix + right_slow_suffix) / len(y)
    conf_sorted = fast_conf[order]
    candidates = [0] + [k for k in range(1, len(y) + 1) if k == len(y) or conf_sorted[k] < conf_sorted[k - 1]]
    best_k = max((k for k in candidates if accuracy[k] >= slow_accuracy - tolerance), default=0)
    threshold = float(conf_sorted[best_k - 1]) if best_k > 0 else float(np.nextafter(1.0, 2.0))
    return threshold, {
        "slow_accuracy": slow_accuracy,
        "cascade_accuracy": float(accuracy[best_k]),
        "fast_share": best_k / len(y),
    }
