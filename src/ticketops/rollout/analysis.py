"""Rollout analysis: the counts each check judges, read from Prometheus over one phase's window.

The checks themselves (params -> counts -> verdict) are in rollout/checks.py; this module only measures.
A missing series, NaN or Prometheus unreachable is inconclusive: the controller waits, and never promotes on
it. Two phases are analysed:

* shadow: stable answers every client; the splitter mirrors each ticket to the challenger (its answers
  discarded) and counts the pairs and, when an agent labels a mirrored ticket, who was right.
* canary: a share of live traffic answered by the challenger, compared with stable on the same window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from ticketops.config import RolloutChecks
from ticketops.rollout import checks as C
from ticketops.rollout.check_names import CANARY as CANARY_PHASE
from ticketops.rollout.check_names import CHECKS_BY_PHASE, SHADOW
from ticketops.rollout.checks import CheckResult, Pairs, TwoRates, Verdict, combine
from ticketops.rollout.promql import PrometheusUnavailable, PromQL

CLASSIFY_ROUTE = "/classify"
# The checks each phase runs, in the order they are measured (one list: rollout/check_names.py).
PHASE_CHECKS = CHECKS_BY_PHASE

__all__ = ["PHASE_CHECKS", "Analysis", "CanaryAnalysis", "CheckResult", "UnknownCheck", "Verdict", "window_increase"]


class UnknownCheck(ValueError):
    """A check name that no phase runs."""


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    checks: list[CheckResult] = field(default_factory=list)
    window_s: int = 0
    canary_requests: float | None = None
    phase: str = CANARY_PHASE

    @property
    def reason(self) -> str:
        picked = [c for c in self.checks if c.verdict == self.verdict] if self.verdict != Verdict.PASS else []
        return "; ".join(f"{c.name}: {c.detail}" for c in picked) or "all checks passed"

    def passed(self, name: str) -> bool:
        return any(c.name == name and c.verdict == Verdict.PASS for c in self.checks)

    def as_dict(self) -> dict:
        return {
            "verdict": str(self.verdict),
            "phase": self.phase,
            "window_s": self.window_s,
            "canary_requests": self.canary_requests,
            "checks": [c.as_dict() for c in self.checks],
        }


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
    """Measures and judges one phase. ``track`` is the label that tells the two tracks apart."""

    def __init__(self, prometheus: PromQL, checks: RolloutChecks):
        self.prom = prometheus
        self.limits = checks

    # --- measuring -------------------------------------------------------------------------------

    def _sum(self, metric: str, selector: str, window: int) -> float:
        return self.prom.scalar("sum" + window_increase(metric, selector, window)) or 0.0

    def _by(self, labels: str, metric: str, selector: str, window: int) -> list[tuple[dict[str, str], float]]:
        return [
            (s.labels, s.value)
            for s in self.prom.query(f"sum by ({labels}) " + window_increase(metric, selector, window))
        ]

    def known_labels(self, version: str) -> set[str]:
        """The intents ``version`` can predict: its replica declares a prediction series for each at load."""
        return set(
            self.prom.by_label(f'count by (label) (ticketops_predictions_total{{model_version="{version}"}})', "label")
        )

    def requests(self, window: int) -> tuple[TwoRates, float, float]:
        """(errors of requests per track, canary requests, stable requests)."""
        route = f'route="{CLASSIFY_ROUTE}"'
        n = {t: self._sum("ticketops_requests_total", f'track="{t}",{route}', window) for t in ("canary", "stable")}
        errors = {
            t: self._sum("ticketops_requests_total", f'track="{t}",{route},status=~"5.."', window)
            for t in ("canary", "stable")
        }
        return TwoRates(errors["canary"], n["canary"], errors["stable"], n["stable"]), n["canary"], n["stable"]

    def latency_counts(self, window: int) -> tuple[TwoRates, float]:
        """Requests slower than the check's bound (from stable's p99 on the window), per track."""
        buckets: dict[str, dict[float, float]] = {}
        for track in ("canary", "stable"):
            rows = self._by(
                "le", "ticketops_request_latency_seconds_bucket", f'track="{track}",route="{CLASSIFY_ROUTE}"', window
            )
            buckets[track] = {float(labels["le"]): value for labels, value in rows}
        stable_p99 = self.prom.scalar(
            "histogram_quantile(0.99, sum by (le) (increase(ticketops_request_latency_seconds_bucket"
            f'{{track="stable",route="{CLASSIFY_ROUTE}"}}[{window}s])))'
        )
        bounds = sorted(set(buckets["stable"]) | set(buckets["canary"]))
        if not bounds:
            return TwoRates(0, 0, 0, 0), C.latency_threshold(self.limits, stable_p99, [self.limits.latency.p99_floor_s])
        threshold = C.latency_threshold(self.limits, stable_p99, bounds)

        def slow(track: str) -> tuple[float, float]:
            b = buckets[track]
            total = b.get(float("inf"), 0.0)
            return total - b.get(threshold, 0.0), total

        (c_slow, c_n), (s_slow, s_n) = slow("canary"), slow("stable")
        return TwoRates(c_slow, c_n, s_slow, s_n), threshold

    def reviews(self, window: int) -> TwoRates:
        counts = {
            t: (
                self._sum("ticketops_needs_review_total", f'track="{t}"', window),
                self._sum("ticketops_predictions_total", f'track="{t}"', window),
            )
            for t in ("canary", "stable")
        }
        return TwoRates(*counts["canary"], *counts["stable"])

    def feedback(self, window: int, canary_version: str, stable_version: str) -> TwoRates:
        """Wrong answers among labels per version, on the intents both versions can predict (same mix: the
        splitter assigns tickets to tracks independently of what they are about)."""
        common = self.known_labels(canary_version) & self.known_labels(stable_version)
        counts = {}
        for version in (canary_version, stable_version):
            wrong = total = 0.0
            for labels, value in self._by(
                "correct, true_label", "ticketops_feedback_total", f'model_version="{version}"', window
            ):
                if labels.get("true_label") in common:
                    total += value
                    wrong += value if labels.get("correct") == "false" else 0.0
            counts[version] = (wrong, total)
        return TwoRates(*counts[canary_version], *counts[stable_version])

    def pairs(self, window: int, stable_version: str) -> Pairs:
        """The splitter's paired counts of mirrored tickets. Disagreements where the challenger named an intent
        stable cannot predict are counted apart (``learnt``); labels on such intents are left out."""
        stable_known = self.known_labels(stable_version)
        agree = disagree = learnt = 0.0
        for labels, value in self._by("agree, challenger_label", "ticketops_shadow_pairs_total", "", window):
            if labels.get("agree") == "true":
                agree += value
            elif labels.get("challenger_label") in stable_known:
                disagree += value
            else:
                learnt += value
        labelled = b = c = 0.0
        for labels, value in self._by(
            "stable_correct, challenger_correct, true_label", "ticketops_shadow_labelled_total", "", window
        ):
            if labels.get("true_label") not in stable_known:
                continue
            labelled += value
            s_right, c_right = labels.get("stable_correct") == "true", labels.get("challenger_correct") == "true"
            b += value if s_right and not c_right else 0.0
            c += value if c_right and not s_right else 0.0
        return Pairs(pairs=agree + disagree, disagree=disagree, labelled=labelled, b=b, c=c, learnt=learnt)

    # --- judging ---------------------------------------------------------------------------------

    def look(self, window_s: int, canary_version: str, stable_version: str) -> Look:
        """The last ``window_s`` seconds up to this moment: every query of the look is evaluated at it."""
        pinned = CanaryAnalysis(self.prom.at(time.time()), self.limits)
        return Look(pinned, max(int(window_s), 1), canary_version, stable_version)

    def check(self, name: str, window_s: int, canary_version: str, stable_version: str) -> CheckResult:
        """One check alone on the last ``window_s`` seconds (Argo asks each AnalysisTemplate's metric apart).
        Prometheus unreachable is inconclusive, as in ``run``."""
        judge = JUDGES.get(name)
        if judge is None:
            raise UnknownCheck(f"unknown check {name!r} (one of {', '.join(JUDGES)})")
        try:
            return judge(self.look(window_s, canary_version, stable_version), self.limits)
        except PrometheusUnavailable as exc:
            return CheckResult(name, Verdict.INCONCLUSIVE, detail=str(exc))

    def run(
        self,
        window_s: int,
        canary_version: str,
        stable_version: str,
        phase: str = CANARY_PHASE,
        optional: frozenset[str] = frozenset(),
    ) -> Analysis:
        """Every check of ``phase`` on the last ``window_s`` seconds. Shadow judges the challenger on mirrored
        traffic (errors, latency, review rate, agreement, paired accuracy); canary judges it on live traffic
        (errors, latency, review rate, live accuracy). ``optional`` checks may fail the phase but an undecided
        one does not hold it."""
        look = self.look(window_s, canary_version, stable_version)
        names = PHASE_CHECKS[SHADOW if phase == SHADOW else CANARY_PHASE]
        try:
            results = [JUDGES[name](look, self.limits) for name in names]
        except PrometheusUnavailable as exc:
            check = CheckResult("prometheus", Verdict.INCONCLUSIVE, detail=str(exc))
            return Analysis(Verdict.INCONCLUSIVE, [check], look.window, phase=phase)
        return Analysis(combine(results, optional), results, look.window, look.requests[1], phase)


class Look:
    """One look at one window: each measurement is made once, whichever checks ask for it (the two shadow
    checks share their pairs, a phase's requests are counted once)."""

    def __init__(self, analysis: CanaryAnalysis, window: int, canary_version: str, stable_version: str):
        self.analysis, self.window = analysis, window
        self.canary_version, self.stable_version = canary_version, stable_version

    @cached_property
    def requests(self) -> tuple[TwoRates, float, float]:
        return self.analysis.requests(self.window)

    @cached_property
    def latency(self) -> tuple[TwoRates, float]:
        return self.analysis.latency_counts(self.window)

    @cached_property
    def reviews(self) -> TwoRates:
        return self.analysis.reviews(self.window)

    @cached_property
    def feedback(self) -> TwoRates:
        return self.analysis.feedback(self.window, self.canary_version, self.stable_version)

    @cached_property
    def pairs(self) -> Pairs:
        return self.analysis.pairs(self.window, self.stable_version)


# Each check by name: what it measures and the one definition in rollout/checks.py that judges it.
JUDGES: dict[str, Callable[[Look, RolloutChecks], CheckResult]] = {
    "error_rate": lambda look, limits: C.error_rate(look.requests[0], limits),
    "latency_tail": lambda look, limits: C.latency(look.latency[0], limits, look.latency[1]),
    "review_rate": lambda look, limits: C.review_rate(look.reviews, limits),
    "live_accuracy": lambda look, limits: C.live_accuracy(look.feedback, limits),
    "shadow_agreement": lambda look, limits: C.shadow_agreement(look.pairs, limits),
    "shadow_accuracy": lambda look, limits: C.shadow_accuracy(look.pairs, limits),
}


def checks_of(phase: str) -> tuple[str, ...]:
    """The checks ``phase`` runs; UnknownCheck for a phase that does not exist."""
    if phase not in PHASE_CHECKS:
        raise UnknownCheck(f"unknown phase {phase!r} (one of {', '.join(PHASE_CHECKS)})")
    return PHASE_CHECKS[phase]
