"""The one sequential test behind every rollout check: a mixture SPRT (mSPRT) with always-valid p-values.

Why: the controller looks at a step's cumulative data every few seconds. A fixed-sample test repeated at
every look inflates false verdicts (ten looks at 5% reject a true null far more than 5% of the time). The
mSPRT (Robbins 1970; Johari, Pekelis & Walsh, "Always valid inference", 2017) gives a statistic whose
reciprocal is a p-value valid at *any* stopping time: by Ville's inequality, under the null
``P(sup_n Λ_n >= 1/α) <= α``, however often and whenever one looks.

The test. An estimate ``θ̂_n`` of a quantity ``θ`` (a degradation: larger is worse) with variance ``v_n``
under the null boundary ``θ0``; a normal mixing distribution ``θ ~ N(θ0, τ²)`` over alternatives:

    Λ_n = sqrt(v_n / (v_n + τ²)) · exp( τ² (θ̂_n − θ0)² / (2 v_n (v_n + τ²)) )

Every check runs two one-sided tests on the same data (rollout/checks.py):

* fail test, null ``θ <= θ_good``: rejected (Λ >= 1/α, θ̂ above θ_good) means evidence of a degradation ->
  FAIL. A challenger as good as stable fails with probability <= α, however many looks.
* pass test, null ``θ >= θ_bad = θ_good + δ`` (δ: the smallest effect the check must detect, from params):
  rejected (Λ >= 1/β, θ̂ below θ_bad) means evidence the degradation is smaller than δ -> PASS. A challenger
  worse by δ passes with probability <= β.
* neither yet: INCONCLUSIVE (keep collecting; a step that reaches its maximum time undecided pauses).

``planned_sample`` is the sample at which, by the normal approximation, a challenger at θ_good passes and one
at θ_bad fails with probability ``power`` each: what a check reports as the sample it needs.

Assumptions (stated, not hidden):

1. Observations are independent given the models (tickets arrive independently; one ticket per observation).
   The splitter assigns tickets to tracks by weighted round-robin independent of their content.
2. The estimate is approximately normal (sums of Bernoulli terms; the sample sizes the params imply are in the
   hundreds). Tiny samples are kept out by each check's minimum count.
3. The variance is a plug-in at the null boundary (score-test style), re-estimated at each look; this is the
   usual practical approximation of the known-variance mSPRT (it is exact only asymptotically).
4. A one-sided rejection under the mixture centred on the boundary is valid for the composite one-sided null
   because the likelihood ratio is monotone in θ for these models.
5. The mixing distribution is an equal-weight blend of normals with τ = ``tau_scale`` x δ x (1, 2, 4, 8): the
   mean of mSPRT statistics is itself an mSPRT statistic (a mixture of mixtures), so validity is kept, while a
   single τ = δ would need hundreds of labels to show even a 20-point drop (the statistic of a narrow
   mixture grows slowly for effects far larger than it expects). The cost: a factor 4 on 1/α, ~1.4 nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


TAU_GRID = (1.0, 2.0, 4.0, 8.0)


def _log_lambda_one(distance: float, variance: float, tau: float) -> float:
    tau2 = tau * tau
    return 0.5 * math.log(variance / (variance + tau2)) + tau2 * distance**2 / (2 * variance * (variance + tau2))


def log_lambda(estimate: float, null: float, variance: float, taus: tuple[float, ...]) -> float:
    """log Λ of the normal-mixture SPRT for ``H0: θ = null``, Λ averaged over the mixing sds ``taus``
    (two-sided form; callers keep one side)."""
    if variance <= 0:
        return math.inf if estimate != null else 0.0
    logs = [_log_lambda_one(estimate - null, variance, tau) for tau in taus]
    top = max(logs)
    return top + math.log(sum(math.exp(v - top) for v in logs) / len(logs))


def always_valid_p(estimate: float, null: float, variance: float, taus: tuple[float, ...], upper: bool) -> float:
    """The always-valid p-value of the one-sided null ``θ <= null`` (``upper``) or ``θ >= null`` (not ``upper``).

    1 when the estimate is on the null's side (no evidence against it at all)."""
    if (estimate <= null) if upper else (estimate >= null):
        return 1.0
    return min(1.0, math.exp(-log_lambda(estimate, null, variance, taus)))


def crossing_distance(variance: float, taus: tuple[float, ...], level: float) -> float:
    """How far from the null the estimate must be for Λ to reach 1/level at this variance (Λ grows with it)."""
    target = math.log(1 / level)
    low, high = 0.0, math.sqrt(variance) + max(taus)
    while log_lambda(high, 0.0, variance, taus) < target:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if log_lambda(mid, 0.0, variance, taus) < target else (low, mid)
    return high


@dataclass(frozen=True)
class Design:
    """Error rates and the smallest effect of one check: the thresholds ``θ_good`` and ``θ_bad``."""

    good: float  # θ at or below this is acceptable (0 for canary-vs-stable differences)
    effect: float  # δ: θ_bad = good + effect
    alpha: float  # false FAIL of a challenger at θ_good
    beta: float  # false PASS of a challenger at θ_bad
    tau_scale: float = 1.0
    power: float = 0.8  # for planned_sample

    @property
    def bad(self) -> float:
        return self.good + self.effect

    @property
    def taus(self) -> tuple[float, ...]:
        return tuple(self.tau_scale * self.effect * k for k in TAU_GRID)


@dataclass(frozen=True)
class Decision:
    p_fail: float  # always-valid p of "no degradation" (θ <= good)
    p_pass: float  # always-valid p of "degraded by the effect" (θ >= bad)

    def verdict(self, design: Design) -> str:
        if self.p_fail <= design.alpha:
            return "fail"
        if self.p_pass <= design.beta:
            return "pass"
        return "inconclusive"


def decide(estimate: float, variance_at, design: Design) -> Decision:
    """Both tests at the current look; ``variance_at(θ0)`` is the estimate's variance under the null ``θ0``."""
    return Decision(
        p_fail=always_valid_p(estimate, design.good, variance_at(design.good), design.taus, upper=True),
        p_pass=always_valid_p(estimate, design.bad, variance_at(design.bad), design.taus, upper=False),
    )


def planned_sample(unit_variance_at, design: Design, limit: int = 10_000_000) -> int:
    """Smallest n where, with ``θ̂ ~ N(θ, unit_variance_at(θ) / n)``, a challenger at θ_good passes and one at
    θ_bad fails, each with probability ``design.power`` (normal approximation of the sequential tests at n)."""

    def enough(n: int) -> bool:
        for truth, null, level in ((design.good, design.bad, design.beta), (design.bad, design.good, design.alpha)):
            v_null = unit_variance_at(null) / n
            sd_truth = math.sqrt(max(unit_variance_at(truth), 1e-12) / n)
            cut = crossing_distance(v_null, design.taus, level)
            # probability the estimate lands beyond null -/+ cut, on the side away from the null
            distance = abs(null - truth) - cut
            if _NORMAL.cdf(distance / sd_truth) < design.power:
                return False
        return True

    n = 1
    while not enough(n):
        n *= 2
        if n > limit:
            return limit
    low, high = n // 2, n
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high
