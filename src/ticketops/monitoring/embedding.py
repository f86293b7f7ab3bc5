"""The sentence embeddings drift is measured on: the model's own encoder when it has one.

A hybrid or fine-tuned model (or a cascade's slow stage) embeds with the encoder it classifies with, so
embedding drift is drift in what the model actually sees; a tf-idf model has no encoder and gets the
pretrained all-MiniLM-L6-v2 its hybrid siblings use.
"""

from __future__ import annotations

from ticketops.monitoring.windows import Embedder


def model_embedder(classifier: object, threads: int = 2) -> Embedder:
    """``texts -> (n, dim)`` unit vectors for ``classifier``; loads the base encoder only when needed."""
    for candidate in (classifier, getattr(classifier, "slow", None)):
        embed = getattr(candidate, "embed", None)
        if callable(embed):
            return embed
    from ticketops.modeling.encoder import encode, load_encoder

    encoder = load_encoder(threads=threads)
    return lambda texts: encode(encoder, list(texts))
