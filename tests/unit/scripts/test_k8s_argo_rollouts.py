"""k8s/overlays/argo-rollouts: the Rollout in place of the track Deployments, its steps and analysis from
params.yaml, an AnalysisTemplate per check whose arguments all resolve against the Rollout (as Argo resolves
them), the analysis service and the shadow mirror, traffic and mirroring on the HTTPRoute, and the upstream
CRDs rejecting a broken Rollout (every object's schema is checked in test_k8s_manifests.py)."""

from __future__ import annotations

import copy
import os
import subprocess
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers import crds
from tests.helpers.argo import ArgoError, field_value, inline_template_errors, metric_errors, resolved_metrics
from tests.helpers.kustomize import (
    K8S,
    K8S_VERSIONS,
    ROLLOUT,
    by_kind,
    crd_validator,
    kubectl,
    pinned_version,
    render,
    serving_templates,
    validate,
)
from ticketops.config import load_params
from ticketops.rollout.argo import templates as T
from ticketops.rollout.check_names import ALL_CHECKS, CHECKS_BY_PHASE, SHADOW
from ticketops.rollout.kubernetes.objects import TRACK_ENV, TRACK_LABEL, VERSION_LABEL

ARGO = "overlays/argo-rollouts"


@pytest.fixture(scope="module")
def objects():
    return render(ARGO)


@pytest.fixture(scope="module")
def rollout(objects):
    return by_kind(objects, "Rollout")[T.ROLLOUT]


@pytest.fixture(scope="module")
def templates(objects):
    return by_kind(objects, "AnalysisTemplate")


def analyses(rollout) -> list[dict]:
    canary = rollout["spec"]["strategy"]["canary"]
    return [canary["analysis"], *(step["analysis"] for step in canary["steps"] if "analysis" in step)]


def test_the_rollout_replaces_the_track_deployments_with_the_base_pod_template(objects, rollout):
    # the track Deployments are gone; the services of the overlay and the base's retrain webhook stay
    assert set(by_kind(objects, "Deployment")) == {
        "ticketops-analysis",
        "ticketops-shadow",
        "ticketops-retrain-webhook",
    }
    base = by_kind(render("base"), "Deployment")["ticketops-stable"]["spec"]["template"]
    expected = copy.deepcopy(base)
    del expected["metadata"]["labels"][TRACK_LABEL]  # Argo sets it: canaryMetadata / stableMetadata
    (container,) = expected["spec"]["containers"]
    container["env"] = [
        {"name": TRACK_ENV, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{TRACK_LABEL}']"}}}
        if e["name"] == TRACK_ENV
        else e
        for e in container["env"]
    ]
    assert rollout["spec"]["template"] == expected  # same image, probes, resources, security, pinned model
    selector = rollout["spec"]["selector"]["matchLabels"]
    assert selector.items() <= rollout["spec"]["template"]["metadata"]["labels"].items()
    assert TRACK_LABEL not in selector and VERSION_LABEL not in selector
    version = rollout["spec"]["template"]["metadata"]["labels"][VERSION_LABEL]
    assert rollout["metadata"]["annotations"][T.STABLE_VERSION_ANNOTATION] == version  # at rest: stable = template


def test_weighted_steps_each_followed_by_their_analysis(rollout):
    params = load_params().rollout
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    weighted = [i for i, step in enumerate(steps) if "setWeight" in step]
    assert [steps[i]["setWeight"] for i in weighted] == [w for w in params.steps if 0 < w < 100]
    assert len(weighted) >= 2
    for i in weighted:
        analysis = steps[i + 1]["analysis"]
        args = {a["name"]: a.get("value") for a in analysis["args"]}
        assert args["phase"] == "canary" and args["step"] == f"w{steps[i]['setWeight']}"
        assert {t["templateName"] for t in analysis["templates"]} >= {T.template_name(c) for c in ("error_rate",)}
    background = rollout["spec"]["strategy"]["canary"]["analysis"]
    assert background["startingStep"] == weighted[0]
    guards = {a["name"]: a["value"] for a in background["args"] if "value" in a}
    assert guards["guard"] == "true" and guards["count"] == "0"
    assert {t["templateName"] for t in background["templates"]} == {
        T.template_name(c) for c in CHECKS_BY_PHASE["canary"]
    }


def test_the_shadow_is_analysed_before_the_first_weighted_step(rollout):
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    first_weight = next(i for i, step in enumerate(steps) if "setWeight" in step)
    before = steps[:first_weight]
    assert before[0] == {"setCanaryScale": {"replicas": 1}}  # canary pods up at 0% of traffic
    (shadow,) = [step["analysis"] for step in before if "analysis" in step]
    assert {a["name"]: a.get("value") for a in shadow["args"]}["phase"] == SHADOW
    assert [t["templateName"] for t in shadow["templates"]] == [T.template_name(c) for c in CHECKS_BY_PHASE[SHADOW]]
    assert before[-1] == {"setCanaryScale": {"matchTrafficWeight": True}}  # setWeight scales the canary again


def test_an_analysis_template_for_every_check(templates):
    assert set(templates) == {T.template_name(check) for check in ALL_CHECKS}
    for check in ALL_CHECKS:
        (metric,) = templates[T.template_name(check)]["spec"]["metrics"]
        assert metric["name"] == check
        url = urlsplit(metric["provider"]["web"]["url"])
        assert (url.scheme, url.netloc) == ("http", "ticketops-analysis.ticketops.svc:8080")
        assert url.path == "/v1/checks/{{args.phase}}/" + check
        assert metric["failureCondition"] == 'result.verdict == "fail"'


def test_every_template_argument_resolves_against_the_rollout(rollout, templates):
    """As Argo builds each AnalysisRun: every argument declared, supplied or defaulted, every placeholder
    resolved, and the resolved metric valid; the versions come from the Rollout itself."""
    params = load_params().rollout
    version = rollout["spec"]["template"]["metadata"]["labels"][VERSION_LABEL]
    assert [e for t in templates.values() for e in inline_template_errors(t)] == []
    for analysis in analyses(rollout):
        metrics = resolved_metrics(analysis, rollout, templates)
        assert len(metrics) == len(analysis["templates"])
        guard = analysis is rollout["spec"]["strategy"]["canary"]["analysis"]
        for metric in metrics:
            assert metric_errors(metric) == [], metric["name"]
            query = parse_qs(urlsplit(metric["provider"]["web"]["url"]).query)
            assert query["canary_version"] == [version] and query["stable_version"] == [version]
            assert query["revision"] and query["step"]
            assert metric["provider"]["web"]["headers"] == [{"key": "Authorization", "value": "Bearer s3cret"}]
            assert int(metric["count"]) == (0 if guard else T.measurements(params))
            assert int(metric["consecutiveSuccessLimit"]) == (0 if guard else 1)
            assert int(metric["failureLimit"]) == params.max_failures - 1
            assert ('"true" == "true"' in metric["successCondition"]) is guard


def test_the_argument_check_can_fail(rollout, templates):
    analysis = copy.deepcopy(rollout["spec"]["strategy"]["canary"]["steps"][1]["analysis"])
    broken = copy.deepcopy(templates)
    metric = broken["ticketops-error-rate"]["spec"]["metrics"][0]
    metric["provider"]["web"]["url"] += "&x={{args.canary-verison}}"
    with pytest.raises(ArgoError, match="canary-verison"):
        resolved_metrics(analysis, rollout, broken)
    analysis["args"] = [a for a in analysis["args"] if a["name"] != "stable-version"]
    with pytest.raises(ArgoError, match="stable-version"):
        resolved_metrics(analysis, rollout, templates)
    endless = copy.deepcopy(templates["ticketops-error-rate"])
    next(a for a in endless["spec"]["args"] if a["name"] == "count")["value"] = "0"
    assert inline_template_errors(endless)  # a step's analysis must end
    with pytest.raises(ArgoError, match="invalid path"):  # a dotted label key is out of Argo's reach
        field_value(rollout, "spec.template.metadata.labels.ticketops.io/model-version")


def test_a_broken_rollout_fails_validation(rollout, templates):
    validate(rollout)
    bad = copy.deepcopy(rollout)
    bad["spec"]["strategy"]["canary"]["steps"][3]["setWeight"] = "ten"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = copy.deepcopy(rollout)
    bad["spec"]["strategy"]["canary"]["stableServce"] = "ticketops-stable"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = copy.deepcopy(rollout)
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(jsonschema.ValidationError):  # no port: the CRD has the container schema
        validate(bad)
    bad = copy.deepcopy(rollout)  # volumes are open in the CRD: the PodTemplate check catches them
    bad["spec"]["template"]["spec"]["volumes"][0]["emptyDirr"] = bad["spec"]["template"]["spec"]["volumes"][0].pop(
        "emptyDir"
    )
    crds.validate(bad, crd_validator(*ROLLOUT, K8S_VERSIONS[-1]))
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)
    template = copy.deepcopy(templates["ticketops-error-rate"])
    template["spec"]["metrics"][0]["provider"]["web"]["jsonpath"] = "{$}"
    with pytest.raises(jsonschema.ValidationError):
        validate(template)


def test_services_and_traffic_routing(objects, rollout):
    services = by_kind(objects, "Service")
    canary = rollout["spec"]["strategy"]["canary"]
    labels = rollout["spec"]["template"]["metadata"]["labels"]
    for name in (canary["stableService"], canary["canaryService"], "ticketops"):
        assert services[name]["spec"]["selector"] == rollout["spec"]["selector"]["matchLabels"], name
        assert services[name]["spec"]["selector"].items() <= labels.items()
    assert canary["stableMetadata"]["labels"] == {TRACK_LABEL: "stable"}
    assert canary["canaryMetadata"]["labels"] == {TRACK_LABEL: "canary"}
    plugin = canary["trafficRouting"]["plugins"][T.GATEWAY_PLUGIN]
    route = by_kind(objects, "HTTPRoute")[plugin["httpRoute"]]
    assert route["metadata"]["namespace"] == plugin["namespace"] == rollout["metadata"]["namespace"]
    for rule in route["spec"]["rules"]:  # the plugin moves the weights of every rule naming both Services
        weights = {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
        assert weights == {canary["stableService"]: 100, canary["canaryService"]: 0}
    mirrored = [r for r in route["spec"]["rules"] if r.get("filters")]
    (rule,) = mirrored
    assert {m["path"]["value"] for m in rule["matches"]} == {"/classify", "/feedback"}
    (mirror,) = rule["filters"]
    target = mirror["requestMirror"]["backendRef"]
    assert mirror["type"] == "RequestMirror" and target["name"] == "ticketops-shadow"
    assert target["port"] in {p["port"] for p in services["ticketops-shadow"]["spec"]["ports"]}


def test_the_analysis_service_and_the_shadow_mirror(objects):
    deployments, services = by_kind(objects, "Deployment"), by_kind(objects, "Service")
    analysis = deployments["ticketops-analysis"]["spec"]["template"]["spec"]
    (container,) = analysis["containers"]
    assert container["command"][:3] == ["ticketops", "rollout", "analysis-service"]
    assert container["image"].startswith("ticketops-jobs")
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TICKETOPS_ANALYSIS_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": T.TOKEN_SECRET,
        "key": T.TOKEN_KEY,
    }
    assert env["TICKETOPS_ARGO_RECONCILE"]["value"] == "true"
    assert {"configMapRef": {"name": "ticketops-config"}} in container["envFrom"]
    assert services["ticketops-analysis"]["spec"]["ports"][0]["port"] == 8080
    shadow = deployments["ticketops-shadow"]["spec"]["template"]["spec"]["containers"][0]
    assert shadow["command"][:3] == ["ticketops", "rollout", "shadow-mirror"]
    assert services["ticketops-shadow"]["spec"]["ports"][0]["port"] == 3000
    for name in ("ticketops-analysis", "ticketops-shadow"):
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= labels.items()


def test_the_analysis_service_may_read_and_patch_rollouts(objects):
    roles, bindings = by_kind(objects, "Role"), by_kind(objects, "RoleBinding")
    binding = bindings["ticketops-analysis"]
    account = by_kind(objects, "Deployment")["ticketops-analysis"]["spec"]["template"]["spec"]["serviceAccountName"]
    assert [(s["kind"], s["name"]) for s in binding["subjects"]] == [("ServiceAccount", account)]
    role = roles[binding["roleRef"]["name"]]
    verbs = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert verbs == {
        ("argoproj.io", "rollouts"): {"get", "list", "watch", "patch"},
        ("apps", "replicasets"): {"get", "list"},
    }
    cli = {
        (g, r): set(rule["verbs"])
        for rule in roles["ticketops-rollout"]["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert {"get", "patch"} <= cli[("argoproj.io", "rollouts")]


def test_network_policies_open_what_argo_and_the_gateway_need(objects):
    policies = by_kind(objects, "NetworkPolicy")

    def ingress(name: str) -> tuple[set, set]:
        (rule,) = policies[name]["spec"]["ingress"]
        sources = {tuple(sorted(s["namespaceSelector"]["matchLabels"].items())) for s in rule["from"]}
        return sources, {p["port"] for p in rule["ports"]}

    sources, ports = ingress("ticketops-analysis-ingress")
    assert (("kubernetes.io/metadata.name", "argo-rollouts"),) in sources and ports == {8080}
    sources, ports = ingress("ticketops-shadow-ingress")
    assert (("ticketops.io/ingress", "true"),) in sources and ports == {3000}
    (egress,) = policies["ticketops-shadow-egress"]["spec"]["egress"]
    assert egress["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"


def test_the_pod_monitor_labels_series_with_the_live_track(objects):
    monitors = by_kind(objects, "PodMonitor")
    (endpoint,) = monitors["ticketops"]["spec"]["podMetricsEndpoints"]
    assert endpoint["honorLabels"] is False  # the target's track wins; the process's own becomes exported_track
    assert {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_label_track"], "targetLabel": "track"} in (
        endpoint["relabelings"]
    )
    assert "podTargetLabels" not in monitors["ticketops"]["spec"]  # model_version stays the service's own
    services = monitors["ticketops-rollout-services"]["spec"]["selector"]["matchExpressions"][0]["values"]
    assert set(services) == {"shadow", "analysis"}


def readme_patches(marker: str) -> dict:
    """The ``patches:`` block k8s/README.md gives under ``<!-- first-version: MARKER -->``."""
    text = (K8S / "README.md").read_text().split(f"<!-- first-version: {marker} -->", 1)[1]
    return yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])


@pytest.mark.parametrize(
    "marker, overlay",
    [("deployments", "overlays/production"), ("deployments", "overlays/local"), ("argo-rollouts", ARGO)],
)
def test_the_readme_sets_the_first_version(tmp_path, marker, overlay):
    """What k8s/README.md says to add to an overlay pins every serving pod template to that version."""
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    kustomization |= {"resources": [os.path.relpath(K8S / overlay, tmp_path)], **readme_patches(marker)}
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    result = subprocess.run([kubectl(), "kustomize", str(tmp_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    objects = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    templates = serving_templates(objects)
    assert templates and {pinned_version(template) for _, template in templates} == {"7"}
    for obj, _ in templates:
        validate(obj)
        if obj["kind"] == "Rollout":
            assert obj["metadata"]["annotations"][T.STABLE_VERSION_ANNOTATION] == "7"
        else:
            assert obj["metadata"]["labels"][VERSION_LABEL] == "7"
