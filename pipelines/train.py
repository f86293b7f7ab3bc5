"""DVC stage ``train``: fit the model family named by ``train.model`` and save it with SHA-256 checksums."""

import argparse
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="train split (CSV)")
    parser.add_argument("--validation", type=Path, required=True, help="validation split (CSV; read by cascades)")
    parser.add_argument("--embeddings", type=Path, required=True, help="embeddings (read by hybrid and cascade)")
    parser.add_argument("--labels", type=Path, required=True, help="the label set (JSON)")
    parser.add_argument("--model-dir", type=Path, required=True, help="output: the model folder")
    parser.add_argument("--summary", type=Path, required=True, help="output: family, rows, seconds (JSON)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    p = load_params().train
    labels = load_labels(args.labels)
    train = read_csv(args.train)
    embeddings = EmbeddingCache.load(args.embeddings) if p.model in ("hybrid", "cascade") else None
    validation = read_csv(args.validation) if p.model == "cascade" else None
    started = time.perf_counter()
    classifier = train_classifier(p, labels, train, embeddings, validation=validation)
    seconds = time.perf_counter() - started
    model_dir: Path = args.model_dir
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent) as tmp:
        staged = Path(tmp) / "model"
        classifier.save(staged)
        checksums = write_checksums(staged)
        shutil.rmtree(model_dir, ignore_errors=True)
        staged.rename(model_dir)
    write_json(args.summary, {"family": p.model, "train_rows": len(train), "train_seconds": round(seconds, 1)})
    print(
        f"train: {p.model} on {len(train)} tickets in {seconds:.0f}s → {model_dir} "
        f"({len(checksums)} files, sha256 in checksums.json)"
    )


if __name__ == "__main__":
    main()
