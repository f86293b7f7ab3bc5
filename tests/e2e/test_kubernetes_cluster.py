"""KubernetesBackend against a real cluster: runs only when KUBECONFIG is set (`make test-all`).

It applies the rendered k8s/overlays/local Deployments, Services and ConfigMap into a throw-away namespace that
enforces the restricted Pod Security Standard, so the API server itself checks the pod security settings.
The serving container runs a stand-in HTTP server (agnhost netexec on port 3000, probes on "/") unless
TICKETOPS_E2E_IMAGE names a ticketops image whose MLflow the cluster can reach; set TICKETOPS_E2E_KEEP=1 to
keep the namespace for inspection. Needs permission to create namespaces.
"""

from __future__ import annotations

import copy
import os
import secrets
import time
import uuid

import pytest

from tests.helpers.kustomize import render
from ticketops.rollout.kubernetes.backend import KubernetesBackend, api_client_from_settings
from ticketops.rollout.kubernetes.objects import MODEL_URI_ENV, env_value
from ticketops.rollout.state import Phase, RolloutState
from ticketops.settings import KubernetesSettings

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster: set KUBECONFIG"),
]

STAND_IN_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"
TIMEOUT_S = 300


def _stand_in(dep: dict) -> dict:
    """The Deployment with the serving container swapped for agnhost netexec (probes on its "/")."""
    dep = copy.deepcopy(dep)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["image"] = STAND_IN_IMAGE
    container["args"] = ["netexec", "--http-port=3000"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        container[probe]["httpGet"]["path"] = "/"
    return dep


@pytest.fixture(scope="module")
def cluster():
    from kubernetes import client

    settings = KubernetesSettings()
    api = api_client_from_settings(settings)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespace = f"ticketops-e2e-{uuid.uuid4().hex[:6]}"
    objects = render("overlays/local")
    (ns_obj,) = (o for o in objects if o["kind"] == "Namespace")
    core.create_namespace({**ns_obj, "metadata": {**ns_obj["metadata"], "name": namespace}})
    try:
        core.create_namespaced_secret(
            namespace,
            {"metadata": {"name": "ticketops-secrets"}, "stringData": {"api-token": secrets.token_hex(16)}},
        )
        image = os.environ.get("TICKETOPS_E2E_IMAGE")
        for obj in objects:
            obj = copy.deepcopy(obj)
            obj["metadata"]["namespace"] = namespace
            if obj["kind"] == "ConfigMap":
                core.create_namespaced_config_map(namespace, obj)
            elif obj["kind"] == "Service":
                core.create_namespaced_service(namespace, obj)
            elif obj["kind"] == "Deployment" and obj["metadata"]["labels"]["app.kubernetes.io/component"] == "server":
                if image:
                    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
                else:
                    obj = _stand_in(obj)
                apps.create_namespaced_deployment(namespace, obj)
        yield settings.model_copy(
            update={
                "namespace": namespace,
                "total_replicas": 2,
                "ready_timeout_s": TIMEOUT_S,
                "promote_wait_s": TIMEOUT_S,
            }
        )
    finally:
        if not os.environ.get("TICKETOPS_E2E_KEEP"):
            core.delete_namespace(namespace)


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(2)


def _ready_tracks(backend: KubernetesBackend, settings: KubernetesSettings) -> set[str]:
    """The tracks behind the one Service that have ready endpoints (what kube-proxy balances over)."""
    from kubernetes import client

    discovery = client.DiscoveryV1Api(backend.api_client)
    core = client.CoreV1Api(backend.api_client)
    slices = discovery.list_namespaced_endpoint_slice(
        settings.namespace, label_selector=f"kubernetes.io/service-name={settings.service}"
    )
    tracks = set()
    for endpoint_slice in slices.items:
        for endpoint in endpoint_slice.endpoints or []:
            if endpoint.conditions and endpoint.conditions.ready and endpoint.target_ref:
                pod = core.read_namespaced_pod(endpoint.target_ref.name, settings.namespace)
                tracks.add(pod.metadata.labels["track"])
    return tracks


def test_rollout_on_a_real_cluster(cluster):
    settings = cluster
    k8s = KubernetesBackend(settings)
    _wait(lambda: k8s.tracks()["stable"]["ready_replicas"] == 2, "the stable pods")
    assert k8s.load_state() is None

    k8s.deploy_canary("models:/ticket-classifier/2", "2")
    k8s.set_weight(50)  # waits for the canary pod before stable shrinks
    assert k8s.canary_ready()
    _wait(lambda: _ready_tracks(k8s, settings) == {"stable", "canary"}, "both tracks behind the Service")

    state = RolloutState(
        rollout_id="e2e", model_name="ticket-classifier", stable_version="1", canary_version="2", steps=[50, 100]
    )
    state.weight = 50
    k8s.save_state(state)
    restarted = KubernetesBackend(settings)  # a controller restart: state comes back from the annotation
    assert restarted.load_state() == state

    restarted.promote("models:/ticket-classifier/2", "2")  # waits for `kubectl rollout status` to succeed
    tracks = restarted.tracks()
    assert tracks["stable"]["model_uri"] == "models:/ticket-classifier/2"
    assert tracks["stable"]["model_version"] == "2" and tracks["canary"]["replicas"] == 0
    _wait(lambda: _ready_tracks(k8s, settings) == {"stable"}, "only stable behind the Service")
    state.phase = Phase.PROMOTED
    restarted.save_state(state)

    restarted.deploy_canary("models:/ticket-classifier/3", "3")
    restarted.set_weight(50)
    restarted.rollback()
    assert restarted.tracks()["canary"]["replicas"] == 0
    stable = restarted.tracks()["stable"]
    assert stable["replicas"] == 2 and stable["model_uri"] == "models:/ticket-classifier/2"
    assert restarted.load_state().phase == Phase.PROMOTED
    container = restarted._read(settings.stable_deployment)["spec"]["template"]["spec"]["containers"][0]
    assert env_value(container, MODEL_URI_ENV) == "models:/ticket-classifier/2"
