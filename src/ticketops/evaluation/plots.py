"""Pictures people would rather look at than read: confusion matrix and reliability diagram (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix; the diagonal is recall per intent."""
    from sklearn.metrics import confusion_matrix

    plt = _pyplot()
    matrix = confusion_matrix(y_true, y_pred, labels=list(labels)).astype(float)
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    size = max(8.0, len(labels) * 0.16)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=5)
    ax.set_yticks(range(len(labels)), labels, fontsize=5)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def reliability_png(table: pd.DataFrame, path: Path, title: str) -> None:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with bin sizes."""
    plt = _pyplot()
    filled = table[table["count"] > 0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    top.plot(filled["confidence"], filled["accuracy"], marker="o", label="model")
    top.set_ylabel("accuracy")
    top.set_title(title)
    top.legend(loc="upper left")
    centres = (table["bin_lower"] + table["bin_upper"]) / 2
    bottom.bar(centres, table["count"], width=1.0 / len(table), edgecolor="white")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("tickets")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
