"""Drift detection: detection rate per scenario, false alarms on steady traffic, tickets to detect, speed.

    .venv/bin/python benchmarks/drift.py                 # measure with params.yaml's calibration
    .venv/bin/python benchmarks/drift.py --calibrate     # choose the thresholds (steady windows only)

Writes reports/bench/drift.json (or reports/bench/drift_calibration.json). Setup, mirroring production:

- Banking77 seed tickets are split with the pipeline's own ``assign_splits`` (40% pool, 10% validation, 50%
  train) holding out ``scenarios.new_intent_labels``: the benchmark's model (``train.model`` family, the
  pipeline's own training code) has never seen the new intents, and neither has its reference sample.
- The reference is the validation split scored by that model, as the evaluate stage stores it.
- Current windows are drawn from the pool, which shares no ticket with the train split or the reference.
  The pool's everyday tickets are cut in two by a keyed hash: a third for calibration (steady windows only),
  two thirds for the measured windows, so thresholds are never chosen on the windows they are judged on.
- Each window gets agent labels on ``--feedback-rate`` of its tickets (live accuracy).
- Embeddings of seed texts come from the embed stage's cache when present (identical vectors, less waiting);
  the speed figure embeds every ticket afresh with the model's own encoder, as the monitor does.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from bench_pools import bench_pools
from benchmarking import write_report

from ticketops.config import MonitorParams, Params, load_params
from ticketops.data.labels import load_labels
from ticketops.evaluation.metrics import review_threshold
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.predictor import needs_review, top1
from ticketops.monitoring.calibration import choose_thresholds, standard_score
from ticketops.monitoring.check import check_drift
from ticketops.monitoring.embedding import model_embedder
from ticketops.monitoring.signals import DriftVerdict
from ticketops.monitoring.windows import Window, embedding_sample, keep_embeddings, make_window, with_embeddings
from ticketops.simulation.scenarios import SCENARIOS, everyday, scenario_window

ROOT = Path(__file__).resolve().parents[1]
DRIFT_SCENARIOS = [s for s in SCENARIOS if s != "steady"]


@dataclass
class Bench:
    """The benchmark's model, its reference window and the ticket pools windows are drawn from."""

    params: Params
    classifier: object
    threshold: float
    reference: Window
    calibration_pool: pd.DataFrame
    evaluation_pool: pd.DataFrame
    scenario_pool: pd.DataFrame
    embed: Callable[[list[str]], np.ndarray]
    sizes: dict[str, int]


def cached_embedder(cache: EmbeddingCache, embed: Callable) -> Callable[[list[str]], np.ndarray]:
    def run(texts: list[str]) -> np.ndarray:
        missing = cache.missing(texts)
        if missing:
            cache.fill(missing, lambda batch: np.asarray(embed(batch), dtype=np.float32))
        return cache.lookup(texts)

    return run


def score(bench: Bench, texts: list[str], embeddings: np.ndarray | None) -> tuple[list[str], np.ndarray]:
    """Labels and confidences; an encoder model reuses the embeddings the drift check needs anyway."""
    clf = bench.classifier
    if embeddings is not None and hasattr(clf, "embed"):
        proba = clf.predict_proba(texts, embeddings=embeddings)
    else:
        proba = clf.predict_proba(texts)
    return top1(clf.labels, proba)


def window_of(bench: Bench, frame: pd.DataFrame, rng: np.random.Generator, feedback_rate: float, embed=None) -> Window:
    texts = frame["text"].tolist()
    embeddings = (embed or bench.embed)(texts)
    labels, confidence = score(bench, texts, embeddings)
    truth = np.where(rng.random(len(frame)) < feedback_rate, frame["label"].to_numpy(dtype=object), None)
    window = make_window(texts, labels, confidence, needs_review(confidence, bench.threshold), truth, "bench")
    # As the monitor: the embedding signal sees a seeded sample when the window exceeds its cap.
    cap = bench.params.monitor.embedding.max_current
    return keep_embeddings(Window(window.frame, embeddings), embedding_sample(len(window), cap))


def prepare(params: Params, family: str | None) -> Bench:
    from ticketops.modeling.training import train_classifier

    sc = params.scenarios
    pools = bench_pools(params, ROOT)
    train, pool, reference_frame = pools.train, pools.pool, pools.reference
    calibration_pool, evaluation_pool = pools.calibration_pool, pools.evaluation_pool
    train_params = params.train.model_copy(update={"model": family or params.train.model})
    cache_path = ROOT / "data/embeddings/embeddings.safetensors"
    cache = EmbeddingCache.load(cache_path, encoder=params.embed.encoder)
    labels = load_labels(ROOT / params.ingest.labels_path)
    if train_params.model in ("hybrid",):
        from ticketops.modeling.encoder import base_encoder_path, encode, load_encoder

        missing = cache.missing(train["text"].tolist())
        if missing:
            encoder = load_encoder(base_encoder_path(cache.encoder), threads=train_params.threads)
            cache.fill(missing, lambda batch: encode(encoder, batch))
    started = time.perf_counter()
    print(f"training the benchmark's {train_params.model} model on {len(train)} tickets ...", flush=True)
    classifier = train_classifier(train_params, labels, train, cache, progress=False)
    print(f"  trained in {time.perf_counter() - started:.0f}s", flush=True)
    embed = cached_embedder(cache, model_embedder(classifier, threads=train_params.threads))
    bench = Bench(params, classifier, 0.5, None, calibration_pool, evaluation_pool, pool, embed, {})  # type: ignore[arg-type]
    texts = reference_frame["text"].tolist()
    embeddings = embed(texts)
    predicted, confidence = score(bench, texts, embeddings)
    bench.threshold = review_threshold(
        confidence,
        np.asarray(predicted) == reference_frame["label"].to_numpy(),
        params.evaluate.review_precision_target,
    )
    ref = make_window(
        texts, predicted, confidence, needs_review(confidence, bench.threshold), reference_frame["label"], "bench"
    )
    bench.reference = Window(ref.frame, embeddings)
    bench.sizes = {
        "train": len(train),
        "reference": len(bench.reference),
        "calibration_pool": len(calibration_pool),
        "evaluation_pool_everyday": len(everyday(evaluation_pool, sc)),
        "new_intent_tickets": int(pool["label"].isin(sc.new_intent_labels).sum()),
        "surge_tickets": int(everyday(pool, sc)["label"].isin(sc.surge_labels).sum()),
    }
    accuracy = float(np.mean(np.asarray(predicted) == reference_frame["label"].to_numpy()))
    bench.sizes["reference_accuracy_x1000"] = round(accuracy * 1000)
    return bench


def run(bench: Bench, frame: pd.DataFrame, rng: np.random.Generator, monitor: MonitorParams, rate: float):
    window = window_of(bench, frame, rng, rate)
    return check_drift(bench.reference, window, monitor).verdict


def rates(verdicts: list[DriftVerdict]) -> dict:
    names = list(verdicts[0].signals)
    return {
        "windows": len(verdicts),
        "drift_rate": round(float(np.mean([v.drift_detected for v in verdicts])), 4),
        "per_signal": {n: round(float(np.mean([v.signals[n].drift_detected for v in verdicts])), 4) for n in names},
    }


def windows(bench: Bench, scenario: str, n: int, size: int, seed: int, monitor: MonitorParams, rate: float, pool=None):
    rng = np.random.default_rng(seed)
    base = bench.evaluation_pool if pool is None else pool
    verdicts = []
    for _ in range(n):
        frame = scenario_window(base, scenario, size, rng, bench.params.scenarios, injected_pool=bench.scenario_pool)
        verdicts.append(run(bench, frame, rng, monitor, rate))
    return verdicts


def tickets_to_detect(bench: Bench, scenario: str, streams: int, size: int, step: int, seed: int, monitor, rate):
    """Drift starts at ticket 0 of a stream; the monitor checks the newest ``size`` tickets every ``step``."""
    rng = np.random.default_rng(seed)
    sc = bench.params.scenarios
    found: list[int | None] = []
    for _ in range(streams):
        before = scenario_window(bench.evaluation_pool, "steady", size, rng, sc)
        after = scenario_window(bench.evaluation_pool, scenario, size, rng, sc, injected_pool=bench.scenario_pool)
        hit = None
        for k in range(step, size + 1, step):
            frame = pd.concat([before.iloc[k:], after.iloc[:k]], ignore_index=True)
            if run(bench, frame, rng, monitor, rate).drift_detected:
                hit = k
                break
        found.append(hit)
    detected = [k for k in found if k is not None]
    return {
        "streams": streams,
        "check_every": step,
        "window": size,
        "detected_within_window": round(len(detected) / streams, 4),
        "median_tickets": float(np.median(detected)) if detected else None,
        "p90_tickets": float(np.quantile(detected, 0.9)) if detected else None,
        "max_tickets": max(detected) if detected else None,
        "per_stream": found,
    }


def speed(bench: Bench, size: int, repeats: int, seed: int, monitor: MonitorParams, rate: float) -> dict:
    """Seconds per window of ``size`` fresh tickets: embed with the model's encoder (no cache), then every signal.

    Measured twice per window: as configured (the embedding signal's seeded sample of
    ``monitor.embedding.max_current`` tickets) and with every ticket embedded.
    """
    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(seed)
    cached = model_embedder(bench.classifier)
    fresh = getattr(cached, "embed", cached)  # the encoder itself: nothing comes from a cache
    runs: dict[str, dict[str, list[float]]] = {"configured": {}, "all_embedded": {}}
    for _ in range(repeats):
        frame = scenario_window(bench.evaluation_pool, "steady", size, rng, bench.params.scenarios)
        texts = frame["text"].tolist()
        labels, confidence = score(bench, texts, bench.embed(texts))  # the log holds predictions already
        truth = np.where(rng.random(size) < rate, frame["label"].to_numpy(dtype=object), None)
        window = make_window(texts, labels, confidence, needs_review(confidence, bench.threshold), truth, "bench")
        for name, cap in (("configured", monitor.embedding.max_current), ("all_embedded", None)):
            started = time.perf_counter()
            embedded = with_embeddings(window, fresh, cap)
            embed_s = time.perf_counter() - started
            started = time.perf_counter()
            check_drift(bench.reference, embedded, monitor)
            check_s = time.perf_counter() - started
            for key, value in (("embed", embed_s), ("check", check_s), ("total", embed_s + check_s)):
                runs[name].setdefault(key, []).append(value)
    out: dict = {
        "window": size,
        "repeats": repeats,
        "embedding_sample": monitor.embedding.max_current,
        "note": "monitor path: embed (fresh, no cache) + every signal; predictions come from the log",
        "load_average_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
    }
    for name, values in runs.items():
        out[name] = {
            "seconds_per_window_mean": round(float(np.mean(values["total"])), 2),
            "seconds_per_window_max": round(float(np.max(values["total"])), 2),
            "embed_seconds_mean": round(float(np.mean(values["embed"])), 2),
            "check_seconds_mean": round(float(np.mean(values["check"])), 2),
        }
    out["seconds_per_window_mean"] = out["configured"]["seconds_per_window_mean"]
    return out


def calibrate(bench: Bench, n: int, size: int, seed: int, rate: float) -> dict:
    """Steady windows from the calibration pool only (scores do not depend on the thresholds in force)."""
    loose = bench.params.monitor
    verdicts = windows(bench, "steady", n, size, seed, loose, rate, pool=bench.calibration_pool)
    names = list(verdicts[0].signals)
    scores = {name: [standard_score(v.signals[name]) for v in verdicts] for name in names}
    higher = {name: verdicts[0].signals[name].higher_is_drift for name in names}
    return {"window": size, "feedback_rate": rate, "signals": choose_thresholds(scores, higher)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="choose thresholds on steady windows and stop")
    parser.add_argument("--family", default=None, help="model family (default: train.model in params.yaml)")
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--windows", type=int, default=30, help="windows per scenario (and steady)")
    parser.add_argument("--calibration-windows", type=int, default=200)
    parser.add_argument("--streams", type=int, default=8, help="drift onsets per scenario for tickets-to-detect")
    parser.add_argument("--feedback-rate", type=float, default=0.3)
    parser.add_argument("--speed-window", type=int, default=1000)
    parser.add_argument("--speed-repeats", type=int, default=3)
    args = parser.parse_args()
    params = load_params()
    bench = prepare(params, args.family)
    setup = {
        "family": args.family or params.train.model,
        "window": args.window,
        "mixture": params.scenarios.mixture,
        "feedback_rate": args.feedback_rate,
        "review_threshold": round(bench.threshold, 4),
        "sizes": bench.sizes,
        "monitor_params": params.monitor.model_dump(mode="json"),
    }
    if args.calibrate:
        print(f"calibrating on {args.calibration_windows} steady windows of {args.window} ...", flush=True)
        result = calibrate(bench, args.calibration_windows, args.window, 1000, args.feedback_rate)
        for name, row in result["signals"].items():
            print(f"  {name}: {row}", flush=True)
        print(f"wrote {write_report('drift_calibration', {'setup': setup, **result})}")
        return
    m = params.monitor
    results: dict = {"setup": setup}
    print(f"steady: {args.windows} windows of {args.window} ...", flush=True)
    results["false_alarms"] = {
        str(args.window): rates(windows(bench, "steady", args.windows, args.window, 1, m, args.feedback_rate))
    }
    for size in (200, 1000):
        print(f"steady: 20 windows of {size} (thresholds follow the window size) ...", flush=True)
        results["false_alarms"][str(size)] = rates(windows(bench, "steady", 20, size, 2 + size, m, args.feedback_rate))
    results["scenarios"] = {}
    for i, scenario in enumerate(DRIFT_SCENARIOS):
        print(f"{scenario}: {args.windows} windows ...", flush=True)
        measured = rates(windows(bench, scenario, args.windows, args.window, 10 + i, m, args.feedback_rate))
        print(f"  {measured}", flush=True)
        print(f"{scenario}: tickets to detect over {args.streams} onsets ...", flush=True)
        measured["tickets_to_detect"] = tickets_to_detect(
            bench, scenario, args.streams, args.window, 50, 20 + i, m, args.feedback_rate
        )
        print(f"  {measured['tickets_to_detect']}", flush=True)
        results["scenarios"][scenario] = measured
    print(f"speed: {args.speed_repeats} windows of {args.speed_window} fresh tickets ...", flush=True)
    results["speed"] = speed(bench, args.speed_window, args.speed_repeats, 30, m, args.feedback_rate)
    results["goals"] = {
        "detection_rate_min": 0.95,
        "false_alarm_rate_max": 0.05,
        "seconds_per_1000_max": 10.0,
        "met": {
            "detection": all(s["drift_rate"] >= 0.95 for s in results["scenarios"].values()),
            "false_alarms": results["false_alarms"][str(args.window)]["drift_rate"] <= 0.05,
            "speed": results["speed"]["seconds_per_window_mean"] <= 10.0,
        },
    }
    print(f"  {results['speed']}\n  false alarms: {results['false_alarms']}\n  goals: {results['goals']['met']}")
    print(f"wrote {write_report('drift', results)}")


if __name__ == "__main__":
    main()
