"""rollout/argo/templates.py: the Rollout steps follow params.yaml (shadow or not, weights, accuracy evidence,
how long a step may take), one AnalysisTemplate per check; check_names.py names the checks the analysis runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ticketops.config import RolloutParams, load_params
from ticketops.rollout.analysis import CanaryAnalysis
from ticketops.rollout.argo import templates as T
from ticketops.rollout.check_names import ALL_CHECKS, CHECKS_BY_PHASE, LIVE_ACCURACY, SHADOW
from ticketops.rollout.promql import PromQL

ROOT = Path(__file__).resolve().parents[4]
PARAMS = load_params(ROOT / "params.yaml").rollout


def params(**changes) -> RolloutParams:
    return PARAMS.model_copy(update=changes)


def step_checks(steps: list[dict]) -> list[tuple[str, list[str]]]:
    """(step arg, checks) of each analysis step, in order."""
    out = []
    for step in steps:
        if "analysis" in step:
            args = {a["name"]: a.get("value") for a in step["analysis"]["args"]}
            names = [
                t["templateName"].removeprefix("ticketops-").replace("-", "_") for t in step["analysis"]["templates"]
            ]
            out.append((args["step"], names))
    return out


class EmptyPrometheus(PromQL):
    """A Prometheus that has no series yet: every check is measured, none can decide."""

    def __init__(self):
        super().__init__("http://127.0.0.1:9")

    def query(self, expr: str):
        return []


@pytest.mark.parametrize("phase", sorted(CHECKS_BY_PHASE))
def test_check_names_are_the_checks_the_analysis_runs(phase):
    analysis = CanaryAnalysis(EmptyPrometheus(), PARAMS.checks).run(60, "2", "1", phase)
    assert tuple(c.name for c in analysis.checks) == CHECKS_BY_PHASE[phase]
    assert set(ALL_CHECKS) == {name for names in CHECKS_BY_PHASE.values() for name in names}


def test_default_params_shadow_then_each_weight():
    steps = T.canary_steps(PARAMS)
    weights = [s["setWeight"] for s in steps if "setWeight" in s]
    assert weights == [10, 25, 50]  # reaching 100 is the promotion
    assert [name for name, _ in step_checks(steps)] == ["shadow", "w10", "w25", "w50"]
    assert step_checks(steps)[0][1] == list(CHECKS_BY_PHASE[SHADOW])
    assert all(LIVE_ACCURACY not in checks for _, checks in step_checks(steps))  # guarded in the background
    assert T.first_weighted_step(steps) == 3


def test_without_shadow_the_last_step_needs_live_accuracy():
    steps = T.canary_steps(params(shadow=PARAMS.shadow.model_copy(update={"enabled": False})))
    assert not any("setCanaryScale" in s for s in steps)
    checks = step_checks(steps)
    assert [name for name, _ in checks] == ["w10", "w25", "w50"]
    assert [LIVE_ACCURACY in c for _, c in checks] == [False, False, True]
    assert T.first_weighted_step(steps) == 0
    relaxed = params(shadow=PARAMS.shadow.model_copy(update={"enabled": False}), require_accuracy_evidence=False)
    assert not any(LIVE_ACCURACY in c for _, c in step_checks(T.canary_steps(relaxed)))


def test_step_edge_cases():
    assert [s["setWeight"] for s in T.canary_steps(params(steps=(100,))) if "setWeight" in s] == [100]
    assert [s["setWeight"] for s in T.canary_steps(params(steps=(5, 100, 20))) if "setWeight" in s] == [5, 20]
    with pytest.raises(ValueError, match="no step"):
        T.canary_steps(params(steps=(0,)))


def test_analysis_template_reads_the_verdict_as_the_controller_does():
    p = params(analysis_interval_s=20, max_step_seconds=610, max_failures=3)
    template = T.analysis_template("review_rate", p, base_url="http://analysis:8080")
    assert template["metadata"]["name"] == "ticketops-review-rate"
    (metric,) = template["spec"]["metrics"]
    args = {a["name"]: a for a in template["spec"]["args"]}
    assert args["count"]["value"] == str(math.ceil(610 / 20)) == str(T.measurements(p))
    assert metric["interval"] == "20s" and metric["failureLimit"] == 2  # the 3rd failed look fails the metric
    assert metric["inconclusiveLimit"] == metric["count"] == "{{args.count}}"  # undecided looks never end it
    assert args["api-token"]["valueFrom"] == {"secretKeyRef": {"name": "ticketops-secrets", "key": "analysis-token"}}
    assert metric["provider"]["web"]["url"].startswith("http://analysis:8080/v1/checks/{{args.phase}}/review_rate?")
    assert [t["metadata"]["name"] for t in T.analysis_templates(p)] == [T.template_name(c) for c in ALL_CHECKS]


def test_strategy_names_the_services_route_and_live_track():
    canary = T.strategy_patch(PARAMS)["spec"]["strategy"]["canary"]
    assert (canary["stableService"], canary["canaryService"]) == ("ticketops-stable", "ticketops-canary")
    assert canary["trafficRouting"]["plugins"] == {
        "argoproj-labs/gatewayAPI": {"httpRoute": "ticketops", "namespace": "ticketops"}
    }
    paths = {a["name"]: a["valueFrom"] for a in canary["analysis"]["args"] if "valueFrom" in a}
    assert paths["canary-version"] == {"fieldRef": {"fieldPath": "spec.template.metadata.labels.model-version"}}
    assert paths["revision"] == {"podTemplateHashValue": "Latest"}
