"""A softmax linear head kept as plain arrays: fitted by scikit-learn, stored as safetensors, applied with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

UNSEEN_BIAS = -1e4  # the bias of a label absent from the training data (fitted ones are a few units)


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
    def fit(cls, features, y: np.ndarray, n_labels: int, C: float, max_iter: int, seed: int) -> LinearHead:
        """Multinomial logistic regression; ``y`` holds label indices, every label must occur."""
        from sklearn.linear_model import LogisticRegression

        present = np.unique(y)
        model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        model.fit(features, y)
        weight = np.zeros((n_labels, model.coef_.shape[1]), dtype=np.float32)
        bias = np.full(n_labels, UNSEEN_BIAS, dtype=np.float32)  # a label never seen in training: never predicted
        weight[present] = model.coef_
        bias[present] = model.intercept_
        return cls(weight, bias)

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
