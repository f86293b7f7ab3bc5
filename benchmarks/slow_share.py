"""The cascade's slow-stage share as a drift signal: its threshold on steady windows, false alarms, detection.

    .venv/bin/python benchmarks/slow_share.py [--window 500] [--calibration-windows 200] [--windows 100]

Writes reports/bench/slow_share.json. The setup is the drift benchmark's (benchmarks/drift.py), so figures
compare: Banking77 seed tickets split with the pipeline's ``assign_splits`` (40% pool, 10% validation, 50%
train) holding out ``scenarios.new_intent_labels``; a cascade trained by the pipeline's own code
(``train.model: cascade``, routing threshold chosen on validation); the reference is the validation sample
routed by that cascade's fast stage, as the monitor routes it. The pool's everyday tickets are cut in two by a
keyed hash: a third for calibration (steady windows only), two thirds for the measured windows.

Each window's statistic is the one the drift check computes (``two_proportion_p_value`` of the share of
tickets the slow stage answers, against the reference's). Routing needs only the fast stage, so a window
costs microseconds: the threshold is the smallest steady p-value rounded down to a power of ten (as for the
other p-value signals, monitoring/calibration.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from bench_pools import bench_pools
from benchmarking import write_report

from ticketops.config import load_params
from ticketops.data.labels import load_labels
from ticketops.modeling.classifiers import CascadeClassifier
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.monitoring.calibration import choose_thresholds
from ticketops.monitoring.thresholds import two_proportion_p_value
from ticketops.simulation.scenarios import SCENARIOS, scenario_window

ROOT = Path(__file__).resolve().parents[1]
NAME = "slow_share"


def prepare(params):
    """The cascade (new intents held out), its reference share, and the calibration and evaluation pools."""
    from ticketops.modeling.training import train_classifier

    pools = bench_pools(params, ROOT)
    train, validation = pools.train, pools.validation
    train_params = params.train.model_copy(update={"model": "cascade"})
    labels = load_labels(ROOT / params.ingest.labels_path)
    cache = EmbeddingCache.load(ROOT / "data/embeddings/embeddings.safetensors")
    print(f"training a cascade on {len(train)} tickets (new intents held out) ...", flush=True)
    cascade = train_classifier(train_params, labels, train, cache, progress=False, validation=validation)
    assert isinstance(cascade, CascadeClassifier)
    return cascade, pools.reference, pools.calibration_pool, pools.evaluation_pool


class Router:
    """Whether the cascade's slow stage answers each text (fast stage only, memoised per text)."""

    def __init__(self, cascade: CascadeClassifier):
        self.cascade = cascade
        self.memo: dict[str, bool] = {}

    def slow(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            answered = self.cascade.route(self.cascade.fast.predict_proba(todo))
            self.memo.update(zip(todo, (not a for a in answered), strict=True))
        return np.array([self.memo[t] for t in texts])


def p_values(router: Router, reference_share: float, n_reference: int, windows: list[pd.DataFrame]) -> list[float]:
    out = []
    for window in windows:
        share = float(router.slow(window["text"].tolist()).mean())
        out.append(two_proportion_p_value(share, len(window), reference_share, n_reference))
    return out


def draw(pool: pd.DataFrame, scenario: str, n: int, size: int, seed: int, params) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return [scenario_window(pool, scenario, size, rng, params.scenarios) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--calibration-windows", type=int, default=200)
    parser.add_argument("--windows", type=int, default=100, help="measured windows per scenario (and steady)")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    cascade, reference, calibration_pool, evaluation_pool = prepare(params)
    router = Router(cascade)
    ref_share = float(router.slow(reference["text"].tolist()).mean())
    n_ref = len(reference)
    print(f"  routing threshold {cascade.threshold:.3f}; reference slow share {ref_share:.3f} ({n_ref})", flush=True)

    steady = p_values(
        router, ref_share, n_ref, draw(calibration_pool, "steady", args.calibration_windows, args.window, 1000, params)
    )
    chosen = choose_thresholds({NAME: steady}, {NAME: False})[NAME]
    print(f"calibration on {len(steady)} steady windows: {chosen}", flush=True)
    threshold = params.monitor.slow_share.threshold
    results: dict = {
        "setup": {
            "window": args.window,
            "reference_size": n_ref,
            "routing_threshold": round(cascade.threshold, 4),
            "reference_slow_share": round(ref_share, 4),
            "mixture": params.scenarios.mixture,
            "threshold_in_params": threshold,
            "min_current": params.monitor.slow_share.min_current,
        },
        "calibration": chosen,
        "scenarios": {},
    }
    for i, scenario in enumerate(SCENARIOS):
        windows = draw(evaluation_pool, scenario, args.windows, args.window, 10 + i, params)
        values = p_values(router, ref_share, n_ref, windows)
        shares = [float(router.slow(w["text"].tolist()).mean()) for w in windows]
        results["scenarios"][scenario] = {
            "windows": len(values),
            "drift_rate": round(float(np.mean(np.asarray(values) < threshold)), 4),
            "slow_share_mean": round(float(np.mean(shares)), 4),
            "slow_share_min": round(float(np.min(shares)), 4),
            "slow_share_max": round(float(np.max(shares)), 4),
        }
        print(f"{scenario}: {results['scenarios'][scenario]}", flush=True)
    print(f"wrote {write_report(NAME, results)}")


if __name__ == "__main__":
    main()
