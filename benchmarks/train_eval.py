"""Accuracy (95% Wilson interval) and macro-F1 per model family on the test split, training time, cold/warm `dvc repro`.

    .venv/bin/python benchmarks/train_eval.py [--families tfidf hybrid finetune] [--skip-repro]

Writes reports/bench/train_eval.json. Families are trained with the pipeline's own code and params
(params.yaml), on data/splits/train.csv, scored on data/splits/test.csv. The repro timings run the whole
pipeline in a fresh `git clone` of this repository against a throw-away MLflow store.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarking import write_report

from ticketops.config import load_params
from ticketops.data.labels import load_labels
from ticketops.evaluation.evaluate import cascade_metrics
from ticketops.evaluation.metrics import accuracy_interval, headline_metrics
from ticketops.fileio import read_csv
from ticketops.modeling.embedding_cache import EmbeddingCache

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def measure_family(family: str) -> dict:
    from ticketops.modeling.training import train_classifier

    params = load_params()
    train_params = params.train.model_copy(update={"model": family})
    labels = load_labels(ROOT / params.ingest.labels_path)
    train, test = read_csv(ROOT / "data/splits/train.csv"), read_csv(ROOT / "data/splits/test.csv")
    validation = read_csv(ROOT / "data/splits/validation.csv")
    embeddings = EmbeddingCache.load(ROOT / "data/embeddings/embeddings.safetensors")
    started = time.perf_counter()
    classifier = train_classifier(train_params, labels, train, embeddings, progress=False, validation=validation)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = classifier.predict(test["text"].tolist())
    predict_seconds = time.perf_counter() - started
    metrics = headline_metrics(test["label"], predicted)
    metrics["accuracy_ci95"] = [round(bound, 4) for bound in accuracy_interval(test["label"].tolist(), list(predicted))]
    if family == "cascade":
        metrics["cascade"] = cascade_metrics(classifier, test["text"].tolist(), test["label"])
    return {
        **metrics,
        "train_rows": len(train),
        "train_seconds": round(train_seconds, 1),
        "test_tickets_per_second": round(len(test) / predict_seconds, 1),
    }


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def measure_repro() -> dict:
    """Cold (fresh clone: every stage, embeddings included) and warm (nothing changed) `dvc repro`."""
    with tempfile.TemporaryDirectory(prefix="ticketops-bench-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{Path(tmp) / 'mlflow.db'}",
            "TICKETOPS_ARTIFACT_ROOT": str(Path(tmp) / "mlartifacts"),
            "TICKETOPS_PYTHON": sys.executable,
        }
        env.pop("TICKETOPS_ROOT", None)  # the clone finds its own root
        cold, cold_log = timed([str(BIN / "dvc"), "repro"], clone, env)
        warm, warm_log = timed([str(BIN / "dvc"), "repro"], clone, env)
        shutil.rmtree(clone, ignore_errors=True)
    return {
        "cold_seconds": round(cold, 1),
        "cold_stages_run": cold_log.count("Running stage"),
        "warm_seconds": round(warm, 1),
        "warm_stages_run": warm_log.count("Running stage"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=["tfidf", "hybrid", "cascade", "finetune"])
    parser.add_argument("--skip-repro", action="store_true", help="only the per-family figures")
    args = parser.parse_args()
    families = {}
    for family in args.families:
        print(f"training {family} ...", flush=True)
        families[family] = measure_family(family)
        print(f"  {family}: {families[family]}", flush=True)
    results = {"default_family": load_params().train.model, "families": families}
    if not args.skip_repro:
        print("timing dvc repro in a fresh clone (cold, then warm) ...", flush=True)
        results["dvc_repro"] = measure_repro()
        print(f"  {results['dvc_repro']}", flush=True)
    print(f"wrote {write_report('train_eval', results)}")


if __name__ == "__main__":
    main()
