"""The retrain webhook on a cluster: a firing alert becomes a Job made from the suspended CronJob's template, as
``kubectl create job --from=cronjob/ticketops-retrain`` makes it, instead of a retraining in the webhook's process.

The Job is kubectl's: the template's spec, its labels, the annotation ``cronjob.kubernetes.io/instantiate:
manual`` and an owner reference to the CronJob (so ``kubectl get jobs`` and the CronJob's history list it, and
deleting the CronJob removes it). ticketops adds why: the alert names in an annotation and in the retrain
container's ``TICKETOPS_RETRAIN_REASON`` (the Job records them on the model version and in the audit trail).
One retraining at a time, across webhook restarts and replicas: while a Job of the CronJob is unfinished,
another alert starts nothing.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
REASON_ANNOTATION = "ticketops.io/retrain-reason"
TRIGGER_LABEL = "ticketops.io/triggered-by"
REASON_ENV = "TICKETOPS_RETRAIN_REASON"
TRIGGERED_BY = "retrain-webhook"


def reason_for(alerts: list[str]) -> str:
    return f"alert {', '.join(alerts)}"


def finished(job: dict[str, Any]) -> bool:
    """Complete or Failed (the Job controller's final conditions); anything else still runs or is about to."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


def job_from_cronjob(cronjob: dict[str, Any], name: str, reason: str) -> dict[str, Any]:
    """The Job ``kubectl create job NAME --from=cronjob/...`` would create, plus the retraining's reason."""
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    meta = template.get("metadata") or {}
    uid = cronjob["metadata"].get("uid")
    if not uid:
        raise ValueError(f"CronJob {cronjob['metadata']['name']} has no uid: it was not read from an API server")
    annotations = {INSTANTIATE_ANNOTATION: "manual", **(meta.get("annotations") or {}), REASON_ANNOTATION: reason}
    spec = template["spec"]
    for container in spec["template"]["spec"]["containers"]:
        env = [e for e in container.get("env") or [] if e["name"] != REASON_ENV]
        container["env"] = [*env, {"name": REASON_ENV, "value": reason}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cronjob["metadata"]["namespace"],
            "labels": {**(meta.get("labels") or {}), TRIGGER_LABEL: TRIGGERED_BY},
            "annotations": annotations,
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob["metadata"]["name"], "uid": uid}
            ],
        },
        "spec": spec,
    }


class JobLauncher:
    """Creates retrain Jobs from ``cronjob`` in ``namespace`` through a kubernetes ``ApiClient``."""

    def __init__(self, api_client: Any, namespace: str, cronjob: str, clock: Callable[[], float] = time.time) -> None:
        from kubernetes import client

        self.batch = client.BatchV1Api(api_client)
        self.namespace = namespace
        self.cronjob = cronjob
        self.clock = clock

    def _read(self, response: Any) -> dict[str, Any]:
        return json.loads(response.data)

    def running(self, cronjob_uid: str) -> str | None:
        """The name of an unfinished Job this CronJob owns, if any."""
        jobs = self._read(self.batch.list_namespaced_job(self.namespace, _preload_content=False))["items"]
        for job in jobs:
            owners = job["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == cronjob_uid for o in owners) and not finished(job):
                return job["metadata"]["name"]
        return None

    def launch(self, alerts: list[str]) -> str:
        """Create one Job for these alerts, or name the one still running; returns what happened (for /status)."""
        cronjob = self._read(self.batch.read_namespaced_cron_job(self.cronjob, self.namespace, _preload_content=False))
        active = self.running(cronjob["metadata"]["uid"])
        if active is not None:
            return f"job/{active} is still running: no second retraining"
        name = f"{self.cronjob}-{time.strftime('%Y%m%d%H%M%S', time.gmtime(self.clock()))}"
        job = job_from_cronjob(cronjob, name, reason_for(alerts))
        self.batch.create_namespaced_job(self.namespace, job, _preload_content=False)
        return f"job/{name} created from cronjob/{self.cronjob}"
