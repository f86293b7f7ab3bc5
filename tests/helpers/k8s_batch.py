"""The API-server emulator with the batch API (CronJobs, Jobs) and one more API-server duty: every created object
gets a ``metadata.uid`` (owner references name it), as a real API server assigns one.

A subclass, not a change to tests/helpers/k8s_emulator.py: the Deployment tests keep their emulator as it is.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import kmock
import yaml
from kubernetes import client

from tests.helpers.k8s_emulator import EmulatedApiServer, GenerationTrackingEmulator


class UidAssigningEmulator(GenerationTrackingEmulator):
    async def _handle(self, request: Any) -> Any:
        if request.resource is not None and request.action == kmock.action.CREATE and isinstance(request.data, dict):
            request.data.setdefault("metadata", {}).setdefault("uid", str(uuid.uuid4()))
        return await super()._handle(request)


class BatchApiServer(EmulatedApiServer):
    """CronJobs and Jobs over real HTTP (no Job controller: a test marks a Job finished through /status)."""

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with UidAssigningEmulator() as emulator, kmock.Server(emulator) as server:
            for resource, kind in (("batch/v1/cronjobs", "CronJob"), ("batch/v1/jobs", "Job")):
                emulator.resources[resource] = kmock.ResourceInfo(kind=kind, namespaced=True)
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api_client())

    def jobs(self, namespace: str) -> list[dict[str, Any]]:
        response = self.batch().list_namespaced_job(namespace, _preload_content=False)
        return json.loads(response.data)["items"]

    def cronjob(self, namespace: str, name: str) -> dict[str, Any]:
        response = self.batch().read_namespaced_cron_job(name, namespace, _preload_content=False)
        return json.loads(response.data)

    def finish_job(self, namespace: str, name: str, condition: str = "Complete") -> None:
        """What the Job controller writes when the pod exits."""
        status = {"status": {"conditions": [{"type": condition, "status": "True"}], "succeeded": 1}}
        self.batch().patch_namespaced_job_status(name, namespace, status)

    def kubeconfig(self, path: Path, namespace: str) -> Path:
        """A kubeconfig file for this server, for a separate process (the webhook under test)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {}}],
            "contexts": [
                {"name": "emulator", "context": {"cluster": "emulator", "user": "tester", "namespace": namespace}}
            ],
            "current-context": "emulator",
        }
        path.write_text(yaml.safe_dump(config))
        return path
