"""One drift check: a window against the reference, every signal through Evidently, one verdict.

Signals and their Evidently metrics (methods and calibrated thresholds in params.yaml ``monitor``):

- text: ``ValueDrift`` on the ticket text with Evidently's domain classifier (ROC AUC of telling the two apart);
- embedding: MMD between the model's sentence embeddings (Evidently's ``MMDDriftMethod``);
- prediction: ``ValueDrift`` on the predicted label (chi-square);
- confidence: ``ValueDrift`` on the model's confidence (Kolmogorov-Smirnov);
- review_rate: ``ValueDrift`` on the needs_review flag (two-proportion z-test);
- slow_share (cascades): ``MeanValue`` of "the slow stage answered" over the tickets a cascade routed, against
  the reference's share (the cascade's fast stage routes the reference sample), two-proportion z-test;
- live_accuracy: ``MeanValue`` of "prediction was right" over feedback-labelled tickets, against the
  reference's accuracy.

A signal below its minimum sample size answers "not enough data" and does not vote. The snapshot also carries
what the dashboards plot: ticket volume per predicted category, the review rate, tickets per model version.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ticketops.config import DriftSignalParams, MonitorParams
from ticketops.monitoring.signals import DRIFT, OK, DriftVerdict, SignalResult, not_enough_data
from ticketops.monitoring.thresholds import (
    accuracy_drop_threshold,
    auc_threshold,
    mmd_threshold,
    two_proportion_p_value,
)
from ticketops.monitoring.windows import Window, embedded_rows

EMBEDDINGS = "sentence_embedding"
REVIEW_YES, REVIEW_NO = "yes", "no"
# Scores that grow with drift; the others are p-values that shrink with it.
HIGHER_IS_DRIFT = {
    "text": True,
    "embedding": True,
    "prediction": False,
    "confidence": False,
    "review_rate": False,
    "slow_share": False,
}
STAGE_VALUES = {"slow": 1.0, "fast": 0.0}  # any other stage (single-model families) is not a routing decision


@dataclass
class CheckResult:
    """The verdict and the Evidently snapshot it was read from (saved as JSON and HTML by the monitor)."""

    verdict: DriftVerdict
    snapshot: Any | None  # evidently Snapshot; None for an empty window


def _embedding_columns(dim: int) -> list[str]:
    return [f"emb_{i}" for i in range(dim)]


def routed(window: Window) -> int:
    """Tickets of the window a cascade routed (its stage is fast or slow)."""
    return int(window.frame["stage"].isin(list(STAGE_VALUES)).sum())


def evidently_frame(window: Window) -> pd.DataFrame:
    """The columns Evidently sees: categorical review flag, 1/0/NaN correctness and slow stage, one column per
    embedding dim."""
    frame = window.frame
    truth = frame["true_label"]
    correct = np.where(truth.notna(), (frame["predicted"] == truth).astype(float), np.nan)
    out = pd.DataFrame(
        {
            "text": frame["text"].to_numpy(),
            "predicted": frame["predicted"].to_numpy(),
            "confidence": frame["confidence"].to_numpy(dtype=float),
            "review": np.where(frame["needs_review"].to_numpy(dtype=bool), REVIEW_YES, REVIEW_NO),
            "correct": correct,
            "slow_stage": frame["stage"].map(STAGE_VALUES).astype(float).to_numpy(),
            "model_version": frame["model_version"].to_numpy(),
        }
    )
    if window.embeddings is not None:
        vectors = pd.DataFrame(window.embeddings, columns=_embedding_columns(window.embeddings.shape[1]))
        out = pd.concat([out, vectors], axis=1)
    return out


def _definition(dim: int | None):
    from evidently import DataDefinition

    return DataDefinition(
        text_columns=["text"],
        categorical_columns=["predicted", "review", "model_version"],
        numerical_columns=["confidence", "correct", "slow_stage"],
        embeddings={EMBEDDINGS: _embedding_columns(dim)} if dim else None,
    )


class _Plan:
    """Which metrics a window gets, keyed by signal, plus the descriptive ones the dashboards read."""

    def __init__(self, params: MonitorParams, reference: Window, current: Window):
        self.params = params
        self.reference, self.current = reference, current
        self.metrics: dict[str, Any] = {}
        self.skipped: dict[str, SignalResult] = {}
        self.thresholds: dict[str, float] = {}

    def sizes(self, name: str) -> tuple[int, int]:
        if name == "live_accuracy":
            return self.current.labelled, self.reference.labelled
        if name == "embedding":
            return embedded_rows(self.current), embedded_rows(self.reference)
        if name == "slow_share":
            return routed(self.current), routed(self.reference)
        return len(self.current), len(self.reference)

    def enough(self, name: str, p: DriftSignalParams) -> bool:
        n_cur, n_ref = self.sizes(name)
        if n_cur >= p.min_current and n_ref >= p.min_reference:
            return True
        self.skipped[name] = not_enough_data(
            name, p.method, n_cur, n_ref, p.min_current, p.min_reference, HIGHER_IS_DRIFT.get(name, False)
        )
        return False

    def build(self) -> None:
        from evidently.metrics import MeanValue, ValueDrift

        from ticketops.monitoring.evidently_metrics import EmbeddingMMDDrift

        p = self.params
        n_cur, n_ref = len(self.current), len(self.reference)
        if self.enough("text", p.text):
            self.thresholds["text"] = auc_threshold(p.text.threshold, n_ref, n_cur)
            self.metrics["text"] = ValueDrift(column="text", method=p.text.method, threshold=self.thresholds["text"])
        if self.enough("embedding", p.embedding):
            n_cur_embedded, n_ref_embedded = self.sizes("embedding")
            self.thresholds["embedding"] = mmd_threshold(p.embedding.threshold, n_ref_embedded, n_cur_embedded)
            self.metrics["embedding"] = EmbeddingMMDDrift(
                embeddings_name=EMBEDDINGS, threshold=self.thresholds["embedding"]
            )
        for name, column in (("prediction", "predicted"), ("confidence", "confidence"), ("review_rate", "review")):
            sp: DriftSignalParams = getattr(p, name)
            if self.enough(name, sp):
                self.thresholds[name] = sp.threshold
                self.metrics[name] = ValueDrift(column=column, method=sp.method, threshold=sp.threshold)
        if self.enough("live_accuracy", p.live_accuracy):
            self.metrics["live_accuracy"] = MeanValue(column="correct", tests=[])
        if routed(self.reference) and self.enough("slow_share", p.slow_share):  # cascades only
            self.thresholds["slow_share"] = p.slow_share.threshold
            self.metrics["slow_share"] = MeanValue(column="slow_stage", tests=[])

    def descriptive(self) -> list[Any]:
        from evidently.metrics import CategoryCount, MeanValue, RowCount, UniqueValueCount

        return [
            RowCount(tests=[]),
            UniqueValueCount(column="predicted", tests=[]),
            UniqueValueCount(column="model_version", tests=[]),
            CategoryCount(column="review", category=REVIEW_YES, tests=[]),
            MeanValue(column="confidence", tests=[]),
        ]


def _drift_test_failed(result: Any) -> bool | None:
    """Evidently's own verdict for a ValueDrift metric (its drift test), or None if it has none."""
    for test in getattr(result, "tests", None) or []:
        status = getattr(test.status, "value", str(test.status))
        return status == "FAIL"
    return None


def _signal_result(plan: _Plan, name: str, snapshot: Any) -> SignalResult:
    p: DriftSignalParams = getattr(plan.params, name)
    n_cur, n_ref = plan.sizes(name)
    metric = plan.metrics[name]
    context = snapshot.context
    current = context.get_metric_result(metric)
    base = {
        "name": name,
        "method": p.method,
        "n_current": n_cur,
        "n_reference": n_ref,
        "min_current": p.min_current,
        "min_reference": p.min_reference,
    }
    if name == "live_accuracy":
        live = float(current.value)
        ref = float(context.get_reference_metric_result(metric.get_metric_id()).value)
        cut = accuracy_drop_threshold(p.threshold, ref, n_ref, n_cur)
        drop = ref - live
        return SignalResult(
            **base,
            status=DRIFT if drop > cut else OK,
            higher_is_drift=True,
            score=drop,
            threshold=cut,
            current_value=live,
            reference_value=ref,
            note="score = reference accuracy - live accuracy on feedback-labelled tickets",
        )
    if name == "slow_share":
        share = float(current.value)
        ref = float(context.get_reference_metric_result(metric.get_metric_id()).value)
        p_value = two_proportion_p_value(share, n_cur, ref, n_ref)
        return SignalResult(
            **base,
            status=DRIFT if p_value < p.threshold else OK,
            higher_is_drift=False,
            score=p_value,
            threshold=p.threshold,
            current_value=share,
            reference_value=ref,
            note="score = two-proportion z-test p-value of the share of routed tickets the slow stage answered",
        )
    score = float(current.value)
    threshold = plan.thresholds[name]
    higher = HIGHER_IS_DRIFT[name]
    failed = _drift_test_failed(current)
    if failed is None:  # metrics without an Evidently drift test: the method's own rule (score > threshold)
        failed = score > threshold if higher else score < threshold
    return SignalResult(
        **base, status=DRIFT if failed else OK, higher_is_drift=higher, score=score, threshold=threshold
    )


def _values(verdict_signals: dict[str, SignalResult], current: Window, reference: Window) -> dict[str, SignalResult]:
    """Attach the plain quantities people read (review rate, mean confidence) to their signals."""
    plain = {
        "review_rate": lambda w: float(w.frame["needs_review"].mean()) if len(w) else None,
        "confidence": lambda w: float(w.frame["confidence"].mean()) if len(w) else None,
    }
    out = dict(verdict_signals)
    for name, value in plain.items():
        if name in out and out[name].current_value is None:
            out[name] = replace(out[name], current_value=value(current), reference_value=value(reference))
    return out


def check_drift(
    reference: Window,
    current: Window,
    params: MonitorParams,
    *,
    window_info: Mapping[str, Any] | None = None,
    reference_info: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    timestamp: datetime | None = None,
) -> CheckResult:
    """Run every signal that has enough data in one Evidently report and read the verdict from it."""
    from evidently import Dataset, Report
    from sklearn.exceptions import ConvergenceWarning

    started = time.perf_counter()
    both = current.embeddings is not None and reference.embeddings is not None
    if both and current.embeddings.shape[1] != reference.embeddings.shape[1]:
        raise ValueError("current and reference embeddings have different dimensions")
    plan = _Plan(params, reference, current)
    plan.build()
    dim = None
    if "embedding" in plan.metrics:
        dim = current.embeddings.shape[1]
    definition = _definition(dim)
    cur_frame, ref_frame = evidently_frame(current), evidently_frame(reference)
    if dim is None:
        cur_frame = cur_frame[[c for c in cur_frame.columns if not c.startswith("emb_")]]
        ref_frame = ref_frame[[c for c in ref_frame.columns if not c.startswith("emb_")]]
    snapshot = None
    if len(current):  # an empty window has nothing to show, and every signal lacks data anyway
        report = Report([*plan.metrics.values(), *plan.descriptive()], include_tests=True)
        with warnings.catch_warnings():
            # Evidently's text domain classifier stops SGD at 50 iterations by design; the warning is noise.
            warnings.simplefilter("ignore", ConvergenceWarning)
            # ... and its column statistics divide by zero on a window without feedback (``correct`` all NaN).
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            snapshot = report.run(
                Dataset.from_pandas(cur_frame, data_definition=definition),
                Dataset.from_pandas(ref_frame, data_definition=definition),
                tags=list(tags or []),
                metadata={k: str(v) for k, v in (metadata or {}).items()},
                timestamp=timestamp,
            )
    results = {name: _signal_result(plan, name, snapshot) for name in plan.metrics}
    results.update(plan.skipped)
    ordered = {name: results[name] for name in ("text", "embedding", "prediction", "confidence") if name in results}
    ordered.update({name: results[name] for name in ("review_rate", "live_accuracy", "slow_share") if name in results})
    ordered = _values(ordered, current, reference)
    window = {"size": len(current), "labelled": current.labelled, **(window_info or {})}
    ref_info = {"size": len(reference), "labelled": reference.labelled, **(reference_info or {})}
    verdict = DriftVerdict(ordered, window, ref_info, checked_at=time.time(), seconds=time.perf_counter() - started)
    return CheckResult(verdict, snapshot)
