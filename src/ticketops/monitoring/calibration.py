"""Choose each signal's threshold from steady windows: tickets drawn like the reference, with no drift at all.

Scores are first put in the unit params.yaml stores (spreads for the AUC, the MMD and the accuracy drop,
plain p-values for the tests), then the threshold is the most extreme steady value rounded outward: with N
steady windows, a fresh steady window passes it with probability about 1 / (N + 1) per signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from ticketops.monitoring.signals import SignalResult
from ticketops.monitoring.thresholds import accuracy_spread, auc_spread, mmd_scale


def standard_score(result: SignalResult) -> float | None:
    """The signal's score in its params.yaml unit (None without enough data)."""
    if not result.enough_data or result.score is None:
        return None
    if result.name == "text":
        return (result.score - 0.5) / auc_spread(result.n_reference, result.n_current)
    if result.name == "embedding":
        return result.score / mmd_scale(result.n_reference, result.n_current)
    if result.name == "live_accuracy":
        ref = result.reference_value if result.reference_value is not None else 0.9
        return result.score / accuracy_spread(ref, result.n_reference, result.n_current)
    return result.score


def _round_outward(value: float, higher_is_drift: bool) -> float:
    """Up to the next 0.1 for spreads; down to a power of ten for p-values."""
    if higher_is_drift:
        return math.ceil(value * 10 + 1e-9) / 10
    if value <= 0:
        return 1e-12
    return 10 ** math.floor(math.log10(value))


def choose_thresholds(
    scores: Mapping[str, Iterable[float]], higher_is_drift: Mapping[str, bool]
) -> dict[str, dict[str, float]]:
    """Per signal: how many steady windows, their extreme and quantiles, and the threshold they give."""
    chosen: dict[str, dict[str, float]] = {}
    for name, values in scores.items():
        v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
        if len(v) == 0:
            continue
        higher = higher_is_drift[name]
        extreme = float(v.max() if higher else v.min())
        chosen[name] = {
            "windows": len(v),
            "extreme": extreme,
            "q01": float(np.quantile(v, 0.01)),
            "q50": float(np.quantile(v, 0.5)),
            "q99": float(np.quantile(v, 0.99)),
            "threshold": _round_outward(extreme, higher),
        }
    return chosen
