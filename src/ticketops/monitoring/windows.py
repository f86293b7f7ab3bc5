"""Windows of tickets in one shape, wherever they come from: the reference sample, a CSV, the prediction log.

A window is what the drift check compares: the (redacted) text, what the model predicted, how sure it was,
whether it went to review, the agent's label when there is one, which stage of a cascade answered (``fast`` or
``slow``; missing for other families), and the model's sentence embedding of each text (added by
:func:`with_embeddings`, which is the only costly step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

Embedder = Callable[[Sequence[str]], np.ndarray]
COLUMNS = ("text", "predicted", "confidence", "needs_review", "true_label", "model_version", "created_at", "stage")
TRUE_VALUES = {"true", "1", "yes", "y", "t"}


@dataclass(frozen=True)
class Window:
    """Tickets plus their embeddings (``None`` until computed); rows of both line up."""

    frame: pd.DataFrame
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def labelled(self) -> int:
        return int(self.frame["true_label"].notna().sum())


def _bools(values: pd.Series) -> pd.Series:
    if values.dtype == bool:
        return values
    return values.astype(str).str.strip().str.lower().isin(TRUE_VALUES)


def _labels(values: pd.Series) -> pd.Series:
    """Agent labels with empty cells as missing (None), never as an empty-string label."""
    cleaned = values.astype(object).where(values.notna(), None)
    return cleaned.map(lambda v: None if v is None or str(v).strip() == "" else str(v))


def make_window(
    text: Sequence[str],
    predicted: Sequence[str],
    confidence: Sequence[float],
    needs_review: Sequence[bool] | pd.Series,
    true_label: Sequence[str | None] | None = None,
    model_version: Sequence[str] | str | None = None,
    created_at: Sequence[float] | None = None,
    stage: Sequence[str | None] | None = None,
) -> Window:
    """A window from columns; missing optional columns become missing values."""
    n = len(text)
    frame = pd.DataFrame(
        {
            "text": pd.Series(list(text), dtype=object).astype(str),
            "predicted": pd.Series(list(predicted), dtype=object).astype(str),
            "confidence": pd.to_numeric(pd.Series(list(confidence)), errors="coerce").astype(float),
            "needs_review": _bools(pd.Series(list(needs_review))),
            "true_label": _labels(pd.Series(list(true_label) if true_label is not None else [None] * n)),
            "model_version": (
                [model_version] * n if isinstance(model_version, str) or model_version is None else list(model_version)
            ),
            "created_at": pd.to_numeric(pd.Series(list(created_at) if created_at is not None else [np.nan] * n)),
            "stage": _labels(pd.Series(list(stage) if stage is not None else [None] * n)),
        }
    )
    frame["model_version"] = frame["model_version"].map(lambda v: "unknown" if v is None else str(v))
    return Window(frame)


def reference_window(reference: pd.DataFrame, model_version: str | None) -> Window:
    """The champion's stored sample (reference.csv: text, label, predicted, confidence, needs_review)."""
    missing = {"text", "predicted", "confidence", "needs_review"} - set(reference.columns)
    if missing:
        raise ValueError(f"reference sample lacks column(s) {', '.join(sorted(missing))}")
    labels = reference["label"] if "label" in reference.columns else None
    stage = reference["stage"] if "stage" in reference.columns else None
    return make_window(
        reference["text"],
        reference["predicted"],
        reference["confidence"],
        reference["needs_review"],
        labels,
        model_version,
        stage=stage,
    )


def scored_window(
    frame: pd.DataFrame, score: Callable[[list[str]], tuple[list[str], np.ndarray, np.ndarray]], version: str | None
) -> Window:
    """A window from texts the model has not scored yet: ``score`` gives labels, confidences, review flags.

    A ``label`` column is taken as the agents' true label.
    """
    texts = frame["text"].astype(str).tolist()
    labels, confidence, review = score(texts)
    truth = frame["label"] if "label" in frame.columns else None
    return make_window(texts, labels, confidence, review, truth, version)


def frame_window(frame: pd.DataFrame, version: str | None) -> Window:
    """A window from a frame that already carries predictions.

    Two layouts: ``predicted`` + ``confidence`` (+ ``label`` as truth), like reference.csv; or the output of
    ``ticketops predict``, where ``label`` is the prediction.
    """
    review = frame["needs_review"] if "needs_review" in frame.columns else [False] * len(frame)
    if "predicted" in frame.columns:
        truth = frame["label"] if "label" in frame.columns else None
        predicted = frame["predicted"]
    else:
        truth, predicted = frame.get("true_label"), frame["label"]
    versions = frame["model_version"] if "model_version" in frame.columns else version
    stage = frame["stage"] if "stage" in frame.columns else None
    return make_window(frame["text"], predicted, frame["confidence"], review, truth, versions, stage=stage)


def has_predictions(frame: pd.DataFrame) -> bool:
    """Whether a CSV already says what the model predicted (then it is not scored again)."""
    return "confidence" in frame.columns and ("predicted" in frame.columns or "label" in frame.columns)


def with_embeddings(window: Window, embed: Embedder, max_rows: int | None = None, seed: int = 0) -> Window:
    """The window with its embeddings computed (once; a window that has them is returned as is).

    With ``max_rows`` below the window size, only a seeded random sample of rows is embedded and the other
    rows get NaN vectors: the embedding signal then judges that sample (it is the one costly step).
    """
    if window.embeddings is not None:
        return window
    rows = embedding_sample(len(window), max_rows, seed)
    texts = window.frame["text"].to_numpy()[rows].tolist()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    if len(vectors) != len(rows):
        raise ValueError(f"embedder returned {len(vectors)} vectors for {len(rows)} texts")
    if len(rows) == len(window):
        return replace(window, embeddings=vectors)
    full = np.full((len(window), vectors.shape[1]), np.nan, dtype=np.float32)
    full[rows] = vectors
    return replace(window, embeddings=full)


def embedding_sample(n: int, max_rows: int | None, seed: int = 0) -> np.ndarray:
    """Row positions to embed: all of them, or a seeded random ``max_rows`` in order."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def keep_embeddings(window: Window, rows: np.ndarray) -> Window:
    """The window with vectors only on ``rows`` (NaN elsewhere), as :func:`with_embeddings` samples them."""
    if window.embeddings is None or len(rows) == len(window):
        return window
    masked = np.full_like(window.embeddings, np.nan)
    masked[rows] = window.embeddings[rows]
    return replace(window, embeddings=masked)


def embedded_rows(window: Window) -> int:
    """How many rows carry an embedding (all, a sample, or none)."""
    if window.embeddings is None:
        return 0
    return int((~np.isnan(window.embeddings).any(axis=1)).sum())
