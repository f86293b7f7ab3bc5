"""Thresholds that follow the sample sizes, for the scores whose spread under "no drift" depends on them.

A domain classifier's ROC AUC, the MMD between two embedding samples and an accuracy difference all wander
further from their no-drift value in small windows than in large ones. A fixed cut calibrated on windows of
500 tickets would cry wolf on windows of 150 and sleep through drift in windows of 5,000. So params.yaml stores
these cuts in units of the no-drift spread (calibrated once on steady windows), and the cut for a given window
is computed here. p-value tests (chi-square, K-S, z) already account for their sample sizes and need none of it.
"""

from __future__ import annotations

import math


def auc_threshold(z: float, n_reference: int, n_current: int) -> float:
    """ROC AUC above which a domain classifier sees drift: ``0.5 + z`` standard deviations of a chance AUC.

    Evidently's text drift trains on half of the rows and scores the other half, hence the halves; the spread
    is the Mann-Whitney one, ``sqrt((a + b + 1) / (12 a b))``.
    """
    a, b = max(n_reference / 2, 1.0), max(n_current / 2, 1.0)
    return 0.5 + z * math.sqrt((a + b + 1) / (12 * a * b))


def mmd_threshold(k: float, n_reference: int, n_current: int) -> float:
    """MMD² above which two embedding samples differ: ``k * (1/m + 1/n)``.

    Under no drift the unbiased MMD² estimate is a degenerate U-statistic whose spread shrinks like
    ``1/m + 1/n`` (measured on Banking77 windows of 100 to 1,000 tickets: spread / scale stays at 0.07-0.08).
    """
    return k * (1.0 / max(n_reference, 1) + 1.0 / max(n_current, 1))


def accuracy_drop_threshold(z: float, reference_accuracy: float, n_reference: int, n_current: int) -> float:
    """Accuracy drop (reference minus live) that counts as drift: ``z`` standard errors of the difference."""
    p = min(max(reference_accuracy, 0.01), 0.99)
    return z * math.sqrt(p * (1 - p) * (1.0 / max(n_reference, 1) + 1.0 / max(n_current, 1)))
