"""Render k8s/ overlays with kustomize (as `kubectl apply -k` would) and validate the objects.

Rendering uses `kubectl kustomize`: kubectl (with kustomize v5 built in) ships with this project's machine
image; Debian's kubernetes-client is 1.20, whose kustomize v2 cannot read these overlays, and PyPI has no
kustomize for Python 3.11. Built-in kinds are validated by kubernetes-validate (strict), custom resources
against the upstream CRDs in k8s/schemas/upstream/ (tests/helpers/crds.py), and the pod template of an Argo
Rollout (which its CRD leaves partly open) as a Kubernetes PodTemplate by kubernetes-validate as well.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

from tests.helpers import crds

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
ROLLOUT = ("argoproj.io/v1alpha1", "Rollout")
# The oldest Kubernetes the manifests support (preStop sleep needs 1.30) and the newest schema available.
K8S_VERSIONS = ("1.30.0", "1.37.0")


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise RuntimeError("kubectl (with kustomize v5) is needed to render k8s/: see k8s/README.md")
    return path


@functools.cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    """The objects `kubectl apply -k <path>` would send (path relative to k8s/, e.g. 'overlays/local')."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def by_kind(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


@functools.cache
def _definitions(version: str) -> Resource:
    major_minor = ".".join(version.split(".")[:2])
    text = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{major_minor}.0-local-strict/_definitions.json", version
    )
    return Resource.from_contents(text)


@functools.cache
def crd_validator(api_version: str, kind: str, version: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("https://kubernetes.io/api/_definitions.json", _definitions(version))
    return jsonschema.Draft202012Validator(crds.json_schema(api_version, kind), registry=registry)


def validate(obj: dict[str, Any], version: str = K8S_VERSIONS[-1]) -> None:
    """Raise if ``obj`` does not match its schema: kubernetes-validate (strict) for built-in kinds, the
    upstream CRD for custom resources (jsonschema.ValidationError), plus a Rollout's pod template as a
    Kubernetes PodTemplate (kubernetes_validate.ValidationError)."""
    if crds.is_custom(obj):
        crds.validate(obj, crd_validator(obj["apiVersion"], obj["kind"], version))
        if (obj["apiVersion"], obj["kind"]) == ROLLOUT:
            kubernetes_validate.validate(as_pod_template(obj), version, strict=True)
        return
    kubernetes_validate.validate(obj, version, strict=True)


def as_pod_template(rollout: dict[str, Any]) -> dict[str, Any]:
    """The Rollout's pod template as a v1 PodTemplate, so the Kubernetes schema checks it in full."""
    name = rollout["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name, "namespace": rollout["metadata"].get("namespace", "default")},
        "template": rollout["spec"]["template"],
    }


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod templates an object would create pods from (Deployment, Rollout, Job, CronJob, Pod)."""
    kind = obj["kind"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout"}:
        return [obj["spec"]["template"]]
    if kind == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]]
    if kind == "Pod":
        return [obj]
    return []


def serving_templates(objects: tuple[dict[str, Any], ...]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, pod template) for every pod template that serves the model (component ``server``)."""
    return [
        (obj, template)
        for obj in objects
        for template in pod_templates(obj)
        if (template.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component") == "server"
    ]


def pinned_version(template: dict[str, Any]) -> str:
    """The one model version a serving pod template names; AssertionError if it names an alias or if its
    env, label and annotation disagree."""
    from ticketops.registry.ref import parse_model_uri
    from ticketops.rollout.kubernetes.objects import MODEL_URI_ANNOTATION, MODEL_URI_ENV, VERSION_LABEL

    (container,) = [c for c in template["spec"]["containers"] if c["name"] == "service"]
    uri = {e["name"]: e.get("value") for e in container["env"]}[MODEL_URI_ENV]
    ref = parse_model_uri(uri)
    assert ref.alias is None and ref.version, f"{uri} is not one pinned version"
    assert template["metadata"]["labels"][VERSION_LABEL] == ref.version
    assert template["metadata"]["annotations"][MODEL_URI_ANNOTATION] == uri
    return ref.version
