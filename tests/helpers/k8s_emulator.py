"""A Kubernetes API server emulator (kmock) on loopback, plus the part of a cluster it lacks.

kmock's KubernetesEmulator stores objects and answers the REST API over real HTTP, so the backend's
kubernetes client is exercised end to end. It has no controllers, so ``PodsComeUp`` plays the Deployment
controller and kubelets: it writes each Deployment's status through the ``/status`` subresource, as
kube-controller-manager does (observedGeneration included), with pods becoming ready unless their
Deployment is marked broken.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from typing import Any

import kmock
from kubernetes import client


class GenerationTrackingEmulator(kmock.KubernetesEmulator):
    """The emulator plus one API-server duty it lacks: ``metadata.generation`` goes up when a spec changes.

    Without it, a status written before a spec change would look current, and "rolled out" or "ready" checks
    (which compare ``status.observedGeneration`` with it, as kubectl does) could pass too early.
    """

    async def _handle(self, request: Any) -> Any:
        key, before = None, None
        changes_spec = (
            request.resource is not None
            and request.action in (kmock.action.CREATE, kmock.action.UPDATE)
            and request.subresource is None
            and isinstance(request.data, dict)
            and "spec" in request.data
        )
        if changes_spec:
            name = request.name or request.data.get("metadata", {}).get("name")
            namespace = request.namespace or request.data.get("metadata", {}).get("namespace")
            key = (request.resource, namespace, name)
            if key in self.objects and not self.objects[key].deleted:
                before = json.dumps(self.objects[key].raw.get("spec"), sort_keys=True)
        response = await super()._handle(request)
        if key is not None and key in self.objects and not self.objects[key].deleted:
            obj = self.objects[key]
            if before != json.dumps(obj.raw.get("spec"), sort_keys=True):
                generation = (obj.raw.get("metadata", {}).get("generation") or 0) + 1
                obj.patch({"metadata": {"generation": generation}})
        return response


class EmulatedApiServer:
    """kmock's KubernetesEmulator served on 127.0.0.1 from its own event loop (the client under test is sync)."""

    emulator_class: type[kmock.KubernetesEmulator] = GenerationTrackingEmulator

    def __init__(self) -> None:
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    def __enter__(self) -> EmulatedApiServer:
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"kmock did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with self.emulator_class() as emulator, kmock.Server(emulator) as server:
            emulator.resources["apps/v1/deployments"] = kmock.ResourceInfo(kind="Deployment", namespaced=True)
            emulator.resources["apps/v1/replicasets"] = kmock.ResourceInfo(kind="ReplicaSet", namespaced=True)
            emulator.resources["argoproj.io/v1alpha1/rollouts"] = kmock.ResourceInfo(kind="Rollout", namespaced=True)
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def api_client(self) -> client.ApiClient:
        """A fresh client, as a fresh controller process would build."""
        return client.ApiClient(client.Configuration(host=self.url))

    def apply(self, objects: Iterable[dict[str, Any]]) -> None:
        """Create Deployments and HTTPRoutes the way `kubectl apply` would on an empty namespace."""
        api = self.api_client()
        apps, custom = client.AppsV1Api(api), client.CustomObjectsApi(api)
        for obj in objects:
            namespace = obj["metadata"]["namespace"]
            if obj["kind"] == "Deployment":
                apps.create_namespaced_deployment(namespace, obj)
            elif obj["kind"] == "HTTPRoute":
                group, version = obj["apiVersion"].split("/")
                custom.create_namespaced_custom_object(group, version, namespace, "httproutes", obj)

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        response = client.AppsV1Api(self.api_client()).read_namespaced_deployment(
            name, namespace, _preload_content=False
        )
        return json.loads(response.data)

    def httproute(self, namespace: str, name: str) -> dict[str, Any]:
        return client.CustomObjectsApi(self.api_client()).get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", name
        )


class PodsComeUp:
    """Reconciles Deployment status from spec (all pods current and ready) except for ``broken`` Deployments,
    whose pods never pass their readiness probe. ``namespace=None`` watches every namespace."""

    def __init__(self, server: EmulatedApiServer, namespace: str | None, interval_s: float = 0.02) -> None:
        self.broken: set[str] = set()
        self._apps = client.AppsV1Api(server.api_client())
        self._namespace = namespace
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pods-come-up", daemon=True)

    def __enter__(self) -> PodsComeUp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            if self._namespace is None:
                response = self._apps.list_deployment_for_all_namespaces(_preload_content=False)
            else:
                response = self._apps.list_namespaced_deployment(self._namespace, _preload_content=False)
            for dep in json.loads(response.data)["items"]:
                desired = dep["spec"].get("replicas", 1)
                ready = 0 if dep["metadata"]["name"] in self.broken else desired
                status = {
                    "observedGeneration": dep["metadata"].get("generation", 0),
                    "replicas": desired,
                    "updatedReplicas": desired,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                }
                if any((dep.get("status") or {}).get(key) != value for key, value in status.items()):
                    self._apps.patch_namespaced_deployment_status(
                        dep["metadata"]["name"],
                        dep["metadata"]["namespace"],
                        {"status": status},
                        _content_type="application/merge-patch+json",
                        _preload_content=False,
                    )
