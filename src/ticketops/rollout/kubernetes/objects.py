"""Pure functions over Kubernetes objects (plain dicts) for the Kubernetes rollout backend.

Kept apart from the API calls so the traffic arithmetic and the object surgery are testable without a server.
"""

from __future__ import annotations

import copy
import re
from typing import Any

NAME_LABEL = "app.kubernetes.io/name"
TRACK_LABEL = "track"
VERSION_LABEL = "model-version"
STATE_ANNOTATION = "ticketops.io/rollout-state"
MODEL_URI_ANNOTATION = "ticketops.io/model-uri"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"  # shown by `kubectl rollout history`
MODEL_URI_ENV = "TICKETOPS_MODEL_URI"
TRACK_ENV = "TICKETOPS_TRACK"

_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def label_value(text: str) -> str:
    """``text`` as a valid label value (63 chars of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    value = _LABEL_VALUE_BAD.sub("-", text)[:63].strip("-_.")
    return value or "unknown"


def split_replicas(total: int, canary_percent: int) -> tuple[int, int]:
    """(stable, canary) pods for ``canary_percent`` of traffic when traffic follows ready replicas.

    Any weight above 0 gets at least one canary pod and any weight below 100 keeps at least one stable pod,
    so the nearest achievable split is used (with 4 pods, 10% becomes 1 of 4 = 25%).
    """
    if total < 2:
        raise ValueError("a replica split needs at least 2 pods in total")
    if not 0 <= canary_percent <= 100:
        raise ValueError(f"canary_percent must be within 0..100, got {canary_percent}")
    if canary_percent == 0:
        return total, 0
    if canary_percent == 100:
        return 0, total
    canary = min(max(round(total * canary_percent / 100), 1), total - 1)
    return total - canary, canary


def with_env(container: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy of ``container`` whose env holds ``values`` (replacing same-named entries, keeping the rest)."""
    out = copy.deepcopy(container)
    env = [item for item in out.get("env") or [] if item.get("name") not in values]
    env.extend({"name": name, "value": value} for name, value in values.items())
    out["env"] = env
    return out


def env_value(container: dict[str, Any], name: str) -> str | None:
    """The literal value of env var ``name`` in ``container`` (None if unset or taken from a reference)."""
    for item in container.get("env") or []:
        if item.get("name") == name:
            return item.get("value")
    return None


def _container_index(template: dict[str, Any], container: str) -> int:
    names = [c.get("name") for c in template["spec"]["containers"]]
    if container not in names:
        raise ValueError(f"pod template has no container {container!r} (has {names})")
    return names.index(container)


def model_template(
    template: dict[str, Any],
    *,
    container: str,
    track: str,
    model_uri: str,
    version: str,
    image: str | None = None,
) -> dict[str, Any]:
    """A copy of a pod template that serves ``model_uri`` on ``track`` (labels, env and optionally the image)."""
    out = copy.deepcopy(template)
    labels = out.setdefault("metadata", {}).setdefault("labels", {})
    labels[TRACK_LABEL] = track
    labels[VERSION_LABEL] = label_value(version)
    annotations = out["metadata"].setdefault("annotations", {})
    annotations[MODEL_URI_ANNOTATION] = model_uri
    index = _container_index(out, container)
    spec_container = with_env(out["spec"]["containers"][index], {MODEL_URI_ENV: model_uri, TRACK_ENV: track})
    if image:
        spec_container["image"] = image
    out["spec"]["containers"][index] = spec_container
    return out


def canary_from_stable(
    stable: dict[str, Any],
    *,
    name: str,
    container: str,
    model_uri: str,
    version: str,
    replicas: int,
    image: str | None = None,
) -> dict[str, Any]:
    """A canary Deployment cloned from the stable one: same image, probes, resources and security context,
    so the only difference the analysis sees is the model."""
    meta = stable["metadata"]
    labels = {**(meta.get("labels") or {}), TRACK_LABEL: "canary", VERSION_LABEL: label_value(version)}
    selector = copy.deepcopy(stable["spec"]["selector"])
    selector.setdefault("matchLabels", {})[TRACK_LABEL] = "canary"
    spec = copy.deepcopy(stable["spec"])
    spec.update(
        replicas=replicas,
        selector=selector,
        template=model_template(
            stable["spec"]["template"],
            container=container,
            track="canary",
            model_uri=model_uri,
            version=version,
            image=image,
        ),
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace"),
            "labels": labels,
            "annotations": {MODEL_URI_ANNOTATION: model_uri},
        },
        "spec": spec,
    }


def deployment_serving(deployment: dict[str, Any]) -> bool:
    """True when the Deployment has ready pods and every pod runs its current template.

    A rollout still in progress (pods of an older template alive, or the controller has not seen the
    latest spec) does not count: the pods answering might serve the previous model.
    """
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    if not spec.get("replicas"):
        return False
    generation = (deployment.get("metadata") or {}).get("generation")
    if generation is not None and (status.get("observedGeneration") or 0) < generation:
        return False
    ready, updated = status.get("readyReplicas") or 0, status.get("updatedReplicas") or 0
    return ready >= 1 and updated >= 1 and (status.get("replicas") or 0) <= updated


def track_info(deployment: dict[str, Any], container: str) -> dict[str, Any]:
    """What a track's Deployment serves: model URI (``container``'s env), version label, desired and ready pods."""
    template = deployment["spec"]["template"]
    containers = {c["name"]: c for c in template["spec"]["containers"]}
    return {
        "model_uri": env_value(containers.get(container, {}), MODEL_URI_ENV),
        "model_version": (template.get("metadata", {}).get("labels") or {}).get(VERSION_LABEL),
        "replicas": deployment["spec"].get("replicas", 1),
        "ready_replicas": (deployment.get("status") or {}).get("readyReplicas") or 0,
    }


def replicas_ready(deployment: dict[str, Any], replicas: int) -> bool:
    """At least ``replicas`` pods of the current template are ready and no pod of an older one is left."""
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    if generation is not None and (status.get("observedGeneration") or 0) < generation:
        return False
    updated = status.get("updatedReplicas") or 0
    return (
        updated >= replicas
        and (status.get("readyReplicas") or 0) >= replicas
        and (status.get("replicas") or 0) <= updated
    )


def rollout_complete(deployment: dict[str, Any]) -> bool:
    """``kubectl rollout status`` would say "successfully rolled out": all desired pods updated and available."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = spec.get("replicas", 1)
    generation = (deployment.get("metadata") or {}).get("generation")
    if generation is not None and (status.get("observedGeneration") or 0) < generation:
        return False
    updated = status.get("updatedReplicas") or 0
    return (
        updated >= desired
        and (status.get("replicas") or 0) <= updated
        and (status.get("availableReplicas") or 0) >= desired
    )


def route_with_weights(
    route: dict[str, Any], *, stable_service: str, canary_service: str, canary_percent: int
) -> list[dict[str, Any]]:
    """The HTTPRoute's rules with each stable/canary backendRef weighted ``100 - p`` / ``p``.

    Every rule must reference both Services, otherwise part of the traffic would ignore the split.
    """
    rules = copy.deepcopy((route.get("spec") or {}).get("rules") or [])
    if not rules:
        raise ValueError("HTTPRoute has no rules")
    weights = {stable_service: 100 - canary_percent, canary_service: canary_percent}
    for index, rule in enumerate(rules):
        refs = rule.get("backendRefs") or []
        names = {ref.get("name") for ref in refs}
        if not set(weights) <= names:
            raise ValueError(f"HTTPRoute rule {index} must reference {sorted(weights)}, has {sorted(names)}")
        for ref in refs:
            if ref.get("name") in weights:
                ref["weight"] = weights[ref["name"]]
    return rules


def route_canary_percent(route: dict[str, Any], *, stable_service: str, canary_service: str) -> int | None:
    """The canary's share in the first rule of an HTTPRoute (None if it does not reference both tracks)."""
    rules = (route.get("spec") or {}).get("rules") or []
    if not rules:
        return None
    weights = {ref.get("name"): ref.get("weight", 1) for ref in rules[0].get("backendRefs") or []}
    if stable_service not in weights or canary_service not in weights:
        return None
    total = weights[stable_service] + weights[canary_service]
    return round(100 * weights[canary_service] / total) if total else None
