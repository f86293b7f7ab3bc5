"""Reading a Rollout (what serves, at what weight, changed by whom) and the patches ticketops sends, as pure
functions over the objects; the plugin's patch rules are those of argo-rollouts' promote.go."""

from __future__ import annotations

import copy
import json

from ticketops.rollout.argo.patches import pin_patch, promote_patches
from ticketops.rollout.argo.status import ABORT, TEMPLATE, newest_owner, read_view
from ticketops.rollout.events import MAX_TAG_CHARS, RolloutEvent, event_from_registry_tag, registry_tag

STEPS = [{"setCanaryScale": {"replicas": 1}}, {"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def template(version: str) -> dict:
    env = [
        {"name": "A", "value": "1"},
        {"name": "TICKETOPS_MODEL_URI", "value": f"models:/ticket-classifier/{version}"},
    ]
    return {
        "metadata": {"labels": {"model-version": version}},
        "spec": {"containers": [{"name": "service", "env": env}, {"name": "sidecar"}]},
    }


def replicaset(hash_: str, version: str, uid: str = "u1") -> dict:
    owner = {"kind": "Rollout", "controller": True, "uid": uid}
    meta = {"labels": {"rollouts-pod-template-hash": hash_}, "ownerReferences": [owner]}
    return {"metadata": meta, "spec": {"template": template(version)}}


def rollout(status: dict, version: str = "2", generation: int = 3, managed=()) -> dict:
    meta = {
        "name": "ticketops",
        "namespace": "ticketops",
        "uid": "u1",
        "generation": generation,
        "resourceVersion": "77",
        "managedFields": list(managed),
    }
    spec = {"template": template(version), "strategy": {"canary": {"steps": STEPS}}}
    return {"metadata": meta, "spec": spec, "status": {"observedGeneration": "3", **status}}


SETS = [replicaset("aaa", "1"), replicaset("bbb", "2"), replicaset("ccc", "9", uid="someone-else")]


def test_versions_weight_and_phase_come_from_the_replicasets_and_status():
    weights = {"canary": {"weight": 10, "podTemplateHash": "bbb"}, "stable": {"weight": 90, "podTemplateHash": "aaa"}}
    view = read_view(
        rollout(
            {
                "stableRS": "aaa",
                "currentPodHash": "bbb",
                "currentStepIndex": 2,
                "phase": "Paused",
                "canary": {"weights": weights},
            }
        ),
        SETS,
        "service",
    )
    assert (view.stable_version, view.canary_version, view.canary_weight, view.phase) == ("1", "2", 10, "Paused")
    assert view.observed and view.running and view.weights == [10, 50]
    without_router = read_view(
        rollout({"stableRS": "aaa", "currentPodHash": "bbb", "currentStepIndex": 3}), SETS, "service"
    )
    assert without_router.canary_weight == 50  # the step's setWeight, as Argo's GetCurrentSetWeight
    aborted = read_view(rollout({"stableRS": "aaa", "currentPodHash": "bbb", "abort": True}), SETS, "service")
    assert aborted.aborted and not aborted.running and aborted.canary_weight == 0
    settled = read_view(rollout({"stableRS": "bbb", "currentPodHash": "bbb"}), SETS, "service")
    assert settled.canary_version is None and settled.stable_version == "2"
    stale = read_view(rollout({"stableRS": "aaa", "currentPodHash": "aaa"}, generation=4), SETS, "service")
    assert not stale.observed  # Argo has not seen generation 4 yet
    foreign = read_view(rollout({"stableRS": "ccc", "currentPodHash": "bbb"}), SETS, "service")
    assert foreign.stable_version is None  # a ReplicaSet this Rollout does not own says nothing


def test_the_actor_is_the_newest_owner_of_the_field():
    managed = [
        {"manager": "ticketops", "time": "2026-01-01T10:00:00Z", "fieldsV1": {"f:spec": {"f:template": {}}}},
        {
            "manager": "kubectl-argo-rollouts",
            "time": "2026-01-01T10:05:00Z",
            "subresource": "status",
            "fieldsV1": {"f:status": {"f:abort": {}}},
        },
        {
            "manager": "rollouts-controller",
            "time": "2026-01-01T10:06:00Z",
            "subresource": "status",
            "fieldsV1": {"f:status": {"f:phase": {}, "f:abortedAt": {}}},
        },
        {"manager": "kubectl-edit", "time": "2026-01-01T10:00:00Z", "fieldsV1": {"f:spec": {"f:template": {}}}},
    ]
    assert newest_owner(managed) == "rollouts-controller"
    assert newest_owner(managed, ABORT) == "kubectl-argo-rollouts"
    assert newest_owner(managed, TEMPLATE) == "kubectl-edit"  # same second: the later entry
    assert newest_owner(managed, ("status", "promoteFull")) is None


def test_pinning_changes_only_the_model_and_keeps_every_other_env_and_container():
    live = rollout({})
    before = copy.deepcopy(live)
    patch = pin_patch(
        live, container="service", version="3", model_uri="models:/ticket-classifier/3", stable_version="1"
    )
    assert live == before
    assert patch["metadata"] == {"resourceVersion": "77", "annotations": {"ticketops.io/stable-version": "1"}}
    containers = patch["spec"]["template"]["spec"]["containers"]
    assert containers[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "TICKETOPS_MODEL_URI", "value": "models:/ticket-classifier/3"},
    ]
    assert containers[1] == {"name": "sidecar"}
    assert patch["spec"]["template"]["metadata"] == {
        "labels": {"model-version": "3"},
        "annotations": {"ticketops.io/model-uri": "models:/ticket-classifier/3"},
    }


def test_promote_patches_are_the_plugins():
    running = rollout({"stableRS": "aaa", "currentPodHash": "bbb", "currentStepIndex": 1})
    assert promote_patches(running, full=True) == (
        None,
        {"status": {"promoteFull": True}},
        {"spec": {"paused": False}, "status": {"promoteFull": True}},
    )
    paused_spec = copy.deepcopy(running)
    paused_spec["spec"]["paused"] = True
    assert promote_patches(paused_spec, full=True)[0] == {"spec": {"paused": False}}
    done = rollout({"stableRS": "bbb", "currentPodHash": "bbb"})
    assert promote_patches(done, full=True)[1] is None
    assert promote_patches(running, full=False)[1] == {"status": {"pauseConditions": None, "currentStepIndex": 2}}
    pause = rollout(
        {
            "stableRS": "aaa",
            "currentPodHash": "bbb",
            "currentStepIndex": 2,
            "pauseConditions": [{"reason": "CanaryPauseStep"}],
        }
    )
    assert promote_patches(pause, full=False)[1] == {"status": {"pauseConditions": None}}
    inconclusive = rollout(
        {
            "stableRS": "aaa",
            "currentPodHash": "bbb",
            "currentStepIndex": 4,
            "controllerPause": True,
            "pauseConditions": [{"reason": "InconclusiveAnalysisRun"}],
            "canary": {"currentStepAnalysisRunStatus": {"name": "r", "status": "Inconclusive"}},
        }
    )
    assert promote_patches(inconclusive, full=False)[1] == {
        "status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 5}
    }
    past = rollout({"stableRS": "aaa", "currentPodHash": "bbb", "currentStepIndex": 5})
    assert promote_patches(past, full=False)[1] == {"status": {"pauseConditions": None, "currentStepIndex": 5}}


def test_a_registry_tag_reads_back_as_its_event_even_with_a_long_reason():
    event = RolloutEvent(
        time=1767261600.123,
        rollout_id="argo-20260101-abc123",
        event="rolled_back",
        stable_version="1",
        canary_version="2",
        step=3,
        weight=0,
        reason="é" * 6000,
        actor="k8s:kubectl-argo-rollouts",
    )
    key, value = registry_tag(event)
    assert len(value) <= MAX_TAG_CHARS and json.loads(value)["reason"].endswith("...")
    back = event_from_registry_tag(key, value)
    assert back.model_dump(exclude={"reason"}) == event.model_dump(exclude={"reason"})
    assert event_from_registry_tag("rollout_result", "promoted") is None
    assert event_from_registry_tag("rollout.x.notanumber.step", "{}") is None
