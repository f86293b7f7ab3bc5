"""Canary analysis: PromQL over one step's window, canary against stable on the same traffic.

Each check answers pass, fail or inconclusive. Too few canary (or stable) requests, a missing series, NaN
or Prometheus unreachable are inconclusive: the controller pauses and retries, and never promotes on them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np

from ticketops.config import RolloutChecks
from ticketops.rollout.promql import PrometheusUnavailable, PromQL

CLASSIFY_ROUTE = "/classify"
NULL_DRAWS = 400
ONE_SIDED_95 = 1.645  # standard normal quantile


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: Verdict
    canary: float | None = None
    stable: float | None = None
    limit: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    checks: list[CheckResult] = field(default_factory=list)
    window_s: int = 0
    canary_requests: float | None = None

    @property
    def reason(self) -> str:
        picked = [c for c in self.checks if c.verdict == self.verdict] if self.verdict != Verdict.PASS else []
        return "; ".join(f"{c.name}: {c.detail}" for c in picked) or "all checks passed"

    def as_dict(self) -> dict:
        return {
            "verdict": str(self.verdict),
            "window_s": self.window_s,
            "canary_requests": self.canary_requests,
            "checks": [{**asdict(c), "verdict": str(c.verdict)} for c in self.checks],
        }


def combine(checks: list[CheckResult]) -> Verdict:
    """Any failure fails; otherwise any missing measurement is inconclusive; otherwise pass."""
    verdicts = {c.verdict for c in checks}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in verdicts or not checks:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def total_variation(canary: dict[str, float], stable: dict[str, float]) -> tuple[float, float]:
    """Total variation distance between two label distributions, and its 95th percentile under the null
    that both tracks draw from one distribution (multinomial resampling of the pooled counts)."""
    labels = sorted(set(canary) | set(stable))
    c = np.array([max(canary.get(k, 0.0), 0.0) for k in labels])
    s = np.array([max(stable.get(k, 0.0), 0.0) for k in labels])
    nc, ns = round(c.sum()), round(s.sum())
    observed = 0.5 * np.abs(c / c.sum() - s / s.sum()).sum()
    pooled = (c + s) / (c + s).sum()
    rng = np.random.default_rng(0)
    null_c = rng.multinomial(nc, pooled, size=NULL_DRAWS) / nc
    null_s = rng.multinomial(ns, pooled, size=NULL_DRAWS) / ns
    null = 0.5 * np.abs(null_c - null_s).sum(axis=1)
    return float(observed), float(np.quantile(null, 0.95))


def new_intent_share(canary: dict[str, float], stable: dict[str, float]) -> float:
    """Share of the canary's predictions on intents the stable track has no series for: intents it never learnt.

    A retrained model that learnt new intents must diverge by up to that share (stable spreads the same
    tickets over its old intents), so it is allowed on top of the limit. The service declares a series for
    every intent its model knows at load (``ServiceMetrics.declare_labels``), at 0 until predicted.
    """
    total = sum(canary.values())
    if total <= 0:
        return 0.0
    return sum(v for label, v in canary.items() if label not in stable) / total


def accuracy_noise(canary: float, n_canary: float, stable: float, n_stable: float) -> float:
    """How far below stable's accuracy the canary's may fall by chance alone: the one-sided 95% bound of the
    difference of two proportions under the null that both tracks are equally accurate (pooled).

    With the 20-odd labels a step window holds, a 3-point drop is noise (one standard error is ~8 points):
    a fixed margin alone failed good canaries at random.
    """
    pooled = (canary * n_canary + stable * n_stable) / (n_canary + n_stable)
    return ONE_SIDED_95 * math.sqrt(pooled * (1 - pooled) * (1 / n_canary + 1 / n_stable))


def window_increase(metric: str, selector: str, window: int) -> str:
    """PromQL for how much each counter series grew over the last ``window`` seconds.

    ``increase()`` alone needs two samples of a series, so a series first seen inside the window loses its
    first count; prometheus_client creates a labelled series on first use, so every label a fresh canary
    predicts lost one prediction (a canary identical to stable, 77 labels: 17 of 64 predictions counted,
    review rate 101%). A series absent at the window's start began at 0 inside it: its value is its growth.
    """
    series = f"{metric}{{{selector}}}"
    return f"(({series} unless {series} offset {window}s) or increase({series}[{window}s]))"


class CanaryAnalysis:
    """The checks of one step. ``track`` is the Prometheus target label that tells the two tracks apart."""

    def __init__(self, prometheus: PromQL, checks: RolloutChecks):
        self.prom = prometheus
        self.limits = checks

    def _sum(self, metric: str, selector: str, window: int) -> float | None:
        return self.prom.scalar("sum" + window_increase(metric, selector, window))

    def run(self, window_s: int, canary_version: str, stable_version: str) -> Analysis:
        window = max(int(window_s), 1)
        try:
            canary_requests = self._sum("ticketops_requests_total", f'track="canary",route="{CLASSIFY_ROUTE}"', window)
            stable_requests = self._sum("ticketops_requests_total", f'track="stable",route="{CLASSIFY_ROUTE}"', window)
            minimum = self.limits.min_canary_requests
            for track, requests, purpose in (
                ("canary", canary_requests, ""),
                ("stable", stable_requests, " to compare"),
            ):
                if requests is None or requests < minimum:
                    reason = f"{requests or 0:.0f} {track} requests in {window}s, need {minimum}{purpose}"
                    check = CheckResult(
                        "traffic", Verdict.INCONCLUSIVE, canary_requests, stable_requests, minimum, reason
                    )
                    return Analysis(Verdict.INCONCLUSIVE, [check], window, canary_requests)
            checks = [
                self.error_rate(window, canary_requests, stable_requests),
                self.latency(window),
                self.divergence(window),
                self.review_rate(window),
                self.live_accuracy(window, canary_version, stable_version),
            ]
        except PrometheusUnavailable as exc:
            return Analysis(
                Verdict.INCONCLUSIVE, [CheckResult("prometheus", Verdict.INCONCLUSIVE, detail=str(exc))], window
            )
        return Analysis(combine(checks), checks, window, canary_requests)

    def error_rate(self, window: int, canary_requests: float, stable_requests: float) -> CheckResult:
        errors = {
            track: self._sum(
                "ticketops_requests_total", f'track="{track}",route="{CLASSIFY_ROUTE}",status=~"5.."', window
            )
            or 0.0
            for track in ("canary", "stable")
        }
        canary, stable = errors["canary"] / canary_requests, errors["stable"] / stable_requests
        limit = stable + self.limits.max_error_rate_increase
        verdict = Verdict.FAIL if canary > limit else Verdict.PASS
        return CheckResult("error_rate", verdict, canary, stable, limit, f"canary {canary:.2%} vs stable {stable:.2%}")

    def latency(self, window: int) -> CheckResult:
        def p99(track: str) -> float | None:
            return self.prom.scalar(
                "histogram_quantile(0.99, sum by (le) (increase("
                f'ticketops_request_latency_seconds_bucket{{track="{track}",route="{CLASSIFY_ROUTE}"}}[{window}s])))'
            )

        canary, stable = p99("canary"), p99("stable")
        if canary is None or stable is None:
            return CheckResult("latency_p99", Verdict.INCONCLUSIVE, canary, stable, detail="no latency histogram")
        limit = max(stable * self.limits.max_p99_ratio, self.limits.p99_floor_s)
        verdict = Verdict.FAIL if canary > limit else Verdict.PASS
        return CheckResult(
            "latency_p99",
            verdict,
            canary,
            stable,
            limit,
            f"canary {canary * 1000:.0f} ms vs stable {stable * 1000:.0f} ms",
        )

    def divergence(self, window: int) -> CheckResult:
        def labels(track: str) -> dict[str, float]:
            return self.prom.by_label(
                "sum by (label) " + window_increase("ticketops_predictions_total", f'track="{track}"', window), "label"
            )

        canary, stable = labels("canary"), labels("stable")
        if sum(canary.values()) < 1 or sum(stable.values()) < 1:
            return CheckResult("prediction_divergence", Verdict.INCONCLUSIVE, detail="no predictions counted")
        observed, noise = total_variation(canary, stable)
        learnt = new_intent_share(canary, stable)
        limit = noise + self.limits.max_prediction_divergence + learnt
        verdict = Verdict.FAIL if observed > limit else Verdict.PASS
        detail = f"total variation {observed:.3f} (sampling noise {noise:.3f}"
        detail += f", {learnt:.3f} on intents stable cannot predict)" if learnt else ")"
        return CheckResult("prediction_divergence", verdict, observed, noise, limit, detail)

    def review_rate(self, window: int) -> CheckResult:
        def rate(track: str) -> float | None:
            predicted = self._sum("ticketops_predictions_total", f'track="{track}"', window)
            review = self._sum("ticketops_needs_review_total", f'track="{track}"', window)
            if not predicted:
                return None
            return (review or 0.0) / predicted

        canary, stable = rate("canary"), rate("stable")
        if canary is None or stable is None:
            return CheckResult("review_rate", Verdict.INCONCLUSIVE, canary, stable, detail="no predictions counted")
        limit = stable + self.limits.max_review_rate_increase
        verdict = Verdict.FAIL if canary > limit else Verdict.PASS
        return CheckResult("review_rate", verdict, canary, stable, limit, f"canary {canary:.1%} vs stable {stable:.1%}")

    def live_accuracy(self, window: int, canary_version: str, stable_version: str) -> CheckResult:
        """Only when both versions have enough feedback labels; otherwise it passes as 'not yet measurable'
        (feedback is optional traffic, unlike requests: its absence alone must not block every rollout)."""

        def accuracy(version: str) -> tuple[float | None, float]:
            total = self._sum("ticketops_feedback_total", f'model_version="{version}"', window) or 0.0
            correct = self._sum("ticketops_feedback_total", f'model_version="{version}",correct="true"', window) or 0.0
            return (correct / total if total else None), total

        (canary, n_canary), (stable, n_stable) = accuracy(canary_version), accuracy(stable_version)
        minimum = self.limits.min_feedback
        if canary is None or stable is None or n_canary < minimum or n_stable < minimum:
            return CheckResult(
                "live_accuracy",
                Verdict.PASS,
                canary,
                stable,
                detail=f"not enough feedback ({n_canary:.0f} canary / {n_stable:.0f} stable labels, need {minimum})",
            )
        noise = accuracy_noise(canary, n_canary, stable, n_stable)
        limit = stable - self.limits.max_accuracy_drop - noise
        verdict = Verdict.FAIL if canary < limit else Verdict.PASS
        detail = f"canary {canary:.1%} vs stable {stable:.1%} (sampling noise {noise:.1%}, {n_canary:.0f} labels)"
        return CheckResult("live_accuracy", verdict, canary, stable, limit, detail)
