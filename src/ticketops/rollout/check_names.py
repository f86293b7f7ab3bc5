"""The rollout checks by name, and which phase judges which: one list for every place that names them.

The local controller's analysis (rollout/analysis.py), the analysis service that Argo Rollouts calls and the
AnalysisTemplates generated for k8s/overlays/argo-rollouts (rollout/argo/templates.py) all take the names
from here, so a check added to one is not missing from another. The checks themselves are in rollout/checks.py.
"""

from __future__ import annotations

ERROR_RATE = "error_rate"
LATENCY_TAIL = "latency_tail"
REVIEW_RATE = "review_rate"
LIVE_ACCURACY = "live_accuracy"
SHADOW_AGREEMENT = "shadow_agreement"
SHADOW_ACCURACY = "shadow_accuracy"

SHADOW = "shadow"  # mirrored traffic: the challenger's answers are compared, never returned
CANARY = "canary"  # a share of live traffic answered by the challenger

CHECKS_BY_PHASE: dict[str, tuple[str, ...]] = {
    SHADOW: (ERROR_RATE, LATENCY_TAIL, REVIEW_RATE, SHADOW_AGREEMENT, SHADOW_ACCURACY),
    CANARY: (ERROR_RATE, LATENCY_TAIL, REVIEW_RATE, LIVE_ACCURACY),
}
# Every check once, in the order above.
ALL_CHECKS: tuple[str, ...] = tuple(dict.fromkeys(name for names in CHECKS_BY_PHASE.values() for name in names))
# Evidence that the challenger's accuracy holds (params.yaml rollout.require_accuracy_evidence).
ACCURACY_CHECKS: tuple[str, ...] = (SHADOW_ACCURACY, LIVE_ACCURACY)
# Canary checks that guard every step (they may fail it) but need not decide it: at a small share of traffic
# live accuracy rarely has its sample.
CANARY_GUARDS: tuple[str, ...] = (LIVE_ACCURACY,)
