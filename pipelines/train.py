"""DVC stage ``train``: fit the model family named by ``train.model`` and save it with SHA-256 checksums."""

import shutil
import tempfile
import time
from pathlib import Path

from ticketops.config import load_params
from ticketops.data.labels import load_labels
from ticketops.fileio import read_csv, write_json
from ticketops.modeling.artifacts import write_checksums
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.training import train_classifier

MODEL_DIR = Path("models/model")
EMBEDDINGS = Path("data/embeddings/minilm.safetensors")


def main() -> None:
    params = load_params()
    p = params.train
    labels = load_labels(params.ingest.labels_path)
    train = read_csv("data/splits/train.csv")
    embeddings = EmbeddingCache.load(EMBEDDINGS) if p.model in ("hybrid", "cascade") else None
    validation = read_csv("data/splits/validation.csv") if p.model == "cascade" else None
    started = time.perf_counter()
    classifier = train_classifier(p, labels, train, embeddings, validation=validation)
    seconds = time.perf_counter() - started
    MODEL_DIR.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=MODEL_DIR.parent) as tmp:
        staged = Path(tmp) / "model"
        classifier.save(staged)
        checksums = write_checksums(staged)
        shutil.rmtree(MODEL_DIR, ignore_errors=True)
        staged.rename(MODEL_DIR)
    write_json("models/train.json", {"family": p.model, "train_rows": len(train), "train_seconds": round(seconds, 1)})
    print(
        f"train: {p.model} on {len(train)} tickets in {seconds:.0f}s → {MODEL_DIR} "
        f"({len(checksums)} files, sha256 in checksums.json)"
    )


if __name__ == "__main__":
    main()
