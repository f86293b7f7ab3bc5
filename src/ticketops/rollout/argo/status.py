"""What an Argo Rollout serves, read from the Rollout and its ReplicaSets (plain dicts), and who changed it.

Pure functions over what the API server returned, kept apart from the API calls so every reading is testable
without a cluster. The versions come from the ReplicaSets Argo made: the stable one is the ReplicaSet whose
``rollouts-pod-template-hash`` is ``status.stableRS``, the canary the one of ``status.currentPodHash`` when it
differs; each names its model in the pod template label ``model-version`` (a key without a dot: Argo's
analysis args can read it by field path) and, as the Deployments do, the annotation ``ticketops.io/model-uri``.

Who changed something is what Kubernetes reports in ``metadata.managedFields``: each Update records its manager
(``kubectl-argo-rollouts``, ``kubectl-edit``, ``rollouts-controller``, ``ticketops``...) and the fields it
changed, and a field changed later by another manager moves to that one. So the owner of ``spec.template`` is
who last re-templated the Rollout (start, undo, a hand edit), the owner of ``status.abort`` who aborted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ticketops.registry.ref import parse_model_uri
from ticketops.rollout.kubernetes.objects import VERSION_LABEL

STABLE_ANNOTATION = "ticketops.io/stable-version"
HASH_LABEL = "rollouts-pod-template-hash"
MODEL_URI_ENV = "TICKETOPS_MODEL_URI"
ARGO_CONTROLLER = "rollouts-controller"  # the manager name of Argo's controller (its binary's User-Agent)
ARGO_MANAGERS = frozenset({ARGO_CONTROLLER, "argo-rollouts"})
MAX_WEIGHT = 100

TEMPLATE: tuple[str, ...] = ("spec", "template")
ABORT: tuple[str, ...] = ("status", "abort")
PROMOTE_FULL: tuple[str, ...] = ("status", "promoteFull")
STEP: tuple[str, ...] = ("status", "currentStepIndex")


def owns(fields_v1: dict[str, Any], path: tuple[str, ...]) -> bool:
    """Whether a managedFields entry's ``fieldsV1`` holds ``path`` or a field below it."""
    node: Any = fields_v1
    for key in path:
        if not isinstance(node, dict) or f"f:{key}" not in node:
            return False
        node = node[f"f:{key}"]
    return True


def newest_owner(managed_fields: list[dict[str, Any]], path: tuple[str, ...] | None = None) -> str | None:
    """The manager of the most recent entry (owning ``path``, when given); entries keep their order on ties."""
    entries = [e for e in managed_fields if path is None or owns(e.get("fieldsV1") or {}, path)]
    entries = sorted(entries, key=lambda e: e.get("time") or "")  # RFC 3339 in UTC sorts as text; stable
    return entries[-1].get("manager") if entries else None


def template_version(template: dict[str, Any], container: str) -> str | None:
    """The model version a pod template names: its label, else a pinned ``TICKETOPS_MODEL_URI`` in its env."""
    label = ((template.get("metadata") or {}).get("labels") or {}).get(VERSION_LABEL)
    if label:
        return str(label)
    for item in (template.get("spec") or {}).get("containers") or []:
        if item.get("name") != container:
            continue
        for env in item.get("env") or []:
            if env.get("name") == MODEL_URI_ENV and env.get("value"):
                try:
                    return parse_model_uri(env["value"]).version
                except ValueError:
                    return None
    return None


def owned_replicasets(rollout: dict[str, Any], replicasets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Rollout's ReplicaSets by pod-template hash (those whose controller owner is this Rollout)."""
    uid = rollout["metadata"].get("uid")
    out = {}
    for rs in replicasets:
        refs = rs["metadata"].get("ownerReferences") or []
        mine = any(r.get("kind") == "Rollout" and r.get("controller") and r.get("uid") == uid for r in refs)
        hash_ = (rs["metadata"].get("labels") or {}).get(HASH_LABEL)
        if mine and hash_:
            out[hash_] = rs
    return out


def set_weights(rollout: dict[str, Any]) -> list[int]:
    """The ``setWeight`` of each weighted step, in order."""
    steps = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
    return [int(s["setWeight"]) for s in steps if "setWeight" in s]


def current_set_weight(rollout: dict[str, Any]) -> int:
    """Argo's GetCurrentSetWeight: the last ``setWeight`` at or before the current step (100 past the end)."""
    status = rollout.get("status") or {}
    if status.get("abort"):
        return 0
    steps = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
    index = int(status.get("currentStepIndex") or 0)
    if index >= len(steps):
        return MAX_WEIGHT
    for step in reversed(steps[: index + 1]):
        if "setWeight" in step:
            return int(step["setWeight"])
    return 0


@dataclass(frozen=True)
class RolloutView:
    """One reading of the Rollout: what serves, at what weight, in which phase, and who changed it."""

    name: str
    namespace: str
    resource_version: str
    observed: bool  # Argo's status describes the current spec (status.observedGeneration == metadata.generation)
    template_version: str | None  # what spec.template names (what Argo is rolling towards)
    stable_version: str | None
    canary_version: str | None  # a canary that differs from stable, running or aborted
    canary_weight: int  # percent of traffic on the canary now
    phase: str  # Healthy | Progressing | Paused | Degraded (Argo's status.phase)
    aborted: bool
    promote_full: bool
    step_index: int  # Argo's status.currentStepIndex (0-based, over every step kind)
    step_count: int
    weights: list[int]  # the setWeight steps
    stable_annotation: str | None
    message: str
    analysis: dict[str, Any] = field(default_factory=dict)  # Argo's current step / background AnalysisRun status
    managed_fields: list[dict[str, Any]] = field(default_factory=list)

    def actor(self, path: tuple[str, ...] | None = None) -> str | None:
        """Who last changed ``path`` (or anything, when None), as Kubernetes reports it."""
        return newest_owner(self.managed_fields, path)

    @property
    def controller(self) -> str:
        """Argo's own controller, as it names itself in managedFields."""
        argo = [e for e in self.managed_fields if e.get("manager") in ARGO_MANAGERS]
        return newest_owner(argo) or ARGO_CONTROLLER

    @property
    def running(self) -> bool:
        return self.canary_version is not None and not self.aborted


def read_view(rollout: dict[str, Any], replicasets: list[dict[str, Any]], container: str) -> RolloutView:
    """The view of ``rollout`` given the ReplicaSets of its namespace."""
    meta, status = rollout["metadata"], rollout.get("status") or {}
    spec = rollout.get("spec") or {}
    by_hash = owned_replicasets(rollout, replicasets)
    desired = template_version(spec.get("template") or {}, container)
    observed = str(status.get("observedGeneration", "")) == str(meta.get("generation", ""))

    def version(hash_: str | None) -> str | None:
        if not hash_:
            return None
        if hash_ in by_hash:
            return template_version(by_hash[hash_]["spec"].get("template") or {}, container)
        return desired if observed and hash_ == status.get("currentPodHash") else None

    stable_hash, current_hash = status.get("stableRS"), status.get("currentPodHash")
    stable = version(stable_hash)
    canary = version(current_hash) if current_hash and current_hash != stable_hash else None
    if stable is not None and canary == stable:
        canary = None  # a new template that serves the same model: no model canary
    aborted = bool(status.get("abort"))
    weight = 0
    if canary is not None and not aborted:
        weights = (status.get("canary") or {}).get("weights") or {}
        routed = weights.get("canary") or {}
        if weights and routed.get("podTemplateHash", current_hash) == current_hash:
            weight = int(routed.get("weight") or 0)
        else:
            weight = current_set_weight(rollout)
    canary_status = status.get("canary") or {}
    analysis = {
        key: canary_status[key]
        for key in ("currentStepAnalysisRunStatus", "currentBackgroundAnalysisRunStatus")
        if canary_status.get(key)
    }
    steps = (spec.get("strategy") or {}).get("canary", {}).get("steps") or []
    return RolloutView(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        resource_version=str(meta.get("resourceVersion", "")),
        observed=observed,
        template_version=desired,
        stable_version=stable,
        canary_version=canary,
        canary_weight=weight,
        phase=str(status.get("phase") or ""),
        aborted=aborted,
        promote_full=bool(status.get("promoteFull")),
        step_index=int(status.get("currentStepIndex") or 0),
        step_count=len(steps),
        weights=set_weights(rollout),
        stable_annotation=(meta.get("annotations") or {}).get(STABLE_ANNOTATION),
        message=str(status.get("message") or ""),
        analysis=analysis,
        managed_fields=list(meta.get("managedFields") or []),
    )
