"""How the hybrid families lay out their features: sparse tf-idf columns, then weighted dense embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def feature_blocks(vectorizer, texts: Sequence[str], embeddings: np.ndarray, weight: float) -> list:
    """The feature columns in order: sparse tf-idf (with a vectorizer), then weighted dense embeddings."""
    dense = np.asarray(embeddings, dtype=np.float32) * weight
    return [dense] if vectorizer is None else [vectorizer.transform(list(texts)), dense]


def combine_features(vectorizer, texts: Sequence[str], embeddings: np.ndarray, weight: float):
    """The blocks as one matrix, for fitting (prediction applies the head block by block: no copy)."""
    blocks = feature_blocks(vectorizer, texts, embeddings, weight)
    return blocks[0] if len(blocks) == 1 else sp.hstack([blocks[0], sp.csr_matrix(blocks[1])], format="csr")
