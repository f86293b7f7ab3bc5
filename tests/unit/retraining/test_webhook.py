"""The Alertmanager webhook: a firing drift alert starts one retraining; a burst of alerts while it runs
starts exactly one more; other alerts and resolved ones start nothing; failures are recorded, not raised."""

from __future__ import annotations

import threading
import time

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from ticketops.retraining.pipeline import RetrainResult
from ticketops.retraining.webhook import RetrainTrigger, build_app, webhook_authorizer
from ticketops.serving.auth import AuthConfigError, UserDirectory

TOKEN = "alertmanager-token-8c3f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def authorizer():
    return webhook_authorizer(UserDirectory(admin_token=SecretStr(TOKEN)))


def firing(name: str) -> dict:
    return {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": name}}]}


def wait_idle(trigger: RetrainTrigger, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while trigger.state.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not trigger.state.running, "the retraining worker did not finish"


def test_webhook_retrains_once_per_burst_and_ignores_other_alerts():
    release = threading.Event()
    calls = []

    def on_alert(names):
        calls.append(names)
        release.wait(5)
        return "ok"

    trigger = RetrainTrigger(on_alert)
    assert trigger.receive(firing("HighLatency")) is False
    assert trigger.receive(firing("TicketDriftDetected")) is True
    assert trigger.receive(firing("TicketDriftDetected")) is True  # while running: remembered, not queued twice
    assert trigger.receive(firing("TicketDriftDetected")) is True
    release.set()
    deadline = time.monotonic() + 5
    while trigger.state.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) == 2 and trigger.state.triggered == 2 and trigger.state.last_result == "ok"


def test_matching_keeps_firing_alerts_of_the_pattern_once_each_in_order():
    trigger = RetrainTrigger(lambda names: "ok", alert_pattern=r"Ticket.*Drift")
    payload = {
        "alerts": [
            {"status": "firing", "labels": {"alertname": "TicketEmbeddingDrift"}},
            {"status": "resolved", "labels": {"alertname": "TicketLabelDrift"}},
            {"status": "firing", "labels": {"alertname": "TicketEmbeddingDrift"}},
            {"status": "firing", "labels": {"alertname": "TicketPredictionDrift"}},
            {"status": "firing", "labels": {"alertname": "TicketPredictionDriftX"}},  # fullmatch, not search
            {"status": "firing", "labels": {}},
            {"status": "firing"},
        ]
    }
    assert trigger.matching(payload) == ["TicketEmbeddingDrift", "TicketPredictionDrift"]
    assert trigger.matching({}) == []


def test_a_resolved_drift_alert_starts_nothing_but_is_counted():
    calls = []
    trigger = RetrainTrigger(calls.append)
    resolved = {"alerts": [{"status": "resolved", "labels": {"alertname": "TicketDriftDetected"}}]}
    assert trigger.receive(resolved) is False
    assert trigger.state.received == 1 and trigger.state.triggered == 0
    assert calls == []


def test_a_failing_retraining_is_recorded_and_the_next_alert_runs_again():
    outcomes = iter([RuntimeError("dvc repro exited 1"), "retrained v7"])

    def on_alert(names):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    trigger = RetrainTrigger(on_alert)
    assert trigger.receive(firing("TicketDriftDetected")) is True
    wait_idle(trigger)
    assert trigger.state.last_error == "RuntimeError: dvc repro exited 1"
    assert trigger.state.last_finished_at >= trigger.state.last_started_at
    assert trigger.receive(firing("TicketDriftDetected")) is True
    wait_idle(trigger)
    assert trigger.state.last_result == "retrained v7" and trigger.state.last_error == ""
    assert trigger.state.triggered == 2 and trigger.state.last_alerts == ["TicketDriftDetected"]


@pytest.mark.asyncio
async def test_the_app_receives_alerts_and_reports_its_state():
    calls = []
    trigger = RetrainTrigger(lambda names: calls.append(names) or "ok")
    client = TestClient(TestServer(build_app(trigger, authorizer()), host="127.0.0.1"))
    await client.start_server()
    try:
        assert await (await client.get("/healthz")).json() == {"status": "ok"}
        latency = await client.post("/alerts", json=firing("HighLatency"), headers=AUTH)
        assert await latency.json() == {"retraining": False}
        drift = await client.post("/alerts", json=firing("TicketDriftDetected"), headers=AUTH)
        assert await drift.json() == {"retraining": True}
        wait_idle(trigger)
        bad = await client.post("/alerts", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
        assert bad.status == 400 and await bad.json() == {"error": "body is not JSON"}
        status = await (await client.get("/status", headers=AUTH)).json()
        assert status["received"] == 2 and status["triggered"] == 1
        assert status["last_result"] == "ok" and status["running"] is False
        assert calls == [["TicketDriftDetected"]]
    finally:
        await client.close()


def test_each_retraining_the_webhook_starts_or_loses_is_an_audit_event(tmp_path):
    from ticketops.audit import AuditTrail

    trail = AuditTrail(f"sqlite:///{tmp_path / 'log.db'}")
    outcomes = iter(["ok", RuntimeError("dvc repro failed")])

    def on_alert(names):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    trigger = RetrainTrigger(on_alert, record=trail.record)
    for _ in range(2):
        assert trigger.receive(firing("TicketDriftDetected")) is True
        deadline = time.monotonic() + 5
        while trigger.state.running and time.monotonic() < deadline:
            time.sleep(0.02)
    events = list(reversed(trail.events(limit=0)))
    assert [(e.actor, e.action) for e in events] == [
        ("retrain-webhook", "retrain.triggered"),
        ("retrain-webhook", "retrain.finished"),
        ("retrain-webhook", "retrain.triggered"),
        ("retrain-webhook", "retrain.failed"),
    ]
    assert events[1].details["result"] == "ok"
    assert events[0].details["alerts"] == ["TicketDriftDetected"] and "dvc repro failed" in events[3].details["error"]


# --- the trust boundary --------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def webhook():
    calls: list[list[str]] = []
    trigger = RetrainTrigger(lambda names: calls.append(names) or "ok")
    client = TestClient(TestServer(build_app(trigger, authorizer()), host="127.0.0.1"))
    await client.start_server()
    yield client, trigger, calls
    await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer guess"}, {"Authorization": TOKEN}])
async def test_alerts_and_status_need_the_bearer_token(webhook, headers):
    client, trigger, calls = webhook
    response = await client.post("/alerts", json=firing("TicketDriftDetected"), headers=headers)
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/status", headers=headers)).status == 401
    assert trigger.state.received == 0 and calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_a_cross_site_simple_post_is_refused_with_415(webhook, content_type):
    client, trigger, calls = webhook
    body = b'{"alerts": [{"status": "firing", "labels": {"alertname": "TicketDriftDetected"}}]}'
    response = await client.post("/alerts", data=body, headers={**AUTH, "Content-Type": content_type})
    assert response.status == 415
    assert trigger.state.received == 0 and calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b"{}",
        b'{"alerts": "all"}',
        b'{"alerts": [{"labels": 5, "status": "firing"}]}',
        b'{"alerts": [7]}',
        b"null",
    ],
)
async def test_a_malformed_document_is_a_400_not_a_500(webhook, body):
    client, trigger, _ = webhook
    response = await client.post("/alerts", data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400
    assert "error" in await response.json()
    assert trigger.state.received == 0


def test_the_webhook_refuses_to_run_without_a_credential():
    with pytest.raises(AuthConfigError, match="needs TICKETOPS_AUTH_FILE or TICKETOPS_API_TOKEN"):
        webhook_authorizer(UserDirectory())


def test_a_rollout_starts_only_after_a_passed_gate():
    from ticketops.retraining.export import ExportResult

    export = ExportResult.__new__(ExportResult)
    passed = RetrainResult(export, {"version": 5, "aliases": ["challenger"], "gate": {"passed": True}})
    failed = RetrainResult(export, {"version": 6, "aliases": ["challenger"], "gate": {"passed": False}})
    unknown = RetrainResult(export, {"version": 7, "aliases": ["challenger"]})
    assert passed.rollout_candidate == "5"
    assert failed.rollout_candidate is None and unknown.rollout_candidate is None
