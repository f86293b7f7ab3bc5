"""k8s/: every overlay renders, validates against the Kubernetes schemas, meets the restricted Pod Security
Standard, and agrees with the names the Kubernetes rollout backend and the service use."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from scripts.k8s_manifests import (
    PROMETHEUS_RULE,
    RULES_DIR,
    generated,
    main,
    prometheus_rule,
    render_prometheus_rule,
)
from tests.helpers import crds
from tests.helpers.kustomize import (
    K8S,
    K8S_VERSIONS,
    OVERLAYS,
    ROOT,
    by_kind,
    pinned_version,
    pod_templates,
    render,
    serving_templates,
    validate,
)
from ticketops.rollout.kubernetes.objects import MODEL_URI_ENV, TRACK_ENV, TRACK_LABEL, VERSION_LABEL
from ticketops.settings import KubernetesSettings, RetrainSettings

TARGETS = ["base", *(f"overlays/{name}" for name in OVERLAYS)]
ARGO = "overlays/argo-rollouts"
# Targets whose model service is the stable/canary Deployment pair of the Kubernetes rollout backend (the Argo
# overlay replaces it with a Rollout: tests/unit/scripts/test_k8s_argo_rollouts.py).
DEPLOYMENT_TARGETS = [target for target in TARGETS if target != ARGO]
# Volume types the restricted profile allows.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def server_deployments(objects) -> dict[str, dict]:
    """The serving tracks (the retrain webhook is a Deployment too)."""
    return {
        name: dep
        for name, dep in by_kind(objects, "Deployment").items()
        if dep["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "server"
    }


def test_overlays_exist():
    assert {"local", "production", "production-gateway", "argo-rollouts"} <= set(OVERLAYS)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_matches_its_schema(target, version):
    objects = render(target)
    assert len(objects) >= 15
    for obj in objects:
        try:
            validate(obj, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            pytest.fail(f"{target}: {obj['kind']}/{obj['metadata']['name']} invalid for k8s {version}: {exc}")


def test_validation_rejects_mistakes():
    """The checks above can fail: a misspelt field, a wrong type and a bad weight are all caught."""
    objects = render("overlays/production-gateway")
    deployment = copy.deepcopy(by_kind(objects, "Deployment")["ticketops-stable"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    cronjob = copy.deepcopy(by_kind(objects, "CronJob")["ticketops-monitor"])
    cronjob["spec"]["concurrencyPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(cronjob)
    route = copy.deepcopy(by_kind(objects, "HTTPRoute")["ticketops"])
    route["spec"]["rules"][0]["backendRefs"][1]["weight"] = -1
    with pytest.raises(jsonschema.ValidationError):
        validate(route)
    del route["spec"]["rules"][0]["backendRefs"][1]["weight"]
    del route["spec"]["rules"][0]["backendRefs"][1]["port"]  # a Service backend needs a port
    with pytest.raises(jsonschema.ValidationError):
        validate(route)
    monitor = copy.deepcopy(by_kind(objects, "PodMonitor")["ticketops"])
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor)
    rule = prometheus_rule(Path("/nonexistent"))
    rule["spec"]["groups"] = [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5 minutes"}]}]
    with pytest.raises(jsonschema.ValidationError):
        validate(rule)


def test_custom_resources_are_all_covered():
    """Every kind the overlays render is a built-in one or served by an upstream CRD in k8s/schemas/upstream/."""
    kinds = {(o["apiVersion"], o["kind"]) for target in TARGETS for o in render(target)}
    builtin_groups = ("v1", "apps/", "batch/", "policy/", "networking.k8s.io/", "rbac.authorization.k8s.io/")
    custom = {key for key in kinds if not key[0].startswith(builtin_groups)}
    assert custom <= set(crds.served_schemas())
    assert {
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    } <= custom


@pytest.mark.parametrize("target", TARGETS)
def test_namespace_enforces_restricted_pod_security(target):
    objects = render(target)
    (namespace,) = by_kind(objects, "Namespace").values()
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        namespace["metadata"]["name"]
    }


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_template_is_restricted(target):
    objects = render(target)
    templates = [(o, t) for o in objects for t in pod_templates(o)]
    # stable, canary, monitor, retrain, retrain webhook; on Argo: the Rollout, analysis service, shadow mirror,
    # monitor, retrain, retrain webhook
    assert len(templates) == (6 if target == ARGO else 5)
    bound = {s["name"] for b in by_kind(objects, "RoleBinding").values() for s in b["subjects"]}
    for obj, template in templates:
        where = f"{target} {obj['kind']}/{obj['metadata']['name']}"
        pod = template["spec"]
        pod_ctx = pod.get("securityContext") or {}
        assert pod_ctx.get("runAsNonRoot") is True, where
        assert pod_ctx.get("runAsUser", 1) != 0, where
        assert pod_ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers")), where
        # No API token in a pod unless its service account is granted something (the analysis service's and the
        # retrain webhook's are).
        assert pod.get("automountServiceAccountToken") is False or pod["serviceAccountName"] in bound, where
        # Baseline controls the restricted profile includes: no sysctls, SELinux or AppArmor overrides.
        assert not pod_ctx.get("sysctls") and not pod_ctx.get("seLinuxOptions"), where
        assert pod_ctx.get("appArmorProfile", {}).get("type", "RuntimeDefault") == "RuntimeDefault", where
        for volume in pod.get("volumes") or []:
            assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, f"{where}: volume {volume}"
        containers = [*pod["containers"], *(pod.get("initContainers") or [])]
        for container in containers:
            at = f"{where} container {container['name']}"
            ctx = container.get("securityContext") or {}
            assert ctx.get("allowPrivilegeEscalation") is False, at
            assert ctx.get("privileged") in (None, False), at
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], at
            assert not ctx.get("capabilities", {}).get("add"), at
            assert ctx.get("readOnlyRootFilesystem") is True, at
            assert ctx.get("runAsNonRoot", True) is True and ctx.get("runAsUser", 1) != 0, at
            assert ctx.get("seccompProfile", pod_ctx["seccompProfile"])["type"] == "RuntimeDefault", at
            assert not any(p.get("hostPort") for p in container.get("ports") or []), at
            assert ctx.get("procMount", "Default") == "Default" and not ctx.get("seLinuxOptions"), at
            resources = container.get("resources") or {}
            assert {"cpu", "memory"} <= set(resources.get("requests") or {}), at
            assert "memory" in (resources.get("limits") or {}), at
            # A read-only root still needs somewhere to write: every mount is a declared emptyDir or claim.
            writable = {v["name"] for v in pod.get("volumes") or [] if {"emptyDir", "persistentVolumeClaim"} & set(v)}
            mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts") or []}
            assert set(mounts) <= writable, at
        main = pod["containers"][0]
        assert "/tmp" in {m["mountPath"] for m in main.get("volumeMounts") or []}, where


@pytest.mark.parametrize("target", TARGETS)
def test_no_serving_pod_template_names_an_alias(target):
    """Every serving pod template (Deployment or Rollout) names one model version, so an undo is a real undo."""
    templates = serving_templates(render(target))
    assert len(templates) == (1 if target == ARGO else 2)
    assert {pinned_version(template) for _, template in templates} == {"1"}  # canary at rest = stable


def test_the_alias_check_can_fail():
    (_, template), *_ = serving_templates(render("base"))
    template = copy.deepcopy(template)
    template["spec"]["containers"][0]["env"][0] = {"name": MODEL_URI_ENV, "value": "models:/ticket-classifier@champion"}
    with pytest.raises(AssertionError, match="not one pinned version"):
        pinned_version(template)


@pytest.mark.parametrize("target", TARGETS)
def test_writable_paths_are_on_emptydirs(target):
    """Under a read-only root, every path the ConfigMap points caches and homes at must be a mounted emptyDir."""
    objects = render(target)
    (config_map,) = by_kind(objects, "ConfigMap").values()
    keys = ("HOME", "XDG_CACHE_HOME", "HF_HOME", "MPLCONFIGDIR", "BENTOML_HOME")
    paths = {key: config_map["data"][key] for key in keys}
    for obj in objects:
        for template in pod_templates(obj):
            emptydirs = {v["name"] for v in template["spec"].get("volumes") or [] if "emptyDir" in v}
            for container in template["spec"]["containers"]:
                mounts = [m["mountPath"] for m in container.get("volumeMounts") or [] if m["name"] in emptydirs]
                for name, path in paths.items():
                    assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts), (
                        f"{obj['metadata']['name']}/{container['name']}: {name}={path} is not on an emptyDir"
                    )


@pytest.mark.parametrize("target", DEPLOYMENT_TARGETS)
def test_server_tracks_probes_and_labels(target):
    objects = render(target)
    deployments = server_deployments(objects)
    assert set(deployments) == {"ticketops-stable", "ticketops-canary"}
    for track, name in (("stable", "ticketops-stable"), ("canary", "ticketops-canary")):
        dep = deployments[name]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "ticketops"
        assert labels[TRACK_LABEL] == track and labels[VERSION_LABEL]
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert VERSION_LABEL not in dep["spec"]["selector"]["matchLabels"]  # selectors are immutable
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert {"name": "http", "containerPort": 3000, "protocol": "TCP"} in container["ports"]
        env = {e["name"]: e for e in container["env"]}
        assert env[TRACK_ENV]["value"] == track
        assert env[MODEL_URI_ENV]["value"] == f"models:/ticket-classifier/{labels[VERSION_LABEL]}"  # pinned
        annotations = dep["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "3000"
    assert deployments["ticketops-canary"]["spec"]["replicas"] == 0


@pytest.mark.parametrize("target", DEPLOYMENT_TARGETS)
def test_canary_differs_from_stable_only_in_model_and_track(target):
    """A fair comparison: same image, resources, probes and security; only the model and track differ."""
    deployments = by_kind(render(target), "Deployment")

    def comparable(dep):
        spec = copy.deepcopy(dep["spec"]["template"]["spec"])
        for container in spec["containers"]:
            container["env"] = [e for e in container["env"] if e["name"] not in (MODEL_URI_ENV, TRACK_ENV)]
        return spec

    assert comparable(deployments["ticketops-stable"]) == comparable(deployments["ticketops-canary"])


@pytest.mark.parametrize("target", DEPLOYMENT_TARGETS)
def test_services_select_the_right_pods(target):
    objects = render(target)
    services = by_kind(objects, "Service")
    templates = {
        name: dep["spec"]["template"]["metadata"]["labels"] for name, dep in server_deployments(objects).items()
    }
    others = [
        t["metadata"]["labels"]
        for o in objects
        if o["kind"] in ("CronJob", "Deployment") and o["metadata"]["name"] not in templates
        for t in pod_templates(o)
    ]

    def selects(service, labels):
        return service["spec"]["selector"].items() <= labels.items()

    assert all(selects(services["ticketops"], labels) for labels in templates.values())
    assert not any(selects(services[name], labels) for name in ("ticketops", *_tracks()) for labels in others)
    for track in ("stable", "canary"):
        chosen = {name for name, labels in templates.items() if selects(services[f"ticketops-{track}"], labels)}
        assert chosen == {f"ticketops-{track}"}
    for name in ("ticketops", *_tracks()):
        assert services[name]["spec"]["ports"] == [
            {"name": "http", "port": 3000, "protocol": "TCP", "targetPort": "http"}
        ]


def _tracks() -> tuple[str, str]:
    return ("ticketops-stable", "ticketops-canary")


def test_pod_monitor_scrapes_the_server_and_keeps_its_own_labels():
    objects = render("base")
    (monitor,) = by_kind(objects, "PodMonitor").values()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True  # the service's track/model_version labels are the truth
    selected = [
        dep["metadata"]["name"]
        for dep in by_kind(objects, "Deployment").values()
        if monitor["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert sorted(selected) == ["ticketops-canary", "ticketops-stable"]


@pytest.mark.parametrize("target", TARGETS)
def test_no_secret_values_only_references(target):
    objects = render(target)
    assert not by_kind(objects, "Secret")
    refs = set()
    for obj in objects:
        for template in pod_templates(obj):
            for container in [*template["spec"]["containers"], *(template["spec"].get("initContainers") or [])]:
                refs |= {
                    e["valueFrom"]["secretKeyRef"]["name"]
                    for e in container.get("env") or []
                    if "secretKeyRef" in e.get("valueFrom", {})
                }
                refs |= {e["secretRef"]["name"] for e in container.get("envFrom") or [] if "secretRef" in e}
    assert refs == {"ticketops-secrets", "ticketops-job-secrets"}
    for config_map in by_kind(objects, "ConfigMap").values():
        assert not any("TOKEN" in key or "PASSWORD" in key for key in config_map["data"])
    for path in K8S.rglob("*.yaml"):
        if (K8S / "schemas") in path.parents:
            continue  # upstream CRDs, not manifests
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        assert not any(d.get("kind") == "Secret" for d in docs), path


@pytest.mark.parametrize("target", DEPLOYMENT_TARGETS)
def test_backend_settings_name_real_objects(target):
    """The KubernetesSettings the ConfigMap configures point at objects the overlay creates."""
    objects = render(target)
    (config_map,) = by_kind(objects, "ConfigMap").values()
    env = {k.removeprefix("TICKETOPS_K8S_").lower(): v for k, v in config_map["data"].items() if "_K8S_" in k}
    settings = KubernetesSettings(**env)
    deployments, services = server_deployments(objects), by_kind(objects, "Service")
    assert settings.namespace == config_map["metadata"]["namespace"]
    assert {settings.stable_deployment, settings.canary_deployment} == set(deployments)
    assert {settings.service, settings.stable_service, settings.canary_service} <= set(services)
    stable = deployments[settings.stable_deployment]
    assert settings.container in {c["name"] for c in stable["spec"]["template"]["spec"]["containers"]}
    if settings.traffic == "replicas":
        assert stable["spec"]["replicas"] == settings.total_replicas
        assert not by_kind(objects, "HTTPRoute")
    else:
        route = by_kind(objects, "HTTPRoute")[settings.httproute]
        (rule,) = route["spec"]["rules"]
        weights = {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
        assert weights == {settings.stable_service: 100, settings.canary_service: 0}


@pytest.mark.parametrize("target", DEPLOYMENT_TARGETS)
def test_rollout_role_allows_what_the_backend_does(target):
    objects = render(target)
    role = by_kind(objects, "Role")["ticketops-rollout"]
    verbs = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert {"get", "create", "patch"} <= verbs[("apps", "deployments")]
    assert {"get", "patch"} <= verbs[("gateway.networking.k8s.io", "httproutes")]
    binding = by_kind(objects, "RoleBinding")["ticketops-rollout"]
    assert binding["subjects"][0]["name"] in by_kind(objects, "ServiceAccount")


@pytest.mark.parametrize("target", TARGETS)
def test_the_retrain_webhook_may_only_make_jobs_from_the_retrain_cronjob(target):
    """In the cluster the webhook creates a Job from the CronJob: RBAC allows that and nothing more, Alertmanager
    can reach it, and its settings name the CronJob that exists."""
    objects = render(target)
    (webhook,) = (d for name, d in by_kind(objects, "Deployment").items() if name == "ticketops-retrain-webhook")
    pod = webhook["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    settings = RetrainSettings(
        **{k.removeprefix("TICKETOPS_RETRAIN_").lower(): v for k, v in env.items() if "_RETRAIN_" in k}
    )
    assert settings.trigger == "kubernetes" and env["TICKETOPS_K8S_IN_CLUSTER"] == "true"
    cronjob = by_kind(objects, "CronJob")[settings.cronjob]
    assert cronjob["spec"]["suspend"] is True
    assert cronjob["spec"]["jobTemplate"]["metadata"]["labels"]["app.kubernetes.io/component"] == "retrain"
    role = by_kind(objects, "Role")["ticketops-retrain-webhook"]
    rules = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert rules == {("cronjobs", "get"), ("jobs", "list"), ("jobs", "create")}
    assert all(rule["apiGroups"] == ["batch"] for rule in role["rules"])
    (cronjob_rule,) = (rule for rule in role["rules"] if rule["resources"] == ["cronjobs"])
    assert cronjob_rule["resourceNames"] == [settings.cronjob]
    binding = by_kind(objects, "RoleBinding")["ticketops-retrain-webhook"]
    subject = {
        "kind": "ServiceAccount",
        "name": pod["serviceAccountName"],
        "namespace": webhook["metadata"]["namespace"],
    }
    assert binding["subjects"] == [subject]
    assert pod["serviceAccountName"] in by_kind(objects, "ServiceAccount")
    service = by_kind(objects, "Service")["ticketops-retrain-webhook"]
    assert service["spec"]["selector"].items() <= webhook["spec"]["template"]["metadata"]["labels"].items()
    (port,) = container["ports"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"] and port["containerPort"] == 9095
    assert container["command"][-1] == str(port["containerPort"])
    policy = by_kind(objects, "NetworkPolicy")["ticketops-retrain-webhook"]["spec"]
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9095}]
    namespaces = [f["namespaceSelector"]["matchLabels"] for f in policy["ingress"][0]["from"]]
    assert namespaces == [{"kubernetes.io/metadata.name": "monitoring"}]  # Alertmanager


@pytest.mark.parametrize("target", TARGETS)
def test_the_retrain_job_publishes_its_data_version(target):
    cronjob = by_kind(render(target), "CronJob")["ticketops-retrain"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    settings = RetrainSettings(
        **{k.removeprefix("TICKETOPS_RETRAIN_").lower(): v for k, v in env.items() if "_RETRAIN_" in k}
    )
    assert settings.publish is True and settings.git_url and settings.git_url.startswith("https://")
    assert "@" not in settings.git_url  # credentials come from ticketops-job-secrets, never in the URL
    assert {"secretRef": {"name": "ticketops-job-secrets", "optional": True}} in container["envFrom"]
    workspace = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}[env["TICKETOPS_ROOT"]]
    assert {"name": workspace, "emptyDir": {"sizeLimit": "20Gi"}} in pod["volumes"]  # cloned into, then pushed
    assert container["workingDir"] == env["TICKETOPS_ROOT"] and not pod.get("initContainers")


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_deny_by_default_and_open_the_service_port(target):
    policies = by_kind(render(target), "NetworkPolicy")
    deny = policies["ticketops-default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    ingress = policies["ticketops-server-ingress"]["spec"]
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 3000}]


def test_jobs_run_the_monitor_and_retraining():
    cronjobs = by_kind(render("base"), "CronJob")
    monitor = cronjobs["ticketops-monitor"]["spec"]
    assert monitor["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "ticketops",
        "monitor",
        "--once",
    ]
    assert monitor["concurrencyPolicy"] == "Forbid" and not monitor.get("suspend")
    # It exits before any scrape, so it pushes to a Pushgateway, and keeps its windows on a volume that outlives it.
    config = by_kind(render("base"), "ConfigMap")["ticketops-config"]["data"]
    assert config["TICKETOPS_MONITOR_PUSHGATEWAY_URL"].startswith("http://")
    pod = monitor["jobTemplate"]["spec"]["template"]["spec"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v
    }
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    assert claims[mounts[config["TICKETOPS_MONITOR_STATE_DIR"]]] in by_kind(render("base"), "PersistentVolumeClaim")
    retrain = cronjobs["ticketops-retrain"]["spec"]
    assert retrain["suspend"] is True  # a template for `kubectl create job --from=cronjob/ticketops-retrain`
    assert retrain["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["ticketops", "retrain"]


def test_prometheus_rule_is_in_sync_with_monitoring_rules():
    committed = (ROOT / PROMETHEUS_RULE).read_text()
    assert committed == render_prometheus_rule(ROOT / RULES_DIR), (
        f"{PROMETHEUS_RULE} is out of date with {RULES_DIR}: run `python scripts/k8s_manifests.py`"
    )
    (rendered,) = by_kind(render("base"), "PrometheusRule").values()
    assert rendered["spec"] == yaml.safe_load(committed)["spec"]


def test_generated_files_are_current():
    """What `python scripts/k8s_manifests.py` writes is what is committed (the Argo overlay's strategy and
    AnalysisTemplates from params.yaml, the PrometheusRule from the rule files)."""
    for path, wanted in generated(ROOT).items():
        assert (ROOT / path).read_text() == wanted, f"{path} is out of date: run `python scripts/k8s_manifests.py`"
    assert main(["--check"]) == 0


def test_generated_files_follow_params(tmp_path):
    """Another params.yaml gives other files, and --check then fails: the comparison above can fail."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["rollout"]["steps"] = [5, 100]
    params["rollout"]["max_step_seconds"] = 300  # fewer looks per analysis step
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(ROOT / RULES_DIR, tmp_path / RULES_DIR)
    files = generated(tmp_path)
    assert files[PROMETHEUS_RULE] == (ROOT / PROMETHEUS_RULE).read_text()
    changed = {path for path, text in files.items() if text != (ROOT / path).read_text()}
    assert changed == set(files) - {PROMETHEUS_RULE}
    assert "setWeight: 5\n" in files[Path("k8s/overlays/argo-rollouts/rollout-strategy.yaml")]
    assert "value: '20'\n" in files[Path("k8s/overlays/argo-rollouts/analysistemplates.yaml")]  # 300 s / 15 s


def test_prometheus_rule_gathers_every_rule_file(tmp_path):
    (tmp_path / "b.yml").write_text("groups:\n- name: two\n  rules:\n  - record: x:sum\n    expr: sum(up)\n")
    (tmp_path / "a.yaml").write_text("groups:\n- name: one\n  rules:\n  - alert: Down\n    expr: up == 0\n")
    (tmp_path / "notes.txt").write_text("not a rule file")
    rule = prometheus_rule(tmp_path)
    assert [g["name"] for g in rule["spec"]["groups"]] == ["one", "two"]
    validate(rule)
    (tmp_path / "c.yml").write_text("groups:\n- name: one\n  rules: []\n")
    with pytest.raises(ValueError, match="unique"):
        prometheus_rule(tmp_path)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool comes with Debian's prometheus package")
def test_prometheus_rule_groups_pass_promtool(tmp_path):
    (rendered,) = by_kind(render("base"), "PrometheusRule").values()
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rendered["spec"]["groups"]}))
    result = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
