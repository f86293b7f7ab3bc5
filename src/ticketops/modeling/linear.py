"""A softmax linear head kept as plain arrays: fitted by scikit-learn, stored as safetensors, applied with numpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file


@dataclass(frozen=True)
class LinearHead:
    """``softmax(X @ weight.T + bias)``; rows of ``weight`` follow the label order of the model."""

    weight: np.ndarray  # (n_labels, n_features)
    bias: np.ndarray  # (n_labels,)

    @classmethod
    def fit(cls, features, y: np.ndarray, n_labels: int, C: float, max_iter: int, seed: int) -> LinearHead:
        """Multinomial logistic regression; ``y`` holds label indices, every label must occur."""
        from sklearn.linear_model import LogisticRegression

        present = np.unique(y)
        model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        model.fit(features, y)
        weight = np.zeros((n_labels, model.coef_.shape[1]), dtype=np.float32)
        bias = np.full(n_labels, -1e4, dtype=np.float32)  # a label never seen in training is never predicted
        weight[present] = model.coef_
        bias[present] = model.intercept_
        return cls(weight, bias)

    def logits(self, features) -> np.ndarray:
        product = features @ self.weight.T
        product = product.toarray() if sp.issparse(product) else np.asarray(product)
        return product + self.bias

    def predict_proba(self, features) -> np.ndarray:
        return softmax(self.logits(features))

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
