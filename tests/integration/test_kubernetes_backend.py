"""KubernetesBackend over real HTTP against kmock's API-server emulator, seeded with the rendered k8s/ overlays
(the objects `kubectl apply -k` would create)."""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from tests.helpers.k8s_emulator import EmulatedApiServer, PodsComeUp
from tests.helpers.kustomize import render
from ticketops.rollout.kubernetes.backend import KubernetesBackend, KubernetesBackendError
from ticketops.rollout.kubernetes.objects import (
    CHANGE_CAUSE_ANNOTATION,
    MODEL_URI_ENV,
    STATE_ANNOTATION,
    TRACK_ENV,
    env_value,
)
from ticketops.rollout.state import Phase, RolloutState
from ticketops.settings import KubernetesSettings

pytestmark = pytest.mark.integration

NS = "ticketops"
STABLE, CANARY = "ticketops-stable", "ticketops-canary"
V5 = "models:/ticket-classifier/5"


def settings(**overrides) -> KubernetesSettings:
    values = dict(namespace=NS, total_replicas=4, ready_timeout_s=3, promote_wait_s=3)
    return KubernetesSettings(**{**values, **overrides})


@pytest.fixture
def server():
    with EmulatedApiServer() as api:
        yield api


@pytest.fixture
def pods(server):
    with PodsComeUp(server, NS) as controller:
        yield controller


def seed(server: EmulatedApiServer, overlay: str, *, with_canary: bool = True) -> None:
    objects = [copy.deepcopy(o) for o in render(overlay) if o["kind"] in ("Deployment", "HTTPRoute")]
    server.apply(o for o in objects if with_canary or o["metadata"]["name"] != CANARY)


def backend(server: EmulatedApiServer, **overrides) -> KubernetesBackend:
    """A new backend with its own client: each call is what a (re)started controller would build."""
    return KubernetesBackend(settings(**overrides), server.api_client(), poll_s=0.02)


def wait_for(predicate, timeout_s: float = 3.0) -> None:
    """Pod status trails spec by one reconcile of the stand-in controller, as in a real cluster."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def replicas(server, name) -> int:
    return server.deployment(NS, name)["spec"]["replicas"]


def container(dep) -> dict:
    (only,) = dep["spec"]["template"]["spec"]["containers"]
    return only


def route_weights(server) -> dict[str, int]:
    (rule,) = server.httproute(NS, "ticketops")["spec"]["rules"]
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}


def test_deploy_canary_clones_stable_at_zero_traffic(server, pods):
    seed(server, "overlays/production")
    k8s = backend(server)
    k8s.deploy_canary(V5, "5")
    stable, canary = server.deployment(NS, STABLE), server.deployment(NS, CANARY)
    assert canary["spec"]["replicas"] == 0 and stable["spec"]["replicas"] == 4
    labels = canary["spec"]["template"]["metadata"]["labels"]
    assert labels["track"] == "canary" and labels["model-version"] == "5"
    assert canary["metadata"]["labels"]["model-version"] == "5"
    assert canary["spec"]["selector"]["matchLabels"]["track"] == "canary"
    assert env_value(container(canary), MODEL_URI_ENV) == V5
    assert env_value(container(canary), TRACK_ENV) == "canary"
    # Same image, probes, resources, security and secret references as stable: only the model differs.
    same = ("image", "readinessProbe", "livenessProbe", "resources", "securityContext", "volumeMounts")
    assert {k: container(canary)[k] for k in same} == {k: container(stable)[k] for k in same}
    assert (
        canary["spec"]["template"]["spec"]["securityContext"] == stable["spec"]["template"]["spec"]["securityContext"]
    )
    assert env_value(container(stable), MODEL_URI_ENV) == "models:/ticket-classifier/1"  # pinned, never an alias
    assert not k8s.canary_ready()  # no pods at 0% in replica mode


def test_deploy_canary_creates_the_deployment_when_absent(server, pods):
    seed(server, "overlays/local", with_canary=False)
    k8s = backend(server, total_replicas=2)
    k8s.deploy_canary(V5, "5")
    canary = server.deployment(NS, CANARY)
    assert canary["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "ticketops",
        "app.kubernetes.io/component": "server",
        "track": "canary",
    }
    k8s.set_weight(50)
    assert (replicas(server, STABLE), replicas(server, CANARY)) == (1, 1)
    assert k8s.canary_ready()


def test_weights_follow_replica_counts(server, pods):
    seed(server, "overlays/production")
    k8s = backend(server)
    k8s.deploy_canary(V5, "5")
    expected = {10: (3, 1), 25: (3, 1), 50: (2, 2), 75: (1, 3), 100: (0, 4), 0: (4, 0)}
    for weight, split in expected.items():
        k8s.set_weight(weight)
        assert (replicas(server, STABLE), replicas(server, CANARY)) == split, weight
        assert k8s.canary_ready() is (split[1] > 0)
        wait_for(lambda split=split: k8s.canary_traffic_percent() == 100 * split[1] // 4)
    tracks = k8s.tracks()
    assert tracks["canary"]["model_version"] == "5" and tracks["stable"]["model_version"] == "1"


def test_canary_that_never_gets_ready_takes_no_capacity_from_stable(server, pods):
    seed(server, "overlays/production")
    pods.broken.add(CANARY)
    k8s = backend(server, ready_timeout_s=0.5)
    k8s.deploy_canary(V5, "5")
    k8s.set_weight(25)
    assert replicas(server, CANARY) == 1
    assert replicas(server, STABLE) == 4  # not shrunk for a canary pod that never became ready
    assert not k8s.canary_ready()


def test_promote_rolls_stable_to_the_new_model_and_retires_the_canary(server, pods):
    seed(server, "overlays/production")
    k8s = backend(server)
    k8s.deploy_canary(V5, "5")
    k8s.set_weight(100)
    k8s.promote(V5, "5")
    stable = server.deployment(NS, STABLE)
    assert stable["spec"]["replicas"] == 4 and replicas(server, CANARY) == 0
    assert env_value(container(stable), MODEL_URI_ENV) == V5
    assert env_value(container(stable), TRACK_ENV) == "stable"
    assert stable["spec"]["template"]["metadata"]["labels"]["model-version"] == "5"
    assert stable["spec"]["template"]["metadata"]["labels"]["track"] == "stable"
    assert stable["metadata"]["labels"]["model-version"] == "5"
    assert "version 5" in stable["metadata"]["annotations"][CHANGE_CAUSE_ANNOTATION]
    assert stable["spec"]["selector"]["matchLabels"]["track"] == "stable"
    # promote() returned after the rollout completed for the current spec, not on an older status.
    assert stable["metadata"]["generation"] >= 2
    assert stable["status"]["observedGeneration"] == stable["metadata"]["generation"]
    assert not k8s.canary_ready()


def test_promote_keeps_the_canary_while_stable_cannot_roll_out(server, pods):
    seed(server, "overlays/production")
    k8s = backend(server, promote_wait_s=0.5)
    k8s.deploy_canary(V5, "5")
    k8s.set_weight(50)
    pods.broken.add(STABLE)
    with pytest.raises(KubernetesBackendError, match="did not finish rolling out"):
        k8s.promote(V5, "5")
    assert replicas(server, CANARY) == 2  # still serving: the only pods with the new model


def test_rollback_sends_everything_back_to_unchanged_stable(server, pods):
    seed(server, "overlays/production")
    k8s = backend(server)
    before = container(server.deployment(NS, STABLE))
    k8s.deploy_canary(V5, "5")
    k8s.set_weight(50)
    pods.broken.add(CANARY)  # e.g. the canary started crashing
    k8s.rollback()
    assert (replicas(server, STABLE), replicas(server, CANARY)) == (4, 0)
    assert container(server.deployment(NS, STABLE)) == before
    assert not k8s.canary_ready()


def test_state_survives_a_controller_restart(server, pods):
    seed(server, "overlays/production")
    first = backend(server)
    assert first.load_state() is None
    state = RolloutState(
        rollout_id="r1", model_name="ticket-classifier", stable_version="3", canary_version="5", steps=[10, 50, 100]
    )
    first.deploy_canary(V5, "5")
    state.step_index, state.weight = 1, 50
    first.set_weight(50)
    first.save_state(state)
    annotations = server.deployment(NS, STABLE)["metadata"]["annotations"]
    assert RolloutState.model_validate_json(annotations[STATE_ANNOTATION]) == state

    restarted = backend(server)  # new process, new client: everything comes from the cluster
    resumed = restarted.load_state()
    assert resumed == state and resumed.phase == Phase.RUNNING
    restarted.set_weight(resumed.weight)  # the controller re-asserts the recorded weight on resume
    assert (replicas(server, STABLE), replicas(server, CANARY)) == (2, 2)
    restarted.promote(V5, "5")
    resumed.phase = Phase.PROMOTED
    restarted.save_state(resumed)
    assert backend(server).load_state().phase == Phase.PROMOTED  # outlives the canary


def test_a_second_rollout_re_templates_the_canary(server, pods):
    seed(server, "overlays/production")
    k8s = backend(server)
    k8s.deploy_canary(V5, "5")
    k8s.set_weight(25)
    k8s.rollback()
    k8s.deploy_canary("models:/ticket-classifier/6", "6")
    canary = server.deployment(NS, CANARY)
    assert canary["spec"]["replicas"] == 0
    assert env_value(container(canary), MODEL_URI_ENV) == "models:/ticket-classifier/6"
    assert canary["spec"]["template"]["metadata"]["labels"]["model-version"] == "6"


def test_httproute_weights_split_traffic(server, pods):
    seed(server, "overlays/production-gateway")
    k8s = backend(server, traffic="httproute")
    k8s.deploy_canary(V5, "5")
    assert route_weights(server) == {"ticketops-stable": 100, "ticketops-canary": 0}
    assert replicas(server, CANARY) == 1 and k8s.canary_ready()  # warm before it gets traffic
    for weight, canary_pods in ((10, 1), (25, 1), (50, 2), (100, 4)):
        k8s.set_weight(weight)
        assert route_weights(server) == {"ticketops-stable": 100 - weight, "ticketops-canary": weight}
        assert k8s.canary_traffic_percent() == weight
        assert replicas(server, CANARY) == canary_pods and replicas(server, STABLE) == 4
    k8s.promote(V5, "5")
    assert route_weights(server) == {"ticketops-stable": 100, "ticketops-canary": 0}
    assert replicas(server, CANARY) == 0
    assert env_value(container(server.deployment(NS, STABLE)), MODEL_URI_ENV) == V5


def test_httproute_rollback_and_unready_canary(server, pods):
    seed(server, "overlays/production-gateway")
    k8s = backend(server, traffic="httproute", ready_timeout_s=0.5)
    k8s.deploy_canary(V5, "5")
    k8s.set_weight(25)
    pods.broken.add(CANARY)
    k8s.set_weight(50)  # needs a second canary pod that never gets ready: the weight stays
    assert route_weights(server)["ticketops-canary"] == 25
    assert not k8s.canary_ready()
    k8s.rollback()
    assert route_weights(server) == {"ticketops-stable": 100, "ticketops-canary": 0}
    assert replicas(server, CANARY) == 0


def test_missing_stable_deployment_is_a_clear_error(server):
    k8s = backend(server)
    with pytest.raises(KubernetesBackendError, match="apply k8s/ first"):
        k8s.deploy_canary(V5, "5")
    assert not k8s.canary_ready()


def test_from_settings_reads_kubeconfig_from_the_environment(server, pods, tmp_path, monkeypatch):
    """What `ticketops rollout --backend kubernetes` builds: $KUBECONFIG read at call time, not import time."""
    seed(server, "overlays/production")
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": server.url}}],
                "users": [{"name": "sre", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "sre"}}],
                "current-context": "emulator",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("TICKETOPS_K8S_NAMESPACE", NS)
    k8s = KubernetesBackend.from_settings()
    assert k8s.settings.namespace == NS
    assert k8s.tracks()["stable"]["replicas"] == 4


def test_without_a_kubeconfig_the_error_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubernetesBackendError, match="TICKETOPS_K8S_KUBECONFIG"):
        KubernetesBackend.from_settings()
