"""Size-aware thresholds and the calibration rule."""

from __future__ import annotations

import numpy as np
import pytest

from ticketops.monitoring.calibration import choose_thresholds, standard_score
from ticketops.monitoring.signals import SignalResult
from ticketops.monitoring.thresholds import (
    accuracy_drop_threshold,
    auc_spread,
    auc_threshold,
    mmd_scale,
    mmd_threshold,
)


def test_auc_spread_matches_random_scores():
    """The formula is the spread of a chance ROC AUC on Evidently's half/half split (AUC = Mann-Whitney U / ab)."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    n_ref, n_cur = 600, 300
    a, b = n_ref // 2, n_cur // 2
    ranks = rankdata(rng.random((4000, a + b)), axis=1)
    aucs = (ranks[:, a:].sum(axis=1) - b * (b + 1) / 2) / (a * b)
    assert np.std(aucs) == pytest.approx(auc_spread(n_ref, n_cur), rel=0.05)


def test_cuts_tighten_as_windows_grow():
    assert auc_threshold(3.0, 1000, 200) > auc_threshold(3.0, 1000, 1000) > 0.5
    assert mmd_threshold(0.2, 1000, 200) > mmd_threshold(0.2, 1000, 1000) > 0
    assert accuracy_drop_threshold(3.0, 0.9, 1000, 100) > accuracy_drop_threshold(3.0, 0.9, 1000, 1000)
    assert mmd_scale(1000, 500) == pytest.approx(0.003)


def _result(name: str, score: float, n_ref: int = 1000, n_cur: int = 500, ref_value: float | None = None):
    return SignalResult(name, "ok", "m", n_cur, n_ref, 1, 1, True, score=score, reference_value=ref_value)


def test_standard_scores_undo_the_size_scaling():
    assert standard_score(_result("text", auc_threshold(2.5, 1000, 500))) == pytest.approx(2.5)
    assert standard_score(_result("embedding", mmd_threshold(0.3, 1000, 500))) == pytest.approx(0.3)
    drop = accuracy_drop_threshold(3.1, 0.92, 1000, 150)
    assert standard_score(_result("live_accuracy", drop, 1000, 150, 0.92)) == pytest.approx(3.1)
    assert standard_score(_result("prediction", 0.04)) == 0.04


def test_thresholds_are_the_steady_extremes_rounded_outward():
    chosen = choose_thresholds(
        {"text": [0.1, 1.9, 2.34], "prediction": [0.5, 0.0031, 0.2], "confidence": [np.nan, 0.9]},
        {"text": True, "prediction": False, "confidence": False},
    )
    assert chosen["text"]["threshold"] == pytest.approx(2.4)
    assert chosen["prediction"]["threshold"] == pytest.approx(0.001)
    assert chosen["confidence"]["windows"] == 1
