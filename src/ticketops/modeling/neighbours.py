"""A nearest-neighbour vote beside the linear head: the training tickets most like this one, by cosine similarity
of their sentence embeddings, vote for their labels.

Why: a linear head over tf-idf + embeddings draws one boundary per intent; tickets that sit between intents
are often right next to a labelled ticket worded the same way. On Banking77 (5 folds over train + validation,
tf-idf + mpnet, linear SVM) the head alone answered 93.30% of held-out tickets right and the head combined
with a 10-neighbour vote at weight 0.3 93.68%. The two scores live on different scales, so each is
standardised over the labels the model knows before they are mixed; a temperature fitted on held-out answers
turns the mix into probabilities (training.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

FILE = "neighbours.safetensors"  # beside the model's head
VOTE_FLOOR = 1e-3  # a label no neighbour voted for: log(floor), not -inf
BLOCK = 1024  # query rows per similarity block: (block x training tickets) float32 at a time


@dataclass(frozen=True)
class NeighbourVote:
    """``k`` nearest training tickets by cosine; each votes ``exp(sharpness * similarity)`` for its label."""

    vectors: np.ndarray  # (training tickets, dim) float32, unit rows
    labels: np.ndarray  # (training tickets,) label indices
    n_labels: int
    k: int
    sharpness: float

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """(len(embeddings), n_labels) log of the summed votes (unit-length ``embeddings`` rows)."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        out = np.full((len(embeddings), self.n_labels), VOTE_FLOOR, dtype=np.float64)
        k = min(self.k, len(self.labels))
        if k == 0 or not len(embeddings):
            return np.log(out)
        for start in range(0, len(embeddings), BLOCK):
            similarity = embeddings[start : start + BLOCK] @ self.vectors.T
            nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            votes = np.exp(self.sharpness * np.take_along_axis(similarity, nearest, axis=1))
            rows = np.repeat(np.arange(len(nearest)) + start, k)
            np.add.at(out, (rows, self.labels[nearest].ravel()), votes.ravel())
        return np.log(out)

    def save(self, path: Path) -> None:
        save_file(
            {"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32), "labels": self.labels.astype(np.int64)},
            str(path),
        )

    @classmethod
    def load(cls, path: Path, n_labels: int, k: int, sharpness: float) -> NeighbourVote:
        tensors = load_file(str(path))
        return cls(tensors["vectors"], tensors["labels"], n_labels, k, sharpness)

    def save_record(self, folder: Path, weight: float) -> dict:
        """Write the vectors into ``folder``; return what ``model.json`` records of the vote."""
        self.save(Path(folder) / FILE)
        return {"file": FILE, "k": self.k, "sharpness": self.sharpness, "weight": weight}

    @classmethod
    def from_record(cls, folder: Path, record: dict, n_labels: int) -> NeighbourVote:
        return cls.load(Path(folder) / record["file"], n_labels, record["k"], record["sharpness"])


def standardised(scores: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each row centred and scaled over the ``known`` labels' columns (the others are left as they are)."""
    part = scores[:, known]
    centred = part - part.mean(axis=1, keepdims=True)
    out = scores.copy()
    out[:, known] = centred / (centred.std(axis=1, keepdims=True) + 1e-9)
    return out


def mix(
    head_logits: np.ndarray, vote_scores: np.ndarray, weight: float, known: np.ndarray, unseen: float
) -> np.ndarray:
    """``(1 - weight)`` x the head plus ``weight`` x the vote, both standardised; labels the head never saw get
    ``unseen`` (they can never win)."""
    mixed = (1.0 - weight) * standardised(head_logits, known) + weight * standardised(vote_scores, known)
    mixed[:, ~known] = unseen
    return mixed
