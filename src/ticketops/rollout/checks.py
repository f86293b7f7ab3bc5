"""Every rollout check as ONE definition: its params, the counts it judges, and the verdict with what was measured.

A check is pure: counts in (read from Prometheus by rollout/analysis.py, or replayed by
benchmarks/canary_power.py), a ``CheckResult`` out. The local controller and, on Kubernetes, the analysis
service call the same functions, so thresholds and statistics exist once. Each check states the smallest
effect it must detect (params.yaml ``rollout.checks``) and the sample that needs (``planned``), and decides
with the sequential tests of rollout/sequential.py, so looking every interval does not inflate false verdicts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from enum import StrEnum

from ticketops.config import RolloutChecks
from ticketops.rollout.sequential import Design, decide, planned_sample


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: Verdict
    canary: float | None = None  # the challenger's measured value (rate, share, accuracy)
    stable: float | None = None  # stable's, on the same window
    limit: float | None = None  # θ_bad: the degradation the check must catch
    detail: str = ""
    n: float | None = None  # the sample judged (canary observations, labelled pairs, ...)
    needed: int | None = None  # the sample the check plans for at its error rates
    p_fail: float | None = None
    p_pass: float | None = None

    def as_dict(self) -> dict:
        return {**asdict(self), "verdict": str(self.verdict)}


@dataclass(frozen=True)
class TwoRates:
    """``hits`` of ``n`` on each track (errors of requests, reviews of predictions, misses of labels...)."""

    canary_hits: float
    canary_n: float
    stable_hits: float
    stable_n: float


@dataclass(frozen=True)
class Pairs:
    """Shadow: the same tickets answered by both models. ``b``: stable right and challenger wrong, ``c``: the
    reverse, of ``labelled`` pairs with an agent's label; ``disagree`` of ``pairs`` mirrored tickets."""

    pairs: float
    disagree: float
    labelled: float
    b: float
    c: float
    learnt: float = 0.0  # disagreements on intents only the challenger can predict (left out of both counts)


def _clip(p: float, n: float) -> float:
    eps = 0.5 / max(n, 1.0)
    return min(max(p, eps), 1 - eps)


def design(checks: RolloutChecks, effect: float, good: float = 0.0) -> Design:
    return Design(
        good=good, effect=effect, alpha=checks.alpha, beta=checks.beta, tau_scale=checks.tau_scale, power=checks.power
    )


def two_rate_variance(obs: TwoRates):
    """Variance of ``p̂_c − p̂_s`` under the null difference θ0, both rates from the pooled rate constrained to θ0."""
    n_c, n_s = obs.canary_n, obs.stable_n

    def at(theta0: float) -> float:
        pooled = (obs.canary_hits + obs.stable_hits - theta0 * n_c) / (n_c + n_s)
        p_s = _clip(pooled, n_c + n_s)
        p_c = _clip(p_s + theta0, n_c + n_s)
        return p_c * (1 - p_c) / n_c + p_s * (1 - p_s) / n_s

    return at


def planned_two_rates(d: Design, baseline: float, ratio: float) -> int:
    """Canary observations needed when stable sees ``ratio`` times as many, at a stable rate of ``baseline``
    (rounded, so a look costs a cache hit, not a search)."""
    return _planned_two_rates(d, round(baseline, 3), round(ratio, 1))


@functools.lru_cache(maxsize=4096)
def _planned_two_rates(d: Design, baseline: float, ratio: float) -> int:

    def unit(theta: float) -> float:
        p_s = min(max(baseline, 1e-4), 1 - 1e-4)
        p_c = min(max(p_s + theta, 1e-4), 1 - 1e-4)
        return p_c * (1 - p_c) + p_s * (1 - p_s) / ratio

    return planned_sample(unit, d)


def judge_two_rates(name: str, obs: TwoRates, d: Design, baseline: float, minimum: int, what: str) -> CheckResult:
    """θ = canary rate − stable rate (a rise is worse)."""
    if obs.canary_n < minimum or obs.stable_n < minimum:
        ratio = obs.stable_n / obs.canary_n if obs.canary_n else 1.0
        return CheckResult(
            name,
            Verdict.INCONCLUSIVE,
            n=obs.canary_n,
            needed=max(minimum, planned_two_rates(d, baseline, max(ratio, 0.1))),
            limit=d.bad,
            detail=f"{obs.canary_n:.0f} canary / {obs.stable_n:.0f} stable {what}, need {minimum} each",
        )
    canary, stable = obs.canary_hits / obs.canary_n, obs.stable_hits / obs.stable_n
    decision = decide(canary - stable, two_rate_variance(obs), d)
    needed = max(minimum, planned_two_rates(d, stable, obs.stable_n / obs.canary_n))
    verdict = Verdict(decision.verdict(d))
    detail = (
        f"canary {canary:.1%} vs stable {stable:.1%} on {obs.canary_n:.0f}/{obs.stable_n:.0f} {what} "
        f"(must catch +{d.effect:.1%}; p_fail {decision.p_fail:.3g}, p_pass {decision.p_pass:.3g}, plan {needed})"
    )
    return CheckResult(
        name, verdict, canary, stable, stable + d.bad, detail, obs.canary_n, needed, decision.p_fail, decision.p_pass
    )


# --- the checks -----------------------------------------------------------------------------------


def error_rate(obs: TwoRates, checks: RolloutChecks) -> CheckResult:
    p = checks.error_rate
    return judge_two_rates("error_rate", obs, design(checks, p.effect), p.baseline, checks.min_count, "requests")


def latency(obs: TwoRates, checks: RolloutChecks, threshold_s: float) -> CheckResult:
    """Share of requests slower than ``threshold_s`` (``latency_threshold``): a rise by ``effect`` fails."""
    p = checks.latency
    result = judge_two_rates("latency_tail", obs, design(checks, p.effect), p.baseline, checks.min_count, "requests")
    return _with(result, detail=f"slower than {threshold_s * 1000:.0f} ms: {result.detail}")


def latency_threshold(checks: RolloutChecks, stable_p99_s: float | None, buckets: list[float]) -> float:
    """The slow-request bound: ``max_p99_ratio`` x stable's p99, at least ``p99_floor_s``, on a histogram bucket."""
    p = checks.latency
    wanted = max(p.p99_floor_s, (stable_p99_s or 0.0) * p.max_p99_ratio)
    above = [b for b in sorted(buckets) if b >= wanted and math.isfinite(b)]
    return above[0] if above else max(b for b in buckets if math.isfinite(b))


def review_rate(obs: TwoRates, checks: RolloutChecks) -> CheckResult:
    p = checks.review_rate
    return judge_two_rates("review_rate", obs, design(checks, p.effect), p.baseline, checks.min_count, "predictions")


def live_accuracy(obs: TwoRates, checks: RolloutChecks) -> CheckResult:
    """``hits`` are wrong answers among labels on intents both models can predict (a rise in misses is a drop in
    accuracy). Too little feedback is inconclusive, never a pass."""
    p = checks.live_accuracy
    d = design(checks, p.effect)
    result = judge_two_rates(
        "live_accuracy", obs, d, 1 - p.baseline, checks.min_feedback, "labels on intents both models know"
    )
    if result.canary is None:
        return result
    return _with(
        result,
        canary=1 - result.canary,
        stable=1 - result.stable,
        limit=1 - result.stable - d.bad,
        detail=f"accuracy {1 - result.canary:.1%} vs {1 - result.stable:.1%}; misses {result.detail}",
    )


def shadow_agreement(obs: Pairs, checks: RolloutChecks) -> CheckResult:
    """θ = disagreement on mirrored tickets (intents only the challenger knows left out); acceptable up to
    ``1 - min_agreement``, caught at ``effect`` beyond."""
    p = checks.shadow_agreement
    d = design(checks, p.effect, good=1 - p.min_agreement)
    n = obs.pairs

    def unit(theta: float) -> float:
        q = min(max(theta, 1e-4), 1 - 1e-4)
        return q * (1 - q)

    needed = max(checks.min_count, _planned_one_rate(d))
    if n < checks.min_count:
        return CheckResult(
            "shadow_agreement",
            Verdict.INCONCLUSIVE,
            n=n,
            needed=needed,
            limit=1 - d.bad,
            detail=f"{n:.0f} mirrored tickets, need {checks.min_count}",
        )
    theta = obs.disagree / n
    decision = decide(theta, lambda t0: unit(t0) / n, d)
    learnt = f", {obs.learnt:.0f} more on intents stable cannot predict" if obs.learnt else ""
    detail = (
        f"agreement {1 - theta:.1%} on {n:.0f} mirrored tickets{learnt} (acceptable >= {p.min_agreement:.0%}, "
        f"fails at {1 - d.bad:.0%}; p_fail {decision.p_fail:.3g}, p_pass {decision.p_pass:.3g}, plan {needed})"
    )
    return CheckResult(
        "shadow_agreement",
        Verdict(decision.verdict(d)),
        1 - theta,
        None,
        1 - d.bad,
        detail,
        n,
        needed,
        decision.p_fail,
        decision.p_pass,
    )


def shadow_accuracy(obs: Pairs, checks: RolloutChecks) -> CheckResult:
    """Paired (McNemar-style) on labelled mirrored tickets: θ = (b − c) / labelled, the challenger's accuracy drop
    on the same tickets. Only the discordant pairs carry information, so it needs far fewer labels than an
    unpaired comparison."""
    p = checks.shadow_accuracy
    d = design(checks, p.effect)
    n = obs.labelled

    def unit(theta: float, discordance: float = p.baseline_discordance) -> float:
        q = max(discordance, abs(theta) + 1e-3)
        return q - theta * theta

    needed = max(checks.min_feedback, _planned_paired(d, p.baseline_discordance))
    if n < checks.min_feedback:
        return CheckResult(
            "shadow_accuracy",
            Verdict.INCONCLUSIVE,
            n=n,
            needed=needed,
            limit=d.bad,
            detail=f"{n:.0f} labelled mirrored tickets, need {checks.min_feedback}",
        )
    theta = (obs.b - obs.c) / n
    q = (obs.b + obs.c) / n
    decision = decide(theta, lambda t0: unit(t0, max(q, 1 / n)) / n, d)
    detail = (
        f"on {n:.0f} labelled mirrored tickets stable alone right on {obs.b:.0f}, challenger alone on {obs.c:.0f}: "
        f"drop {theta:+.1%} (must catch {d.effect:.0%}; p_fail {decision.p_fail:.3g}, p_pass {decision.p_pass:.3g}, "
        f"plan {needed})"
    )
    return CheckResult(
        "shadow_accuracy",
        Verdict(decision.verdict(d)),
        -theta,
        0.0,
        -d.bad,
        detail,
        n,
        needed,
        decision.p_fail,
        decision.p_pass,
    )


@functools.lru_cache(maxsize=256)
def _planned_one_rate(d: Design) -> int:
    return planned_sample(lambda t: min(max(t, 1e-4), 1 - 1e-4) * (1 - min(max(t, 1e-4), 1 - 1e-4)), d)


@functools.lru_cache(maxsize=256)
def _planned_paired(d: Design, discordance: float) -> int:
    return planned_sample(lambda t: max(discordance, abs(t) + 1e-3) - t * t, d)


def _with(result: CheckResult, **changes) -> CheckResult:
    return CheckResult(**{**asdict(result), **changes})


def combine(results: list[CheckResult], optional: frozenset[str] = frozenset()) -> Verdict:
    """Any failure fails; otherwise any undecided check is inconclusive (except ``optional`` ones: guards that
    may fail a phase but need not decide it); otherwise pass."""
    verdicts = {r.verdict for r in results if r.verdict != Verdict.INCONCLUSIVE or r.name not in optional}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in verdicts or not results:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS
