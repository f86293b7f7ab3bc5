"""DVC stage ``embed``: all-MiniLM-L6-v2 embeddings of every text, reusing vectors of texts seen before."""

from pathlib import Path

from ticketops.config import load_params
from ticketops.fileio import atomic_write, read_csv
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder import encode, load_encoder

OUT = Path("data/embeddings/minilm.safetensors")


def main() -> None:
    params = load_params()
    p = params.embed
    texts = read_csv(params.ingest.output)["text"].tolist()
    cache = EmbeddingCache.load(OUT)  # the previous output (persisted), so unchanged texts are not re-encoded
    todo = cache.missing(texts)
    if todo:
        encoder = load_encoder(threads=params.train.threads, max_length=p.max_length)
        cache.fill(todo, lambda batch: encode(encoder, batch, batch_size=p.batch_size, progress=True))
    kept = cache.restricted_to(texts)
    atomic_write(OUT, kept.save)
    print(f"embed: {len(todo)} texts encoded, {len(kept) - len(todo)} reused → {OUT}")


if __name__ == "__main__":
    main()
