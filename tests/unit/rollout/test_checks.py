"""Every check can pass and can fail on the sample the params imply; too little data is inconclusive; the
sequential test keeps its false-fail rate across many looks where a repeated fixed test does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ticketops.config import load_params
from ticketops.rollout import checks as C
from ticketops.rollout.checks import Pairs, TwoRates, Verdict
from ticketops.rollout.sequential import Design, always_valid_p, decide, planned_sample

ROOT = Path(__file__).resolve().parents[3]
CHECKS = load_params(ROOT / "params.yaml").rollout.checks
RATIO = 9.0  # stable's share over the canary's at a 10% step


def rates(check, canary_rate: float, stable_rate: float, n: float) -> TwoRates:
    return TwoRates(canary_rate * n, n, stable_rate * n * RATIO, n * RATIO)


RATE_CHECKS = [
    ("error_rate", lambda o: C.error_rate(o, CHECKS), CHECKS.error_rate),
    ("latency_tail", lambda o: C.latency(o, CHECKS, 0.25), CHECKS.latency),
    ("review_rate", lambda o: C.review_rate(o, CHECKS), CHECKS.review_rate),
]


@pytest.mark.parametrize(("name", "judge", "params"), RATE_CHECKS, ids=[c[0] for c in RATE_CHECKS])
def test_rate_checks_pass_and_fail_at_their_planned_sample(name, judge, params):
    n = C.planned_two_rates(C.design(CHECKS, params.effect), params.baseline, RATIO)
    assert CHECKS.min_count <= n < 5000, n  # a sample a rollout can gather
    same = judge(rates(name, params.baseline, params.baseline, n))
    assert same.verdict is Verdict.PASS and same.needed == n, same
    worse = judge(rates(name, params.baseline + params.effect, params.baseline, n))
    assert worse.verdict is Verdict.FAIL, worse
    early = judge(rates(name, params.baseline + params.effect, params.baseline, n / 20))
    assert early.verdict is Verdict.INCONCLUSIVE, early  # the effect is there, but not yet shown


def test_live_accuracy_passes_fails_and_is_inconclusive_on_little_feedback():
    p = CHECKS.live_accuracy
    n = C.planned_two_rates(C.design(CHECKS, p.effect), 1 - p.baseline, RATIO)
    miss = 1 - p.baseline
    assert C.live_accuracy(rates("acc", miss, miss, n), CHECKS).verdict is Verdict.PASS
    assert C.live_accuracy(rates("acc", miss + p.effect, miss, n), CHECKS).verdict is Verdict.FAIL
    # the demo's old failure mode: two canary labels must never pass
    few = C.live_accuracy(TwoRates(0, 2, 7, 75), CHECKS)
    assert few.verdict is Verdict.INCONCLUSIVE and "need" in few.detail


def pairs_at(n: float, drop: float, discordance: float, agreement: float) -> Pairs:
    b = (discordance + drop) / 2 * n
    c = (discordance - drop) / 2 * n
    return Pairs(pairs=n, disagree=(1 - agreement) * n, labelled=n, b=b, c=c)


def test_shadow_accuracy_passes_and_fails_at_its_planned_sample():
    p = CHECKS.shadow_accuracy
    d = C.design(CHECKS, p.effect)
    n = planned_sample(lambda t: max(p.baseline_discordance, abs(t) + 1e-3) - t * t, d)
    same = C.shadow_accuracy(pairs_at(n, 0.0, p.baseline_discordance, 0.9), CHECKS)
    assert same.verdict is Verdict.PASS and same.needed == n, same
    worse = C.shadow_accuracy(pairs_at(n, p.effect, p.baseline_discordance, 0.9), CHECKS)
    assert worse.verdict is Verdict.FAIL, worse
    assert C.shadow_accuracy(pairs_at(10, 0.3, 0.3, 0.7), CHECKS).verdict is Verdict.INCONCLUSIVE


def test_shadow_accuracy_catches_a_much_worse_model_on_few_labels():
    # 180 labels: stable alone right on 40, the challenger alone on 5 (a 3%-data model beside a full one)
    result = C.shadow_accuracy(Pairs(pairs=300, disagree=80, labelled=180, b=40, c=5), CHECKS)
    assert result.verdict is Verdict.FAIL, result


def test_shadow_agreement_passes_and_fails_at_its_planned_sample():
    p = CHECKS.shadow_agreement
    good, bad = 1 - p.min_agreement, 1 - p.min_agreement + p.effect
    n = planned_sample(
        lambda t: min(max(t, 1e-4), 1 - 1e-4) * (1 - min(max(t, 1e-4), 1 - 1e-4)), C.design(CHECKS, p.effect, good=good)
    )
    assert C.shadow_agreement(Pairs(n, good * n, 0, 0, 0), CHECKS).verdict is Verdict.PASS
    assert C.shadow_agreement(Pairs(n, bad * n, 0, 0, 0), CHECKS).verdict is Verdict.FAIL
    # disagreement on intents only the challenger knows is reported, not held against it
    learnt = C.shadow_agreement(Pairs(n, good * n, 0, 0, 0, learnt=0.3 * n), CHECKS)
    assert learnt.verdict is Verdict.PASS and "stable cannot predict" in learnt.detail


def test_latency_threshold_sits_on_a_bucket_at_least_the_floor():
    buckets = [0.05, 0.1, 0.25, 0.5, 1.0, float("inf")]
    assert C.latency_threshold(CHECKS, 0.02, buckets) == 0.25  # floor
    assert C.latency_threshold(CHECKS, 0.2, buckets) == 0.5  # 2 x 0.2 s, next bucket


def test_combine_lets_optional_checks_stay_undecided_but_not_fail():
    passing = C.CheckResult("error_rate", Verdict.PASS)
    undecided = C.CheckResult("live_accuracy", Verdict.INCONCLUSIVE)
    failing = C.CheckResult("live_accuracy", Verdict.FAIL)
    assert C.combine([passing, undecided]) is Verdict.INCONCLUSIVE
    assert C.combine([passing, undecided], frozenset({"live_accuracy"})) is Verdict.PASS
    assert C.combine([passing, failing], frozenset({"live_accuracy"})) is Verdict.FAIL


def test_always_valid_p_is_one_on_the_null_side():
    assert always_valid_p(-0.1, 0.0, 0.01, (0.05,), upper=True) == 1.0
    assert always_valid_p(0.1, 0.0, 0.0001, (0.05,), upper=True) < 0.001


def test_many_looks_keep_the_false_fail_rate_below_alpha():
    """A challenger as good as stable, looked at 40 times as its labels accumulate: the mSPRT fails it at most
    alpha of the time; a one-sided z-test at the same alpha, repeated at every look, fails it far more often."""
    rng = np.random.default_rng(0)
    design = Design(good=0.0, effect=0.03, alpha=0.05, beta=0.2)
    runs, looks, per_look, p = 2000, 40, 25, 0.1
    mis_c = rng.binomial(per_look, p, size=(runs, looks)).cumsum(axis=1)
    mis_s = rng.binomial(per_look * 9, p, size=(runs, looks)).cumsum(axis=1)
    n_c = per_look * np.arange(1, looks + 1)
    sequential = naive = 0
    for r in range(runs):
        failed_seq = failed_naive = False
        for k in range(looks):
            obs = TwoRates(mis_c[r, k], n_c[k], mis_s[r, k], 9 * n_c[k])
            theta = obs.canary_hits / obs.canary_n - obs.stable_hits / obs.stable_n
            variance = C.two_rate_variance(obs)
            failed_seq |= decide(theta, variance, design).p_fail <= design.alpha
            failed_naive |= theta / np.sqrt(variance(0.0)) > 1.645
        sequential += failed_seq
        naive += failed_naive
    assert sequential / runs <= design.alpha
    assert naive / runs > 2 * design.alpha
