"""The Alertmanager webhook: a firing drift alert starts one retraining; a burst of alerts while it runs
starts exactly one more; other alerts and resolved ones start nothing; failures are recorded, not raised."""

from __future__ import annotations

import threading
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ticketops.retraining.webhook import RetrainTrigger, build_app


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
    client = TestClient(TestServer(build_app(trigger), host="127.0.0.1"))
    await client.start_server()
    try:
        assert await (await client.get("/healthz")).json() == {"status": "ok"}
        assert await (await client.post("/alerts", json=firing("HighLatency"))).json() == {"retraining": False}
        assert await (await client.post("/alerts", json=firing("TicketDriftDetected"))).json() == {"retraining": True}
        wait_idle(trigger)
        bad = await client.post("/alerts", data=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status == 400 and await bad.json() == {"error": "body is not JSON"}
        status = await (await client.get("/status")).json()
        assert status["received"] == 2 and status["triggered"] == 1
        assert status["last_result"] == "ok" and status["running"] is False
        assert calls == [["TicketDriftDetected"]]
    finally:
        await client.close()
