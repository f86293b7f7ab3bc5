"""The sentence embeddings drift is measured on: the model's own encoder when it has one, cached by text.

A hybrid or fine-tuned model (or a cascade's slow stage) embeds with the encoder it classifies with, so
embedding drift is drift in what the model actually sees; a tf-idf model has no encoder and gets the
pretrained all-MiniLM-L6-v2 its hybrid siblings use (loaded once per process).

The monitor's windows slide: each check's newest 1,000 tickets are mostly the previous check's, so vectors are
kept by the SHA-256 of their text (bounded, least recently used first out) and only new texts are encoded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ticketops.modeling.embedding_cache import text_key
from ticketops.monitoring.windows import Embedder

MAX_CACHED = 50_000  # 384 float32 each: ~75 MB


class CachedEmbedder:
    """``texts -> (n, dim)`` through ``embed``, encoding only texts it has not seen recently."""

    def __init__(self, embed: Embedder, max_entries: int = MAX_CACHED):
        self.embed = embed
        self.max_entries = max_entries
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._vectors)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._vectors:
                missing.setdefault(key, text)
        if missing:
            vectors = np.asarray(self.embed(list(missing.values())), dtype=np.float32)
            for key, vector in zip(missing, vectors, strict=True):
                self._vectors[key] = vector
        rows = []
        for key in keys:
            self._vectors.move_to_end(key)
            rows.append(self._vectors[key])
        while len(self._vectors) > self.max_entries:
            self._vectors.popitem(last=False)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows)


@lru_cache(maxsize=1)
def base_embedder(threads: int = 2) -> CachedEmbedder:
    """The pretrained MiniLM, loaded once per process, with its cache."""
    from ticketops.modeling.encoder import encode, load_encoder

    encoder = load_encoder(threads=threads)
    return CachedEmbedder(lambda texts: encode(encoder, list(texts)))


def model_embedder(classifier: object, threads: int = 2) -> Embedder:
    """The embedder for ``classifier``: its own encoder if it has one, else the shared pretrained MiniLM."""
    for candidate in (classifier, getattr(classifier, "slow", None)):
        embed = getattr(candidate, "embed", None)
        if callable(embed):
            return CachedEmbedder(embed)
    return base_embedder(threads)
