"""The retrain webhook in Kubernetes mode: Alertmanager's POST /alerts creates a Job from the suspended CronJob
ticketops-retrain (the one k8s/base renders), as `kubectl create job --from=cronjob/...` would, over real HTTP
against the API-server emulator; one at a time; and it refuses what the webhook refuses. A few seconds.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from tests.helpers.k8s_batch import BatchApiServer
from tests.helpers.kustomize import by_kind, render, validate
from ticketops.audit import AuditTrail
from ticketops.processes import ManagedProcess, free_port
from ticketops.retraining.k8s_job import REASON_ENV, JobLauncher, job_from_cronjob
from ticketops.retraining.webhook import RetrainTrigger, build_app, webhook_authorizer
from ticketops.serving.auth import UserDirectory

pytestmark = pytest.mark.integration

NS, CRONJOB = "ticketops", "ticketops-retrain"
TOKEN = "alertmanager-token-5d1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BIN = Path(sys.executable).parent


def firing(*names: str) -> dict:
    return {
        "version": "4",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": n}} for n in names],
    }


def wait_idle(trigger: RetrainTrigger) -> None:
    deadline = time.monotonic() + 10
    while trigger.state.running:
        assert time.monotonic() < deadline, "the trigger did not finish"
        time.sleep(0.01)


@pytest.fixture
def server():
    with BatchApiServer() as api:
        cronjob = copy.deepcopy(by_kind(render("base"), "CronJob")[CRONJOB])
        api.batch().create_namespaced_cron_job(NS, cronjob)
        yield api


@pytest_asyncio.fixture
async def webhook(server, tmp_path):
    clock = iter(range(1_800_000_000, 1_800_001_000, 60))
    launcher = JobLauncher(server.api_client(), NS, CRONJOB, clock=lambda: float(next(clock)))
    trail = AuditTrail(f"sqlite:///{tmp_path / 'audit.db'}")
    trigger = RetrainTrigger(launcher.launch, record=trail.record)
    authorizer = webhook_authorizer(UserDirectory(admin_token=SecretStr(TOKEN)))
    client = TestClient(TestServer(build_app(trigger, authorizer), host="127.0.0.1"))
    await client.start_server()
    yield client, trigger, trail
    await client.close()
    trail.close()


@pytest.mark.asyncio
async def test_a_drift_alert_creates_a_job_from_the_cronjob_template(server, webhook):
    client, trigger, trail = webhook
    response = await client.post("/alerts", json=firing("TicketEmbeddingDrift", "TicketLabelDrift"), headers=AUTH)
    assert response.status == 200 and await response.json() == {"retraining": True}
    wait_idle(trigger)
    assert trigger.state.last_error == ""
    (job,) = server.jobs(NS)
    cronjob = server.cronjob(NS, CRONJOB)
    template = cronjob["spec"]["jobTemplate"]
    assert job["metadata"]["name"] == "ticketops-retrain-20270115080000"
    assert trigger.state.last_result == "job/ticketops-retrain-20270115080000 created from cronjob/ticketops-retrain"
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": CRONJOB, "uid": cronjob["metadata"]["uid"]}
    ]
    assert job["metadata"]["labels"] == {
        **template["metadata"]["labels"],
        "ticketops.io/triggered-by": "retrain-webhook",
    }
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "retrain"
    reason = "alert TicketEmbeddingDrift, TicketLabelDrift"
    assert job["metadata"]["annotations"] == {
        "cronjob.kubernetes.io/instantiate": "manual",
        "ticketops.io/retrain-reason": reason,
    }
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert {"name": REASON_ENV, "value": reason} in container["env"]
    expected = copy.deepcopy(template["spec"])
    expected["template"]["spec"]["containers"][0]["env"].append({"name": REASON_ENV, "value": reason})
    assert job["spec"] == expected  # the template's spec, nothing else changed
    validate({k: v for k, v in job.items() if k != "status"})  # a Job the real API server accepts
    events = [(e.actor, e.action) for e in reversed(trail.events(limit=0))]
    assert events == [("retrain-webhook", "retrain.triggered"), ("retrain-webhook", "retrain.finished")]


@pytest.mark.asyncio
async def test_one_retraining_at_a_time_then_the_next_alert_starts_another(server, webhook):
    client, trigger, _ = webhook
    for _ in range(3):  # Alertmanager repeats a firing alert; the Job is still running
        assert (await client.post("/alerts", json=firing("TicketDriftDetected"), headers=AUTH)).status == 200
        wait_idle(trigger)
    (first,) = server.jobs(NS)
    assert trigger.state.last_result == f"job/{first['metadata']['name']} is still running: no second retraining"
    server.finish_job(NS, first["metadata"]["name"], "Failed")
    assert (await client.post("/alerts", json=firing("TicketDriftDetected"), headers=AUTH)).status == 200
    wait_idle(trigger)
    names = sorted(job["metadata"]["name"] for job in server.jobs(NS))
    assert len(names) == 2 and names[0] == first["metadata"]["name"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, firing("TicketDriftDetected"), 401),
        ({"Authorization": "Bearer guess"}, firing("TicketDriftDetected"), 401),
        (AUTH, {"alerts": [{"status": "resolved", "labels": {"alertname": "TicketDriftDetected"}}]}, 200),
        (AUTH, firing("HighLatency"), 200),
    ],
)
async def test_what_the_webhook_refuses_creates_no_job(server, webhook, headers, body, status):
    client, trigger, _ = webhook
    response = await client.post("/alerts", json=body, headers=headers)
    assert response.status == status
    wait_idle(trigger)
    plain = await client.post("/alerts", data=b'{"alerts": []}', headers={**AUTH, "Content-Type": "text/plain"})
    assert plain.status == 415
    assert server.jobs(NS) == []


def test_the_template_must_come_from_an_api_server():
    cronjob = copy.deepcopy(by_kind(render("base"), "CronJob")[CRONJOB])
    with pytest.raises(ValueError, match="no uid"):
        job_from_cronjob(cronjob, "x", "alert A")


def test_the_cli_webhook_in_kubernetes_mode_creates_the_job(server, tmp_path):
    """`ticketops retrain-webhook` as the Deployment runs it: settings from the environment, the cluster from a
    kubeconfig (in the cluster: the service account), POST /alerts from "Alertmanager"."""
    port = free_port()
    env = {
        **os.environ,
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_RETRAIN_TRIGGER": "kubernetes",
        "TICKETOPS_K8S_KUBECONFIG": str(server.kubeconfig(tmp_path / "kubeconfig", NS)),
        "TICKETOPS_K8S_NAMESPACE": NS,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{tmp_path / 'log.db'}",
    }
    command = [str(BIN / "ticketops"), "retrain-webhook", "--host", "127.0.0.1", "--port", str(port)]
    with ManagedProcess("retrain-webhook", command, tmp_path / "webhook.log", env=env, cwd=tmp_path) as webhook:
        webhook.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        url = f"http://127.0.0.1:{port}/alerts"
        assert httpx.post(url, json=firing("TicketDriftDetected")).status_code == 401
        assert httpx.post(url, json=firing("TicketDriftDetected"), headers=AUTH).json() == {"retraining": True}
        deadline = time.monotonic() + 20
        while not server.jobs(NS):
            assert time.monotonic() < deadline, webhook.log_tail()
            time.sleep(0.1)
        status = httpx.get(f"http://127.0.0.1:{port}/status", headers=AUTH).json()
    (job,) = server.jobs(NS)
    assert job["metadata"]["annotations"]["ticketops.io/retrain-reason"] == "alert TicketDriftDetected"
    assert status["triggered"] == 1 and "created from cronjob/ticketops-retrain" in status["last_result"]
