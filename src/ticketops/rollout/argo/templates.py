"""The Argo Rollouts side of a canary, built from params.yaml: the Rollout's canary strategy and one
AnalysisTemplate per rollout check, which scripts/k8s_manifests.py writes into k8s/overlays/argo-rollouts/.

Pure functions over plain dicts (no Kubernetes client). Argo moves the traffic; every judgement is made by
ticketops' analysis service (Argo's `web` metric provider calls it), which runs the same checks as the local
controller, so no threshold or query is written here. What is here is how Argo should read a verdict:

* an analysis step (one per phase and weight) measures every ``analysis_interval_s`` for at most
  ``max_step_seconds``: a ``pass`` ends the metric, ``fail`` counts toward ``max_failures`` (then the Rollout
  aborts: stable keeps serving), ``inconclusive`` ("still collecting") neither; undecided at the end, the run is
  Inconclusive and Argo pauses the Rollout for an operator, as the local controller halts.
* the background analysis guards every weighted step until promotion: it only ever fails (an undecided look
  is not a failure), so a check that rarely has its sample at a small share (live accuracy) can still stop a
  canary that is clearly worse.

Argo semantics checked against its source (utils/analysis/factory.go, analysis/analysis.go): a Rollout's
``fieldRef`` outside ``metadata`` is split at ``.``/``[``/``]``, so the version label read from the pod
template must not contain them (hence ``model-version``, not a ``ticketops.io/`` key); ``count`` and the
limits are int-or-string and take ``{{args.*}}``; ``count`` 0 with an interval runs until the Rollout ends;
``failureLimit`` counts failed measurements in the run (not consecutive ones).
"""

from __future__ import annotations

import math
from typing import Any

from ticketops.config import RolloutParams
from ticketops.rollout.check_names import (
    ALL_CHECKS,
    CANARY,
    CANARY_GUARDS,
    CHECKS_BY_PHASE,
    LIVE_ACCURACY,
    SHADOW,
)
from ticketops.rollout.kubernetes.objects import TRACK_LABEL, VERSION_LABEL

API_VERSION = "argoproj.io/v1alpha1"
ROLLOUT = "ticketops"
NAMESPACE = "ticketops"
STABLE_SERVICE, CANARY_SERVICE = "ticketops-stable", "ticketops-canary"
HTTPROUTE = "ticketops"
GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"  # rollouts-plugin-trafficrouter-gatewayapi
ANALYSIS_URL = "http://ticketops-analysis.ticketops.svc:8080"
TOKEN_SECRET, TOKEN_KEY = "ticketops-secrets", "analysis-token"
STABLE_VERSION_ANNOTATION = "ticketops.io/stable-version"
CANARY_VERSION_PATH = f"spec.template.metadata.labels.{VERSION_LABEL}"
STABLE_VERSION_PATH = f"metadata.annotations['{STABLE_VERSION_ANNOTATION}']"
GUARD_STEP = "guard"  # the background analysis's step name (its window spans every weighted step)
TIMEOUT_S = 20


def template_name(check: str) -> str:
    """``error_rate`` -> ``ticketops-error-rate`` (Kubernetes names take no underscores)."""
    return f"ticketops-{check.replace('_', '-')}"


def step_name(weight: int) -> str:
    return f"w{weight}"


def measurements(params: RolloutParams) -> int:
    """How many looks an analysis step takes before it gives up undecided (``max_step_seconds``)."""
    return max(1, math.ceil(params.max_step_seconds / params.analysis_interval_s))


def _interval(params: RolloutParams) -> str:
    return f"{max(1, round(params.analysis_interval_s))}s"


def _arg(name: str) -> str:
    return "{{args." + name + "}}"


def analysis_template(check: str, params: RolloutParams, base_url: str = ANALYSIS_URL) -> dict[str, Any]:
    """One AnalysisTemplate calling the analysis service for ``check``. Its args without a value are the
    Rollout's to supply; ``count``, ``consecutive-success-limit`` and ``guard`` default to an analysis step's
    and are overridden by the background guard."""
    count = measurements(params)
    query = "&".join(
        f"{key}={_arg(arg)}"
        for key, arg in (
            ("canary_version", "canary-version"),
            ("stable_version", "stable-version"),
            ("revision", "revision"),
            ("step", "step"),
        )
    )
    metric = {
        "name": check,
        "interval": _interval(params),
        "count": _arg("count"),
        "successCondition": (
            f'result.verdict == "pass" || ("{_arg("guard")}" == "true" && result.verdict == "inconclusive")'
        ),
        "failureCondition": 'result.verdict == "fail"',
        "failureLimit": params.max_failures - 1,
        "consecutiveSuccessLimit": _arg("consecutive-success-limit"),
        "inconclusiveLimit": _arg("count"),
        "provider": {
            "web": {
                "url": f"{base_url}/v1/checks/{_arg('phase')}/{check}?{query}",
                "headers": [{"key": "Authorization", "value": f"Bearer {_arg('api-token')}"}],
                "jsonPath": "{$}",
                "timeoutSeconds": TIMEOUT_S,
            }
        },
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": {"name": template_name(check), "labels": {"app.kubernetes.io/component": "analysis"}},
        "spec": {
            "args": [
                {"name": "canary-version"},
                {"name": "stable-version"},
                {"name": "revision"},
                {"name": "phase"},
                {"name": "step"},
                {"name": "count", "value": str(count)},
                {"name": "consecutive-success-limit", "value": "1"},
                {"name": "guard", "value": "false"},
                {"name": "api-token", "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": TOKEN_KEY}}},
            ],
            "metrics": [metric],
        },
    }


def analysis_templates(params: RolloutParams, base_url: str = ANALYSIS_URL) -> list[dict[str, Any]]:
    """An AnalysisTemplate for every check, in check_names.ALL_CHECKS order."""
    return [analysis_template(check, params, base_url) for check in ALL_CHECKS]


def _version_args() -> list[dict[str, Any]]:
    return [
        {"name": "canary-version", "valueFrom": {"fieldRef": {"fieldPath": CANARY_VERSION_PATH}}},
        {"name": "stable-version", "valueFrom": {"fieldRef": {"fieldPath": STABLE_VERSION_PATH}}},
        {"name": "revision", "valueFrom": {"podTemplateHashValue": "Latest"}},
    ]


def _analysis(checks: list[str], phase: str, step: str, extra: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "templates": [{"templateName": template_name(check)} for check in checks],
        "args": [*_version_args(), {"name": "phase", "value": phase}, {"name": "step", "value": step}, *(extra or [])],
    }


def _weights(params: RolloutParams) -> list[int]:
    """The weighted steps Argo takes: every weight below 100 (reaching 100 is the promotion itself)."""
    weights = [w for w in params.steps if 0 < w < 100]
    if not weights and 100 not in params.steps:
        raise ValueError("rollout.steps in params.yaml has no step between 1 and 100")
    return weights or [100]


def canary_steps(params: RolloutParams) -> list[dict[str, Any]]:
    """Shadow first (when enabled): one canary pod at 0% of traffic, judged on mirrored tickets; then each
    weight followed by its analysis. Promotion needs accuracy evidence: with a shadow, its paired
    ``shadow_accuracy`` must pass; without one, the last weighted step also requires ``live_accuracy``."""
    steps: list[dict[str, Any]] = []
    if params.shadow.enabled:
        steps.append({"setCanaryScale": {"replicas": 1}})
        steps.append({"analysis": _analysis(list(CHECKS_BY_PHASE[SHADOW]), SHADOW, SHADOW)})
        steps.append({"setCanaryScale": {"matchTrafficWeight": True}})  # setWeight scales the canary again
    weights = _weights(params)
    needs_accuracy = params.require_accuracy_evidence and not params.shadow.enabled  # shadow_accuracy decides it
    for index, weight in enumerate(weights):
        checks = [c for c in CHECKS_BY_PHASE[CANARY] if c not in CANARY_GUARDS]
        if needs_accuracy and index == len(weights) - 1:
            checks.append(LIVE_ACCURACY)
        steps.append({"setWeight": weight})
        steps.append({"analysis": _analysis(checks, CANARY, step_name(weight))})
    return steps


def first_weighted_step(steps: list[dict[str, Any]]) -> int:
    return next(index for index, step in enumerate(steps) if "setWeight" in step)


def background_analysis(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Every canary check as a fail-only guard from the first weighted step until promotion."""
    guard_args = [
        {"name": "guard", "value": "true"},
        {"name": "count", "value": "0"},  # with an interval: runs until the Rollout is promoted or aborted
        {"name": "consecutive-success-limit", "value": "0"},
    ]
    return {
        **_analysis(list(CHECKS_BY_PHASE[CANARY]), CANARY, GUARD_STEP, guard_args),
        "startingStep": first_weighted_step(steps),
    }


def canary_strategy(params: RolloutParams) -> dict[str, Any]:
    """The Rollout's ``spec.strategy.canary``: Argo's stable/canary Services, the live track as a pod label
    (the PodMonitor turns it into the series' ``track``), Gateway API traffic, the steps and the guard."""
    steps = canary_steps(params)
    return {
        "stableService": STABLE_SERVICE,
        "canaryService": CANARY_SERVICE,
        "stableMetadata": {"labels": {TRACK_LABEL: "stable"}},
        "canaryMetadata": {"labels": {TRACK_LABEL: "canary"}},
        "trafficRouting": {"plugins": {GATEWAY_PLUGIN: {"httpRoute": HTTPROUTE, "namespace": NAMESPACE}}},
        "analysis": background_analysis(steps),
        "steps": steps,
    }


def strategy_patch(params: RolloutParams) -> dict[str, Any]:
    """A strategic-merge patch that sets the Rollout ``ticketops``'s canary strategy (kustomize ``patches``)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": ROLLOUT},
        "spec": {"strategy": {"canary": canary_strategy(params)}},
    }
