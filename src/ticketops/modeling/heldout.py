"""Out-of-fold logits: every ticket scored by a model fitted on the other folds, so none is scored by a model
that saw it.

Why: the review threshold, a cascade's routing, an SVM head's temperature and the drift reference all need a
model's answers on tickets it has not seen. Holding out a validation tenth gives them, at the cost of a tenth
of the training data (0.3-0.7 points of accuracy on Banking77); out-of-fold predictions give them from every
training ticket. Folds are stratified by label and fitted on ``jobs`` threads (liblinear releases the GIL).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

FoldFit = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (fit rows, scored rows) -> logits of the scored rows


def fold_rows(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) per fold, stratified by label; labels rarer than ``folds`` are spread as far
    as they go (a fold may then miss a label: its model never predicts it, as with any unseen label)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only N members"
        return list(splitter.split(np.zeros(len(y)), y))


def out_of_fold_logits(
    fit_and_score: FoldFit, y: np.ndarray, n_labels: int, folds: int, seed: int, jobs: int = 1
) -> np.ndarray:
    """(len(y), n_labels) logits, row i from the fold model that did not see row i."""
    from joblib import Parallel, delayed

    parts = fold_rows(y, folds, seed)
    scored = Parallel(n_jobs=max(1, jobs), backend="threading")(
        delayed(fit_and_score)(fit, held) for fit, held in parts
    )
    logits = np.zeros((len(y), n_labels))
    for (_, held), part in zip(parts, scored, strict=True):
        logits[held] = part
    return logits
