"""Render k8s/ overlays with kustomize (as `kubectl apply -k` would) and validate the objects.

Rendering uses `kubectl kustomize`: kubectl (with kustomize v5 built in) ships with this project's machine
image; Debian's kubernetes-client is 1.20, whose kustomize v2 cannot read these overlays, and PyPI has no
kustomize for Python 3.11. Built-in kinds are validated by kubernetes-validate (strict), custom resources by
the schemas in k8s/schemas/.
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

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
SCHEMAS = K8S / "schemas"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor-monitoring-v1",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproute-gateway-v1",
}
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
def custom_schema(name: str) -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())


def validate(obj: dict[str, Any], version: str = K8S_VERSIONS[-1]) -> None:
    """Raise if ``obj`` does not match its schema: kubernetes-validate (strict) or a k8s/schemas/ schema."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in CUSTOM_KINDS:
        schema = custom_schema(CUSTOM_KINDS[key])
        registry = Registry().with_resource("https://kubernetes.io/api/_definitions.json", _definitions(version))
        jsonschema.Draft202012Validator(schema, registry=registry).validate(obj)
        return
    kubernetes_validate.validate(obj, version, strict=True)


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod templates an object would create pods from (Deployment, Job, CronJob, Pod)."""
    kind = obj["kind"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return [obj["spec"]["template"]]
    if kind == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]]
    if kind == "Pod":
        return [obj]
    return []
