"""Encoder runtimes compared: torch fp32 (sentence-transformers) against the exported graph on ONNX Runtime.

    .venv/bin/python benchmarks/encoder.py [--root DIR] [--rounds 3] [--latency-texts 200]

Writes reports/bench/encoder.json. ``--root`` is a checkout whose ``dvc repro`` produced data/splits/ and the
embed stage's cache (default: this one). What is measured, on the test split's texts:

- throughput: the texts in calls of ``TICKETOPS_BATCH_MAX_SIZE`` (64, the service's calls under load), each
  call encoded in length-sorted mini-batches of ``TICKETOPS_ENCODER_BATCH_SIZE`` (16), on
  ``TICKETOPS_THREADS`` threads: texts/s (wall clock) and CPU-seconds per 1,000 texts (this process);
- latency: one text per call (the service under light load), p50 and p99;
- validation accuracy: the hybrid is trained ONCE by the pipeline's own code on the embed stage's (torch)
  embeddings, then validation is scored with each encoder's own embeddings of the validation texts, so an
  accuracy difference is the encoder's alone.

Variants: torch fp32; ONNX Runtime fp32 (the graph ``classifier.save`` exports, as the train stage does), with
idle threads sleeping (the default) and spinning; ONNX Runtime int8 (``quantize_dynamic``, per-tensor and
per-channel weights), worth keeping only if its validation accuracy is within 0.1 point of fp32 AND it saves
at least 10% CPU per text; torch bf16 only on a CPU with AMX or AVX-512 BF16 (ONNX Runtime's CPU provider has
no general bf16 path). Every call (and every one-text request) is made by each variant in turn, so on a
shared machine a neighbour's burst of load falls on all of them alike; CPU-seconds per text are the figure
least moved by such load.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the service sets it, before torch is imported

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmarking import write_report

from ticketops.config import load_params
from ticketops.data.labels import load_labels
from ticketops.fileio import read_csv, read_json
from ticketops.modeling.bf16 import TorchBf16Encoder, cpu_bf16_flags, torch_cpu_capability
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder import encode, set_threads
from ticketops.modeling.onnx_encoder import OnnxEncoder
from ticketops.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
NAME = "encoder"
MAX_DROP_POINTS = 0.1  # the bar for keeping a quantized graph
MIN_INT8_SAVING = 0.9  # and quantization is only worth its accuracy risk if it saves >= 10% CPU per text


def train_hybrid(root: Path, params):
    """The hybrid the train stage builds (same code and parameters) on the embed stage's torch embeddings."""
    from ticketops.modeling.training import train_classifier

    labels = load_labels(root / params.ingest.labels_path)
    train = read_csv(root / "data/splits/train.csv")
    cache = EmbeddingCache.load(root / "data/embeddings/embeddings.safetensors")
    train_params = params.train.model_copy(update={"model": "hybrid"})
    return train_classifier(train_params, labels, train, cache, progress=False), cache


def quantized(folder: Path, record: dict, threads: int, per_channel: bool) -> OnnxEncoder:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = folder / f"encoder.int8{'.per-channel' if per_channel else ''}.onnx"
    quantize_dynamic(folder / record["graph"], graph, weight_type=QuantType.QInt8, per_channel=per_channel)
    return OnnxEncoder(graph, folder / record["tokenizer"], record["max_length"], threads, record=record)


def throughput(encoders: dict, texts: list[str], call_size: int, mini_batch: int) -> dict[str, tuple[float, float]]:
    """Per encoder (texts/s, CPU-seconds per 1,000 texts) over ``texts`` in calls of ``call_size``.

    Every call is made by every encoder in turn (the order rotating), so on a shared machine a burst of
    someone else's load lands on all of them alike instead of on whichever ran during it."""
    wall, cpu = dict.fromkeys(encoders, 0.0), dict.fromkeys(encoders, 0.0)
    names = list(encoders)
    for k, start in enumerate(range(0, len(texts), call_size)):
        call = texts[start : start + call_size]
        for name in names[k % len(names) :] + names[: k % len(names)]:
            w, c = time.perf_counter(), time.process_time()
            encode(encoders[name], call, batch_size=mini_batch)
            wall[name] += time.perf_counter() - w
            cpu[name] += time.process_time() - c
    return {name: (len(texts) / wall[name], cpu[name] / len(texts) * 1000.0) for name in names}


def measure(encoders: dict, texts: list[str], latency_texts: list[str], settings, rounds: int) -> dict:
    speed = {name: {"texts_per_s": [], "cpu_s_per_1000": []} for name in encoders}
    latency = {name: [] for name in encoders}
    for encoder in encoders.values():
        encode(encoder, texts[:64], batch_size=settings.encoder_batch_size)  # warm-up: allocations, kernels
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}", flush=True)
        measured = throughput(encoders, texts, settings.batch_max_size, settings.encoder_batch_size)
        for name, (rate, cpu) in measured.items():
            speed[name]["texts_per_s"].append(rate)
            speed[name]["cpu_s_per_1000"].append(cpu)
            print(f"  {name}: {rate:.1f} texts/s, {cpu:.1f} CPU-s per 1,000", flush=True)
    for text in latency_texts:  # alternate per text: a burst of load hits every variant
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encode(encoder, [text], batch_size=1)
            latency[name].append((time.perf_counter() - started) * 1000.0)
    return {
        name: {
            "texts_per_s": round(float(np.median(speed[name]["texts_per_s"])), 1),
            "texts_per_s_rounds": [round(x, 1) for x in speed[name]["texts_per_s"]],
            "cpu_s_per_1000_texts": round(float(np.median(speed[name]["cpu_s_per_1000"])), 2),
            "one_text_latency_ms": {
                "p50": round(float(np.percentile(latency[name], 50)), 2),
                "p99": round(float(np.percentile(latency[name], 99)), 2),
            },
        }
        for name in encoders
    }


def accuracy(classifier, encoders: dict, validation, cache: EmbeddingCache, mini_batch: int) -> dict:
    """Validation accuracy of one trained head with each encoder's embeddings; cosines to the torch rows."""
    texts, truth = validation["text"].tolist(), validation["label"].to_numpy()
    cached = cache.lookup(texts)
    out = {}
    reference_predicted = None
    for name, encoder in {"embed stage cache (torch)": None, **encoders}.items():
        rows = cached if encoder is None else encode(encoder, texts, batch_size=mini_batch)
        proba = classifier.predict_proba(texts, rows)
        predicted = np.asarray(classifier.labels)[proba.argmax(axis=1)]
        reference_predicted = predicted if reference_predicted is None else reference_predicted
        cosine = (rows * cached).sum(axis=1)
        out[name] = {
            "validation_accuracy": round(float((predicted == truth).mean()), 6),
            "predictions_changed_vs_cache": int((predicted != reference_predicted).sum()),
            "cosine_to_cached_torch_rows": {
                "mean": round(float(cosine.mean()), 6),
                "min": round(float(cosine.min()), 6),
            },
        }
    return out


def int8_verdict(drops: dict, accurate: list, kept: list, speed: dict, fp32_cpu: float) -> str:
    """Why int8 is on or off, with the figures."""
    figures = "; ".join(
        f"{name}: {drop:+.2f} points drop, {speed[name]['cpu_s_per_1000_texts']} CPU-s per 1,000 texts "
        f"(fp32 {fp32_cpu})"
        for name, drop in drops.items()
    )
    if kept:
        return f"worth keeping: {', '.join(kept)} ({figures})"
    if accurate:
        return f"off: {', '.join(accurate)} is within {MAX_DROP_POINTS} point but saves < 10% CPU ({figures})"
    return f"off: every int8 graph drops validation accuracy by more than {MAX_DROP_POINTS} point ({figures})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout with data/splits and data/embeddings")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-texts", type=int, default=200)
    args = parser.parse_args()
    params, settings = load_params(), ServiceSettings()
    threads = settings.threads
    set_threads(threads)
    test = read_csv(args.root / "data/splits/test.csv")["text"].tolist()
    validation = read_csv(args.root / "data/splits/validation.csv")
    print(f"training the hybrid on {args.root / 'data/splits/train.csv'} (embed stage's torch embeddings) ...")
    classifier, cache = train_hybrid(args.root, params)
    set_threads(threads)  # training pinned params.train.threads; measure on the service's
    with tempfile.TemporaryDirectory(prefix="ticketops-bench-encoder-") as tmp:
        folder = Path(tmp) / "model"
        started = time.perf_counter()
        classifier.save(folder)  # what the train stage does: the graph is exported here
        save_seconds = time.perf_counter() - started
        record = read_json(folder / "model.json")["onnx"]
        flags = cpu_bf16_flags()
        encoders = {
            "torch fp32": classifier.encoder,
            "onnxruntime fp32": OnnxEncoder.from_record(folder, record, threads),
            "onnxruntime fp32, spinning threads": OnnxEncoder(
                folder / record["graph"], folder / record["tokenizer"], record["max_length"], threads, spin=True
            ),
            "onnxruntime int8 per-tensor": quantized(folder, record, threads, per_channel=False),
            "onnxruntime int8 per-channel": quantized(folder, record, threads, per_channel=True),
        }
        if flags:
            encoders["torch bf16"] = TorchBf16Encoder(classifier.encoder)
        sizes = {p.relative_to(folder).as_posix(): round(p.stat().st_size / 2**20, 1) for p in folder.glob("**/*.onnx")}
        scores = accuracy(classifier, encoders, validation, cache, settings.encoder_batch_size)
        speed = measure(encoders, test, test[: args.latency_texts], settings, args.rounds)
    fp32 = scores["onnxruntime fp32"]["validation_accuracy"]
    int8 = {name: round((fp32 - scores[name]["validation_accuracy"]) * 100, 2) for name in scores if "int8" in name}
    if not flags:
        bf16 = "fell back to ONNX Runtime fp32: the CPU has no AMX or AVX-512 BF16"
    elif speed["torch bf16"]["texts_per_s"] > speed["onnxruntime fp32"]["texts_per_s"]:
        bf16 = "torch bf16 is faster here (the service's auto backend times both at load and keeps the faster)"
    else:
        bf16 = "ONNX Runtime fp32 is faster than torch bf16 here"
    fp32_cpu = speed["onnxruntime fp32"]["cpu_s_per_1000_texts"]
    accurate = [name for name, drop in int8.items() if drop <= MAX_DROP_POINTS]
    kept = [name for name in accurate if speed[name]["cpu_s_per_1000_texts"] < MIN_INT8_SAVING * fp32_cpu]
    path = write_report(
        NAME,
        {
            "setup": {
                "texts": len(test),
                "validation_texts": len(validation),
                "threads": threads,
                "call_size": settings.batch_max_size,
                "encoder_mini_batch": settings.encoder_batch_size,
                "rounds": args.rounds,
                "latency_texts": min(args.latency_texts, len(test)),
                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                "accuracy_method": "one hybrid head trained on the embed stage's torch embeddings; validation "
                "scored with each encoder's own embeddings",
                "shared_machine": "2 cores shared with other jobs while measured: rounds alternate the variants",
            },
            "graph": {"record": record, "files_mib": sizes, "save_with_export_seconds": round(save_seconds, 1)},
            "cpu": {"bf16_flags": flags, "torch_cpu_capability": torch_cpu_capability()},
            "speed": speed,
            "accuracy": scores,
            "decisions": {
                "bf16": bf16,
                "int8_accuracy_drop_points": int8,
                "int8": int8_verdict(int8, accurate, kept, speed, fp32_cpu),
            },
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
