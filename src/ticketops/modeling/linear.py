"""A softmax linear head kept as plain arrays: fitted by scikit-learn, stored as safetensors, applied with numpy.

Two fitters: multinomial logistic regression (``logreg``), or a one-vs-rest linear SVM (``svc``: 0.2-0.4
points more accurate over tf-idf + sentence embeddings). An SVM's margins are no probabilities: a temperature
fitted on held-out margins (``fit_temperature``, out-of-fold or validation) turns them into calibrated ones, and
it is folded into the stored weights, so serving applies every head the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

UNSEEN_BIAS = -1e4  # the bias of a label absent from the training data (fitted ones are a few units)
HeadKind = Literal["logreg", "svc"]


@dataclass(frozen=True)
class LinearHead:
    """``softmax(X @ weight.T + bias)``; rows of ``weight`` follow the label order of the model."""

    weight: np.ndarray  # (n_labels, n_features)
    bias: np.ndarray  # (n_labels,)
    # ``weight.T`` laid out row-major in float64 (tf-idf's dtype) once: ``sparse @ weight.T`` otherwise converts
    # all of it on every call (34k x 77 for the hybrid: ~9 ms of a one-ticket prediction; 0.01 ms after).
    weight_t: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_t", np.ascontiguousarray(self.weight.T, dtype=np.float64))

    @classmethod
    def fit(
        cls, features, y: np.ndarray, n_labels: int, C: float, max_iter: int, seed: int, kind: HeadKind = "logreg"
    ) -> LinearHead:
        """Multinomial logistic regression or a one-vs-rest linear SVM; ``y`` holds label indices (a label
        absent from ``y`` gets the UNSEEN_BIAS: never predicted)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        present = np.unique(y)
        if kind == "svc":
            model = LinearSVC(C=C, max_iter=max_iter, random_state=seed)
        elif kind == "logreg":
            model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        else:
            raise ValueError(f"unknown head {kind!r}: logreg or svc")
        model.fit(features, y)
        weight = np.zeros((n_labels, model.coef_.shape[1]), dtype=np.float32)
        bias = np.full(n_labels, UNSEEN_BIAS, dtype=np.float32)  # a label never seen in training: never predicted
        weight[present] = model.coef_
        bias[present] = model.intercept_
        return cls(weight, bias)

    def scaled(self, temperature: float) -> LinearHead:
        """The same head with its logits multiplied by ``temperature`` (labels never trained stay unseen)."""
        trained = self.trained()
        bias = self.bias.copy()
        bias[trained] = bias[trained] * temperature
        return LinearHead((self.weight * temperature).astype(np.float32), bias.astype(np.float32))

    def trained(self) -> np.ndarray:
        """Per label, whether it was in the training data (the others can never win the softmax)."""
        return self.bias > UNSEEN_BIAS / 2

    def logits(self, features) -> np.ndarray:
        return self.logits_of_blocks([features])

    def logits_of_blocks(self, blocks: Sequence) -> np.ndarray:
        """Logits of features given as column blocks (e.g. sparse tf-idf, dense embeddings), never stacked."""
        logits = np.tile(self.bias.astype(np.float64), (blocks[0].shape[0], 1))
        offset = 0
        for block in blocks:
            width = block.shape[1]
            part = block @ self.weight_t[offset : offset + width]
            logits += part.toarray() if sp.issparse(part) else np.asarray(part)
            offset += width
        if offset != self.weight.shape[1]:
            raise ValueError(f"features have {offset} columns, the head expects {self.weight.shape[1]}")
        return logits

    def predict_proba(self, features) -> np.ndarray:
        return softmax(self.logits(features))

    def predict_proba_of_blocks(self, blocks: Sequence) -> np.ndarray:
        return softmax(self.logits_of_blocks(blocks))

    def save(self, path: Path) -> None:
        save_file({"weight": np.ascontiguousarray(self.weight), "bias": np.ascontiguousarray(self.bias)}, str(path))

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        tensors = load_file(str(path))
        return cls(tensors["weight"], tensors["bias"])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The factor on ``logits`` that minimises the held-out negative log-likelihood of the true labels ``y``
    (temperature scaling: it rescales confidence, never changes which label wins). Rows whose label the model
    that scored them never saw (a rare intent missing from one fold) say nothing about confidence: left out."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y)
    seen = logits[np.arange(len(y)), y] > UNSEEN_BIAS / 2
    logits, y = logits[seen], y[seen]
    rows = np.arange(len(y))
    if not len(y):
        return 1.0

    def nll(log_t: float) -> float:
        scaled = logits * np.exp(log_t)
        shifted = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        return float((log_norm - shifted[rows, y]).mean())

    best = minimize_scalar(nll, bounds=(np.log(1e-2), np.log(1e3)), method="bounded")
    return float(np.exp(best.x))
