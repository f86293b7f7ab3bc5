"""The argo backend and reconciler against a real cluster with Argo Rollouts: only when KUBECONFIG is set and the
cluster serves the argoproj.io Rollout kind (`make test-all`).

The Rollout is the one `kubectl kustomize k8s/overlays/argo-rollouts` renders, in a throw-away namespace that
enforces the restricted Pod Security Standard, with the serving container swapped for a stand-in HTTP server
(agnhost, as tests/e2e/test_kubernetes_cluster.py does) and its strategy cut to steps that need neither the
Gateway API plugin nor the analysis service (those are tested against a real Prometheus and the emulator):
what is checked here is that the real API server and Argo's real controller accept what ticketops writes, and
that the registry follows what Argo then serves. TICKETOPS_E2E_KEEP=1 keeps the namespace.
"""

from __future__ import annotations

import copy
import os
import secrets
import uuid

import pytest

from tests.e2e.test_kubernetes_cluster import _stand_in, _wait
from tests.helpers.kustomize import render
from tests.helpers.tiny_model import MODEL_NAME
from tests.integration.argo_setup import aliases, make_registry, reset_registry
from ticketops.rollout.argo.backend import ArgoBackend
from ticketops.rollout.argo.reconciler import Reconciler
from ticketops.rollout.argo.rollout_object import ArgoRollout
from ticketops.rollout.kubernetes.connection import api_client_from_settings
from ticketops.settings import ArgoSettings, KubernetesSettings

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "rollouts"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster: set KUBECONFIG"),
]


def _argo_installed(api) -> bool:
    from kubernetes import client

    try:
        resources = client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION)
    except Exception:
        return False
    return any(r.name == PLURAL for r in resources.resources)


def _rollout_for(namespace: str) -> dict:
    """The overlay's Rollout, stand-in container, steps Argo can run on its own (replica-count canary)."""
    (rollout,) = (o for o in render("overlays/argo-rollouts") if o["kind"] == "Rollout")
    rollout = copy.deepcopy(rollout)
    rollout["metadata"]["namespace"] = namespace
    rollout["spec"]["replicas"] = 2
    rollout["spec"]["template"] = _stand_in({"spec": {"template": rollout["spec"]["template"]}})["spec"]["template"]
    canary = rollout["spec"]["strategy"]["canary"]
    for key in ("trafficRouting", "analysis", "canaryService", "stableService"):
        canary.pop(key, None)
    canary["steps"] = [{"setWeight": 50}, {"pause": {"duration": "5s"}}]
    return rollout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from kubernetes import client

    settings = KubernetesSettings()
    api = api_client_from_settings(settings)
    if not _argo_installed(api):
        pytest.skip("the cluster has no Argo Rollouts (argoproj.io/v1alpha1 rollouts)")
    make_registry(tmp_path_factory.mktemp("argo-e2e-registry"))
    core = client.CoreV1Api(api)
    namespace = f"ticketops-argo-e2e-{uuid.uuid4().hex[:6]}"
    (ns_obj,) = (o for o in render("overlays/argo-rollouts") if o["kind"] == "Namespace")
    core.create_namespace({**ns_obj, "metadata": {**ns_obj["metadata"], "name": namespace}})
    try:
        core.create_namespaced_secret(
            namespace,
            {"metadata": {"name": "ticketops-secrets"}, "stringData": {"api-token": secrets.token_hex(16)}},
        )
        for obj in render("overlays/argo-rollouts"):
            if obj["kind"] == "ConfigMap":
                core.create_namespaced_config_map(
                    namespace, {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
                )
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, _rollout_for(namespace)
        )
        yield ArgoSettings(rollout="ticketops"), settings.model_copy(update={"namespace": namespace})
    finally:
        if not os.environ.get("TICKETOPS_E2E_KEEP"):
            core.delete_namespace(namespace)


def test_argo_runs_the_pinned_version_and_the_registry_follows(cluster):
    argo, k8s = cluster
    registry = reset_registry()  # v1 @champion, v2 @challenger (gate passed)
    rollout = ArgoRollout(argo, k8s)
    reconciler = Reconciler(
        ArgoRollout(argo, k8s, field_manager=argo.reconciler_field_manager), registry, MODEL_NAME, None
    )
    backend = ArgoBackend(rollout, reconciler)
    _wait(lambda: rollout.view().stable_version == "1" and rollout.view().phase == "Healthy", "v1 stable, Healthy")

    started = backend.start()  # the real API server takes the conditional merge patch of the custom resource
    template = rollout.read()["spec"]["template"]
    assert template["metadata"]["labels"]["model-version"] == "2"
    assert "@" not in str(template)  # no alias anywhere in what the pods run

    def promoted() -> bool:
        reconciler.run_once()
        return rollout.view().stable_version == "2"

    _wait(promoted, "Argo to promote v2")  # its real controller: canary ReplicaSet, 50 %, pause, 100 %
    reconciler.run_once()
    assert aliases(registry) == {"champion": "2", "challenger": None}
    events = [e.event for e in backend.history(started.rollout_id)]
    assert events[0] == "started" and events[-1] == "promoted", events
    assert rollout.read()["metadata"]["annotations"]["ticketops.io/stable-version"] == "2"
