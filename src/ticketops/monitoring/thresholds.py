"""Thresholds that follow the sample sizes, for the scores whose spread under "no drift" depends on them.

A domain classifier's ROC AUC, the MMD between two embedding samples and an accuracy difference all wander
further from their no-drift value in small windows than in large ones. A fixed cut calibrated on windows of
500 tickets would cry wolf on windows of 150 and sleep through drift in windows of 5,000. So params.yaml stores
these cuts in units of the no-drift spread (calibrated once on steady windows), and the cut for a given window
is computed here. p-value tests (chi-square, K-S, z) already account for their sample sizes and need none of it.
"""

from __future__ import annotations

import math


def auc_spread(n_reference: int, n_current: int) -> float:
    """Standard deviation of a chance ROC AUC when Evidently's domain classifier scores half of each sample.

    Evidently trains the text domain classifier on half of the rows and scores the other half, hence the
    halves; the spread is the Mann-Whitney one, ``sqrt((a + b + 1) / (12 a b))``.
    """
    a, b = max(n_reference / 2, 1.0), max(n_current / 2, 1.0)
    return math.sqrt((a + b + 1) / (12 * a * b))


def mmd_scale(n_reference: int, n_current: int) -> float:
    """``1/m + 1/n``: the unbiased MMD² estimate is a degenerate U-statistic under no drift, its spread shrinks so.

    Measured on Banking77 windows of 100 to 1,000 tickets against 967 reference tickets: spread / scale stays
    between 0.07 and 0.08.
    """
    return 1.0 / max(n_reference, 1) + 1.0 / max(n_current, 1)


def accuracy_spread(reference_accuracy: float, n_reference: int, n_current: int) -> float:
    """Standard error of the difference between the reference accuracy and the live one."""
    p = min(max(reference_accuracy, 0.01), 0.99)
    return math.sqrt(p * (1 - p) * (1.0 / max(n_reference, 1) + 1.0 / max(n_current, 1)))


def two_proportion_p_value(p_current: float, n_current: int, p_reference: float, n_reference: int) -> float:
    """Two-sided p-value of a two-proportion z-test (pooled), e.g. the cascade's slow-stage share."""
    pooled = (p_current * n_current + p_reference * n_reference) / max(n_current + n_reference, 1)
    spread = math.sqrt(pooled * (1 - pooled) * (1.0 / max(n_current, 1) + 1.0 / max(n_reference, 1)))
    if spread == 0:
        return 1.0 if p_current == p_reference else 0.0
    return math.erfc(abs(p_current - p_reference) / spread / math.sqrt(2))


def auc_threshold(z: float, n_reference: int, n_current: int) -> float:
    """ROC AUC above which the domain classifier sees drift: ``0.5 + z`` spreads of a chance AUC."""
    return 0.5 + z * auc_spread(n_reference, n_current)


def mmd_threshold(k: float, n_reference: int, n_current: int) -> float:
    """MMD² above which two embedding samples differ: ``k * (1/m + 1/n)``."""
    return k * mmd_scale(n_reference, n_current)


def accuracy_drop_threshold(z: float, reference_accuracy: float, n_reference: int, n_current: int) -> float:
    """Accuracy drop (reference minus live) that counts as drift: ``z`` standard errors of the difference."""
    return z * accuracy_spread(reference_accuracy, n_reference, n_current)
