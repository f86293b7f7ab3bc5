"""What the Argo tests build: a real MLflow registry with three versions, the Rollout ``ticketops`` on the emulated
API server (as ``kubectl apply`` creates it, then Argo takes it up), and ticketops' parts pointed at them."""

from __future__ import annotations

import copy

from kubernetes import client

from tests.helpers.argo_rollouts import GROUP, PLURAL, VERSION, ArgoController
from tests.helpers.tiny_model import MODEL_NAME, register_tiny_model, tiny_registry
from ticketops.registry.store import TAG_GATE_PASSED
from ticketops.registry.store import client as mlflow_client
from ticketops.rollout.argo.backend import ArgoBackend
from ticketops.rollout.argo.reconciler import Reconciler
from ticketops.rollout.argo.rollout_object import ArgoRollout
from ticketops.settings import ArgoSettings, KubernetesSettings

NS, NAME = "ticketops", "ticketops"
SELECTOR = {"app.kubernetes.io/name": "ticketops", "app.kubernetes.io/component": "server"}
ENV = [
    {"name": "TICKETOPS_MODEL_URI", "value": f"models:/{MODEL_NAME}/1"},
    {"name": "TICKETOPS_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "ticketops-secrets", "key": "api-token"}}},
    {"name": "TICKETOPS_PREDICTION_LOG_URL", "value": "postgresql://ticketops@postgres/ticketops"},
]
ROLLOUT = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "Rollout",
    "metadata": {"name": NAME, "namespace": NS, "annotations": {"ticketops.io/stable-version": "1"}},
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": SELECTOR},
        "template": {
            "metadata": {"labels": {**SELECTOR, "model-version": "1"}},
            "spec": {
                "containers": [
                    {
                        "name": "service",
                        "image": "ticketops-service:0.1",
                        "env": ENV,
                        "ports": [{"containerPort": 3000}],
                    },
                    {"name": "log-shipper", "image": "busybox:1.36", "env": [{"name": "LEVEL", "value": "info"}]},
                ]
            },
        },
        "strategy": {
            "canary": {
                "stableService": "ticketops-stable",
                "canaryService": "ticketops-canary",
                "trafficRouting": {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": NAME, "namespace": NS}}},
                "steps": [
                    {"setCanaryScale": {"replicas": 1}},
                    {"setWeight": 10},
                    {"pause": {"duration": "60s"}},
                    {"setWeight": 50},
                    {"pause": {}},
                ],
            }
        },
    },
}


def make_registry(root) -> None:
    """v1 (champion), v2 (gated challenger), v3 (did not pass the gate): one tiny model trained and registered,
    its package registered twice more as new versions (the rollout code never loads them; this keeps it fast)."""
    register_tiny_model(tiny_registry(root), alias="champion")
    mlflow = mlflow_client()
    first = mlflow.get_model_version(MODEL_NAME, "1")
    for passed in ("true", "false"):
        mlflow.create_model_version(
            MODEL_NAME, first.source, first.run_id, tags={**first.tags, TAG_GATE_PASSED: passed}
        )


def reset_registry():
    """Champion v1, challenger v2 and no rollout tags: every test starts here."""
    mlflow = mlflow_client()
    for version in mlflow.search_model_versions(f"name='{MODEL_NAME}'"):
        for key in version.tags:
            if key.startswith("rollout"):
                mlflow.delete_model_version_tag(MODEL_NAME, version.version, key)
    mlflow.set_registered_model_alias(MODEL_NAME, "champion", "1")
    mlflow.set_registered_model_alias(MODEL_NAME, "challenger", "2")
    return mlflow


def apply_rollout(server) -> ArgoController:
    """The Rollout applied (``kubectl apply``) and taken up by Argo: v1 stable."""
    custom = client.CustomObjectsApi(server.api_client())
    custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, copy.deepcopy(ROLLOUT), field_manager="kubectl-client-side-apply"
    )
    controller = ArgoController(server, NS, NAME)
    controller.sync()
    return controller


def settings() -> tuple[ArgoSettings, KubernetesSettings]:
    return ArgoSettings(rollout=NAME), KubernetesSettings(namespace=NS)


def reconciler(server, registry, trail) -> Reconciler:
    """A fresh reconciler with its own client, as a restarted analysis service builds it."""
    argo, k8s = settings()
    rollout = ArgoRollout(argo, k8s, server.api_client(), field_manager=argo.reconciler_field_manager)
    return Reconciler(rollout, registry, MODEL_NAME, trail)


def backend(server, registry, trail, sleep=lambda _s: None) -> ArgoBackend:
    argo, k8s = settings()
    return ArgoBackend(ArgoRollout(argo, k8s, server.api_client()), reconciler(server, registry, trail), sleep=sleep)


def rollout(server) -> dict:
    return client.CustomObjectsApi(server.api_client()).get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, NAME)


def aliases(registry) -> dict[str, str | None]:
    out = {}
    for alias in ("champion", "challenger"):
        try:
            out[alias] = str(registry.get_model_version_by_alias(MODEL_NAME, alias).version)
        except Exception:
            out[alias] = None
    return out
