"""DVC stage ``train``: fit the model family named by ``train.model``, save it with SHA-256 checksums, and write
its answers on tickets it never saw (out of fold, or the validation split: ``train.heldout``) for evaluate."""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from ticketops.config import load_params
from ticketops.data.labels import load_labels
from ticketops.fileio import read_csv, write_csv, write_json
from ticketops.modeling.artifacts import write_checksums
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.training import fit_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="train split (CSV)")
    parser.add_argument("--validation", type=Path, required=True, help="validation split (CSV)")
    parser.add_argument("--embeddings", type=Path, required=True, help="embeddings (read by hybrid and cascade)")
    parser.add_argument("--labels", type=Path, required=True, help="the label set (JSON)")
    parser.add_argument("--model-dir", type=Path, required=True, help="output: the model folder")
    parser.add_argument("--summary", type=Path, required=True, help="output: family, rows, seconds (JSON)")
    parser.add_argument("--heldout", type=Path, required=True, help="output: answers on unseen tickets (CSV)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    p = load_params().train
    labels = load_labels(args.labels)
    train = read_csv(args.train)
    embeddings = EmbeddingCache.load(args.embeddings) if p.model in ("hybrid", "cascade") else None
    validation = read_csv(args.validation)
    print(f"train: {p.model}, held-out answers {p.heldout.replace('_', ' ')}", flush=True)
    started = time.perf_counter()
    trained = fit_model(p, labels, train, embeddings, validation=validation)
    classifier = trained.classifier
    seconds = time.perf_counter() - started
    model_dir: Path = args.model_dir
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent) as tmp:
        staged = Path(tmp) / "model"
        classifier.save(staged)
        checksums = write_checksums(staged)
        shutil.rmtree(model_dir, ignore_errors=True)
        staged.rename(model_dir)
    write_csv(args.heldout, trained.heldout)
    summary = {
        "family": p.model,
        "train_rows": trained.fit_rows,
        "train_seconds": round(seconds, 1),
        "heldout": trained.heldout_source,
        "heldout_mode": p.heldout,  # evaluate: out_of_fold answers came from fold models, not this one
        "encoder": embeddings.encoder if embeddings is not None else None,
        **trained.details,
    }
    write_json(args.summary, summary)
    print(
        f"train: {p.model} on {trained.fit_rows} tickets in {seconds:.0f}s → {model_dir} "
        f"({len(checksums)} files, sha256 in checksums.json); held-out accuracy "
        f"{trained.details.get('heldout_accuracy', float('nan')):.4f} ({trained.heldout_source})"
    )


if __name__ == "__main__":
    main()
