"""Embeddings keyed by the SHA-256 of their text, so a re-run encodes only texts it has not seen.

The file names the encoder that made its vectors (safetensors metadata): a cache of another encoder is never
mixed with this one's vectors, and the train stage builds its model on the encoder the vectors came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from ticketops.modeling.encoder_sources import DEFAULT_ENCODER, encoder_source


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """A text-hash → vector table stored as safetensors (no code runs on load)."""

    def __init__(
        self,
        keys: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
        dim: int | None = None,
        encoder: str = DEFAULT_ENCODER,
    ):
        self.encoder = encoder
        dim = dim or encoder_source(encoder).dimension
        keys = np.zeros((0, 32), dtype=np.uint8) if keys is None else keys
        vectors = np.zeros((0, dim), dtype=np.float32) if vectors is None else vectors
        self._index = {bytes(k): i for i, k in enumerate(keys)}
        self._vectors = vectors

    @classmethod
    def load(cls, path: Path, encoder: str | None = None) -> EmbeddingCache:
        """The cache at ``path``, or an empty one if there is none yet; with ``encoder``, a file made by another
        encoder counts as none (its vectors are no use to this one). A file without metadata is MiniLM's."""
        if not Path(path).exists():
            return cls(encoder=encoder or DEFAULT_ENCODER)
        with safe_open(str(path), framework="numpy") as handle:
            stored = (handle.metadata() or {}).get("encoder", DEFAULT_ENCODER)
        if encoder is not None and stored != encoder:
            return cls(encoder=encoder)
        tensors = load_file(str(path))
        return cls(tensors["keys"], tensors["vectors"], dim=tensors["vectors"].shape[1], encoder=stored)

    def __len__(self) -> int:
        return len(self._index)

    def missing(self, texts: Sequence[str]) -> list[str]:
        """Distinct texts with no stored vector, in first-seen order."""
        seen: dict[str, None] = {}
        for text in texts:
            if text_key(text) not in self._index:
                seen.setdefault(text, None)
        return list(seen)

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` in order; a text without one raises KeyError."""
        rows = [self._index[text_key(text)] for text in texts]
        return self._vectors[rows] if rows else np.zeros((0, self._vectors.shape[1]), dtype=np.float32)

    def fill(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> int:
        """Encode what is missing and add it; returns how many texts were encoded."""
        todo = self.missing(texts)
        if todo:
            vectors = np.asarray(encode(todo), dtype=np.float32)
            start = len(self._vectors)
            self._vectors = np.concatenate([self._vectors, vectors]) if start else vectors
            for offset, text in enumerate(todo):
                self._index[text_key(text)] = start + offset
        return len(todo)

    def restricted_to(self, texts: Sequence[str]) -> EmbeddingCache:
        """Only the vectors of ``texts`` (drops texts that left the dataset), in ``texts`` order, deduplicated."""
        unique = list(dict.fromkeys(texts))
        keys = np.frombuffer(b"".join(text_key(t) for t in unique), dtype=np.uint8).reshape(-1, 32)
        return EmbeddingCache(keys, self.lookup(unique), dim=self._vectors.shape[1], encoder=self.encoder)

    def save(self, path: Path) -> None:
        keys = sorted(self._index, key=self._index.__getitem__)
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32)
        rows = [self._index[k] for k in keys]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tensors = {"keys": key_array.copy(), "vectors": np.ascontiguousarray(self._vectors[rows])}
        save_file(tensors, str(path), metadata={"encoder": self.encoder})
