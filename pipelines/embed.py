"""DVC stage ``embed``: all-MiniLM-L6-v2 embeddings of every text, reusing vectors of texts seen before."""

import argparse
from pathlib import Path

from ticketops.config import load_params
from ticketops.fileio import atomic_write, read_csv
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder import encode, load_encoder


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="the ingested dataset (CSV)")
    parser.add_argument("--out", type=Path, required=True, help="embeddings (safetensors), also the cache it reuses")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    params = load_params()
    p = params.embed
    texts = read_csv(args.dataset)["text"].tolist()
    cache = EmbeddingCache.load(args.out)  # the previous output (persisted), so unchanged texts are not re-encoded
    todo = cache.missing(texts)
    if todo:
        encoder = load_encoder(threads=params.train.threads, max_length=p.max_length)
        cache.fill(todo, lambda batch: encode(encoder, batch, batch_size=p.batch_size, progress=True))
    kept = cache.restricted_to(texts)
    atomic_write(args.out, kept.save)
    print(f"embed: {len(todo)} texts encoded, {len(kept) - len(todo)} reused → {args.out}")


if __name__ == "__main__":
    main()
