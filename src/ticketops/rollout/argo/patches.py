"""The patches ticketops writes to the Rollout: its template pinned to a version, and promote / abort exactly as
``kubectl argo rollouts`` writes them (pkg/kubectl-argo-rollouts/cmd/promote/promote.go, abort/abort.go), so
Argo's controller cannot tell the two apart and the reconciler reads both the same way.

Pure functions over the Rollout as read (a dict); rollout_object.py sends them.
"""

from __future__ import annotations

import copy
from typing import Any

from ticketops.rollout.argo.status import MODEL_URI_ENV, STABLE_ANNOTATION, VERSION_LABEL
from ticketops.rollout.kubernetes.objects import MODEL_URI_ANNOTATION

ABORT_PATCH: dict[str, Any] = {"status": {"abort": True}}


def with_env_value(container: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """A copy of ``container`` whose env ``name`` is ``value``, in place (the other variables and their order kept)."""
    out = copy.deepcopy(container)
    env = out.setdefault("env", [])
    for item in env:
        if item.get("name") == name:
            item.pop("valueFrom", None)
            item["value"] = value
            return out
    env.append({"name": name, "value": value})
    return out


def pin_patch(
    rollout: dict[str, Any], *, container: str, version: str, model_uri: str, stable_version: str | None
) -> dict[str, Any]:
    """A JSON merge patch that re-templates the Rollout to serve ``model_uri`` (``models:/NAME/<version>``).

    Merge patches replace lists, so the whole ``containers`` list is sent back as read with only the serving
    container's ``TICKETOPS_MODEL_URI`` changed; ``metadata.resourceVersion`` makes the write conditional on
    nothing having changed since the read (409 Conflict otherwise: read again and retry).
    """
    template = rollout["spec"]["template"]
    containers = template["spec"]["containers"]
    names = [c.get("name") for c in containers]
    if container not in names:
        raise ValueError(f"the Rollout's pod template has no container {container!r} (has {names})")
    pinned = [with_env_value(c, MODEL_URI_ENV, model_uri) if c.get("name") == container else c for c in containers]
    metadata: dict[str, Any] = {"resourceVersion": rollout["metadata"]["resourceVersion"]}
    if stable_version is not None:
        metadata["annotations"] = {STABLE_ANNOTATION: str(stable_version)}
    return {
        "metadata": metadata,
        "spec": {
            "template": {
                "metadata": {"labels": {VERSION_LABEL: str(version)}, "annotations": {MODEL_URI_ANNOTATION: model_uri}},
                "spec": {"containers": pinned},
            }
        },
    }


def _current_step_index(rollout: dict[str, Any]) -> int | None:
    """replicasetutil.GetCurrentCanaryStep's index: None without canary steps, else currentStepIndex (0 if unset)."""
    steps = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
    if not steps:
        return None
    return int((rollout.get("status") or {}).get("currentStepIndex") or 0)


def _inconclusive(rollout: dict[str, Any]) -> bool:
    run = ((rollout.get("status") or {}).get("canary") or {}).get("currentStepAnalysisRunStatus") or {}
    return "canary" in ((rollout.get("spec") or {}).get("strategy") or {}) and run.get("status") == "Inconclusive"


def promote_patches(rollout: dict[str, Any], full: bool) -> tuple[dict | None, dict | None, dict | None]:
    """(spec patch, status patch, unified patch) as the plugin's getPatches builds them.

    The status patch goes to the ``/status`` subresource; the unified one replaces both only on a cluster
    without it (Argo Rollouts < v0.10).
    """
    spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
    steps = (spec.get("strategy") or {}).get("canary", {}).get("steps") or []
    spec_patch = status_patch = None
    if full:
        if spec.get("paused"):
            spec_patch = {"spec": {"paused": False}}
        if status.get("currentPodHash") != status.get("stableRS"):
            status_patch = {"status": {"promoteFull": True}}
        return spec_patch, status_patch, {"spec": {"paused": False}, "status": {"promoteFull": True}}
    unified: dict[str, Any] = {"spec": {"paused": False}, "status": {"pauseConditions": None}}
    if spec.get("paused"):
        spec_patch = {"spec": {"paused": False}}
    index = _current_step_index(rollout)
    following = None if index is None else (index + 1 if index < len(steps) else index)
    if _inconclusive(rollout) and status.get("pauseConditions") and status.get("controllerPause"):
        if following is not None:
            status_patch = {
                "status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": following}
            }
    elif status.get("pauseConditions"):
        status_patch = {"status": {"pauseConditions": None}}
    elif "canary" in (spec.get("strategy") or {}) and following is not None:
        status_patch = {"status": {"pauseConditions": None, "currentStepIndex": following}}
        unified = {"spec": {"paused": False}, "status": {"pauseConditions": None, "currentStepIndex": following}}
    return spec_patch, status_patch, unified
