"""Argo Rollouts' side of a cluster for the emulated API server: its controller, and its kubectl plugin.

``ArgoController`` writes what Argo's rollouts-controller writes (its own User-Agent, so managedFields name it):
a ReplicaSet per pod template (``rollouts-pod-template-hash``, ``rollout.argoproj.io/revision``, owned by the
Rollout), and the Rollout's status through the ``/status`` subresource (stableRS, currentPodHash,
currentStepIndex, canary.weights, phase, abort, promoteFull, observedGeneration), one reconciliation per call,
so a test decides when each step passes. ``KubectlArgoRollouts`` sends the plugin's own patches, copied from
pkg/kubectl-argo-rollouts/cmd/{promote,abort,undo} of argoproj/argo-rollouts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import Any

from kubernetes import client

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "rollouts"
HASH_LABEL = "rollouts-pod-template-hash"
REVISION = "rollout.argoproj.io/revision"
CONTROLLER_AGENT = "rollouts-controller/v1.8.3 (linux/amd64) argo-rollouts/9f8d111"
PLUGIN_AGENT = "kubectl-argo-rollouts/v1.8.3 (linux/amd64) kubernetes/9f8d111"
MERGE = "application/merge-patch+json"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pod_template_hash(template: dict[str, Any]) -> str:
    bare = copy.deepcopy(template)
    (bare.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return hashlib.sha256(json.dumps(bare, sort_keys=True).encode()).hexdigest()[:10]


class _Client:
    def __init__(self, server, agent: str, namespace: str, name: str) -> None:
        api = server.api_client()
        api.user_agent = agent
        self.custom, self.apps = client.CustomObjectsApi(api), client.AppsV1Api(api)
        self.namespace, self.name = namespace, name

    def rollout(self) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, self.name)

    def replicasets(self, rollout: dict[str, Any]) -> list[dict[str, Any]]:
        items = json.loads(self.apps.list_namespaced_replica_set(self.namespace, _preload_content=False).data)["items"]
        uid = rollout["metadata"]["uid"]
        return [rs for rs in items if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])]

    def patch(self, body: Any, *, status: bool = False, content_type: str = MERGE) -> None:
        send = (
            self.custom.patch_namespaced_custom_object_status if status else self.custom.patch_namespaced_custom_object
        )
        send(GROUP, VERSION, self.namespace, PLURAL, self.name, body, _content_type=content_type)


class ArgoController(_Client):
    def __init__(self, server, namespace: str, name: str) -> None:
        super().__init__(server, CONTROLLER_AGENT, namespace, name)

    def steps(self, rollout: dict[str, Any]) -> list[dict[str, Any]]:
        return rollout["spec"]["strategy"]["canary"]["steps"]

    def _weight(self, rollout: dict[str, Any], index: int) -> int:
        steps = self.steps(rollout)
        if index >= len(steps):
            return 100
        return next((s["setWeight"] for s in reversed(steps[: index + 1]) if "setWeight" in s), 0)

    def _replicaset(self, rollout: dict[str, Any], hash_: str) -> None:
        """The ReplicaSet of ``hash_``: created, or (an older revision brought back) given the newest revision."""
        existing = {rs["metadata"]["labels"][HASH_LABEL]: rs for rs in self.replicasets(rollout)}
        revisions = [int(rs["metadata"]["annotations"][REVISION]) for rs in existing.values()]
        newest = max(revisions, default=0)
        if hash_ in existing:
            rs = existing[hash_]
            if int(rs["metadata"]["annotations"][REVISION]) != newest:
                body = {"metadata": {"annotations": {REVISION: str(newest + 1)}}}
                self.apps.patch_namespaced_replica_set(
                    rs["metadata"]["name"], self.namespace, body, _content_type=MERGE
                )
            return
        template = copy.deepcopy(rollout["spec"]["template"])
        template["metadata"].setdefault("labels", {})[HASH_LABEL] = hash_
        owner = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Rollout", "name": self.name}
        owner |= {"uid": rollout["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
        selector = {**rollout["spec"]["selector"]["matchLabels"], HASH_LABEL: hash_}
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{self.name}-{hash_}",
                "namespace": self.namespace,
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {REVISION: str(newest + 1)},
                "ownerReferences": [owner],
            },
            "spec": {"replicas": 1, "selector": {"matchLabels": selector}, "template": template},
        }
        self.apps.create_namespaced_replica_set(self.namespace, body)

    def _at_step(self, rollout: dict[str, Any], index: int, canary_hash: str) -> dict[str, Any]:
        steps = self.steps(rollout)
        status: dict[str, Any] = {"currentStepIndex": index, "phase": "Progressing", "message": None}
        status["canary"] = {"weights": self._weights(rollout, self._weight(rollout, index), canary_hash)}
        if index < len(steps) and "pause" in steps[index]:
            status |= {"phase": "Paused", "message": "CanaryPauseStep", "controllerPause": True}
            status["pauseConditions"] = [{"reason": "CanaryPauseStep", "startTime": now()}]
        return status

    def _weights(self, rollout: dict[str, Any], weight: int, canary_hash: str) -> dict[str, Any]:
        stable_hash = (rollout.get("status") or {}).get("stableRS")
        return {
            "canary": {"weight": weight, "podTemplateHash": canary_hash, "serviceName": "ticketops-canary"},
            "stable": {"weight": 100 - weight, "podTemplateHash": stable_hash, "serviceName": "ticketops-stable"},
        }

    def _promoted(self, rollout: dict[str, Any], hash_: str) -> dict[str, Any]:
        weights = self._weights(rollout, 0, hash_)
        weights["stable"]["podTemplateHash"] = hash_
        return {
            "stableRS": hash_,
            "currentStepIndex": len(self.steps(rollout)),
            "phase": "Healthy",
            "message": None,
            "promoteFull": None,
            "pauseConditions": None,
            "controllerPause": None,
            "canary": {"weights": weights},
        }

    def sync(self) -> None:
        """One reconciliation of the Rollout's spec and the flags the plugin set."""
        rollout = self.rollout()
        status = rollout.get("status") or {}
        hash_ = pod_template_hash(rollout["spec"]["template"])
        self._replicaset(rollout, hash_)
        if not status.get("stableRS"):  # the first template is stable at once
            update = {"currentPodHash": hash_, **self._promoted(rollout, hash_)}
        elif hash_ != status.get("currentPodHash"):  # a new template: resetRolloutStatus
            update = {"currentPodHash": hash_, "abort": None, "abortedAt": None, "promoteFull": None}
            update |= {"pauseConditions": None, "controllerPause": None}
            if hash_ == status["stableRS"]:
                update |= self._promoted(rollout, hash_)  # back to stable: nothing to roll out
            else:
                update |= self._at_step(rollout, 0, hash_)
        elif status.get("abort"):
            update = {"phase": "Degraded", "abortedAt": status.get("abortedAt") or now(), "currentStepIndex": 0}
            update["message"] = f"RolloutAborted: Rollout aborted update to revision {self._revision(rollout, hash_)}"
            update["canary"] = {"weights": self._weights(rollout, 0, hash_)}
        elif status.get("promoteFull"):
            update = self._promoted(rollout, hash_)
        elif status.get("phase") == "Paused" and not status.get("pauseConditions"):  # `promote` cleared the pause
            update = self._at_step(rollout, int(status.get("currentStepIndex") or 0) + 1, hash_)
            update["controllerPause"] = None
        else:
            update = {}
        update["observedGeneration"] = str(rollout["metadata"].get("generation", 0))
        self.patch({"status": update}, status=True)

    def step(self) -> None:
        """The current step is done (its pause elapsed, its analysis passed): the next one, or promotion."""
        rollout = self.rollout()
        status = rollout["status"]
        index, hash_ = int(status.get("currentStepIndex") or 0) + 1, status["currentPodHash"]
        update = (
            self._promoted(rollout, hash_)
            if index >= len(self.steps(rollout))
            else self._at_step(rollout, index, hash_)
        )
        self.patch({"status": update}, status=True)

    def _revision(self, rollout: dict[str, Any], hash_: str) -> str:
        rs = [r for r in self.replicasets(rollout) if r["metadata"]["labels"][HASH_LABEL] == hash_]
        return rs[0]["metadata"]["annotations"][REVISION] if rs else "?"


class KubectlArgoRollouts(_Client):
    """``kubectl argo rollouts promote [--full] | abort | undo``, patch for patch."""

    def __init__(self, server, namespace: str, name: str) -> None:
        super().__init__(server, PLUGIN_AGENT, namespace, name)

    def promote(self, full: bool = False) -> None:
        rollout = self.rollout()
        spec, status = rollout["spec"], rollout.get("status") or {}
        if full:
            if spec.get("paused"):
                self.patch(json.loads('{"spec":{"paused":false}}'))
            if status.get("currentPodHash") != status.get("stableRS"):
                self.patch(json.loads('{"status":{"promoteFull":true}}'), status=True)
        elif status.get("pauseConditions"):
            self.patch(json.loads('{"status":{"pauseConditions":null}}'), status=True)

    def abort(self) -> None:
        self.patch(json.loads('{"status":{"abort":true}}'), status=True)

    def undo(self) -> None:
        """The previous revision's pod template back into the Rollout (a JSON patch, as RunUndoRollout sends)."""
        rollout = self.rollout()
        by_revision = sorted(self.replicasets(rollout), key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))
        previous = copy.deepcopy(by_revision[-2]["spec"]["template"])
        del previous["metadata"]["labels"][HASH_LABEL]
        self.patch(
            [{"op": "replace", "path": "/spec/template", "value": previous}], content_type="application/json-patch+json"
        )
