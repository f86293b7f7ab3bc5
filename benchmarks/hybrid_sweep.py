"""Are the hybrid's settings in params.yaml a local optimum? Out-of-fold accuracy of one-at-a-time changes.

    .venv/bin/python benchmarks/hybrid_sweep.py [--folds 5]

Every variant changes one setting of ``train.hybrid`` and is scored the way the pipeline chooses settings: out of
fold over train + validation (never the test split), with the embed stage's cached embeddings
(`dvc repro embed` first). Each variant is compared with params.yaml's settings on the same tickets: the paired
difference and its standard error say whether a change is more than noise. Writes reports/bench/hybrid_sweep.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from benchmarking import write_report

from ticketops.config import TrainParams, load_params
from ticketops.data.labels import load_labels
from ticketops.fileio import read_csv
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.heldout import out_of_fold_logits
from ticketops.modeling.training import label_indices, train_hybrid

ROOT = Path(__file__).resolve().parents[1]
# One setting at a time, on both sides of params.yaml's value (the baseline is params.yaml itself).
VARIANTS: list[dict[str, Any]] = [
    {"C": 0.5},
    {"C": 2.0},
    {"embedding_weight": 1.5},
    {"embedding_weight": 3.0},
    {"neighbour_weight": 0.2},
    {"neighbour_weight": 0.45},
    {"neighbours": 5},
    {"neighbours": 20},
    {"neighbour_sharpness": 20.0},
]


def sweep(folds: int) -> dict[str, Any]:
    params = load_params()
    labels = load_labels(ROOT / params.ingest.labels_path)
    splits = [read_csv(ROOT / f"data/splits/{name}.csv") for name in ("train", "validation")]
    frame = pd.concat(splits, ignore_index=True)  # what the pipeline fits on (train.heldout: out_of_fold)
    texts = frame["text"].tolist()
    y = label_indices(labels, frame["label"])
    cache = EmbeddingCache.load(ROOT / "data/embeddings/embeddings.safetensors")
    embeddings = cache.lookup(texts)

    def right(train_params: TrainParams) -> np.ndarray:
        def fit_and_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
            model = train_hybrid(
                train_params, labels, [texts[i] for i in fit], y[fit], embeddings[fit], cache.encoder, load=False
            )
            return model.logits([texts[i] for i in held], embeddings[held])

        logits = out_of_fold_logits(fit_and_score, y, len(labels), folds, train_params.seed, train_params.threads)
        return logits.argmax(axis=1) == y

    started = time.perf_counter()
    baseline = right(params.train)
    print(f"params.yaml: out-of-fold accuracy {baseline.mean():.4f} ({time.perf_counter() - started:.0f}s)")
    rows = []
    for change in VARIANTS:
        started = time.perf_counter()
        hybrid = params.train.hybrid.model_copy(update=change)
        variant = right(params.train.model_copy(update={"hybrid": hybrid}))
        difference = variant.astype(float) - baseline.astype(float)
        row = {
            "change": change,
            "accuracy": round(float(variant.mean()), 4),
            "difference": round(float(difference.mean()), 4),
            "difference_se": round(float(difference.std(ddof=1) / np.sqrt(len(difference))), 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"{change}: {row['accuracy']:.4f} ({row['difference']:+.4f} ± {row['difference_se']:.4f})")
        rows.append(row)
    return {
        "tickets": len(y),
        "folds": folds,
        "encoder": cache.encoder,
        "baseline": {"hybrid": params.train.hybrid.model_dump(), "accuracy": round(float(baseline.mean()), 4)},
        "variants": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    print(f"wrote {write_report('hybrid_sweep', sweep(args.folds))}")


if __name__ == "__main__":
    main()
