"""``ticketops serve`` as a real ``bentoml serve`` process: contract, auth, metrics, redaction in the process log,
and SIGTERM letting in-flight requests finish and flushing the prediction log.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.tiny_model import register_tiny_model, tiny_registry
from ticketops.processes import ManagedProcess, free_port

pytestmark = pytest.mark.integration

TOKEN = "integration-token-5d2a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
PII = {"email": "ada.lovelace@example.net", "card": "5500 0000 0000 0004", "phone": "+1 415 555 2671"}
HOLD_MS = 1500  # the batcher holds every request this long: requests are reliably in flight at SIGTERM


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    registry = tiny_registry(tmp_path_factory.mktemp("registry"))
    return registry, register_tiny_model(registry)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, registry):
    root = tmp_path_factory.mktemp("serve")
    registry, version = registry
    port = free_port()
    env = {
        **registry.env,
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{root / 'predictions.db'}",
        "TICKETOPS_TRACK": "stable",
        "TICKETOPS_BATCH_MAX_WAIT_MS": str(HOLD_MS),
        "TICKETOPS_ROOT": str(REPO),
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [sys.executable, "-m", "ticketops", "serve", "--port", str(port)]
    process = ManagedProcess("ticketops-serve", command, root / "serve.log", env=env, cwd=REPO).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/readyz", timeout=120)
        yield process, url, version, root / "predictions.db"
    finally:
        process.stop(timeout=30)


def test_classify_feedback_and_metrics_over_http(server) -> None:
    _, url, version, _ = server
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/classify", json={"tickets": [{"text": "hi"}]}).status_code == 401
        ticket = {"text": "my card has not arrived", "id": "a"}
        response = client.post("/classify", json={"tickets": [ticket]}, headers=AUTH)
        assert response.status_code == 200
        body = response.json()
        assert body["model_version"] == version
        assert body["predictions"][0]["id"] == "a"
        bad = client.post("/classify", content=b'{"tickets": [{"text": ""}]}', headers=AUTH)
        assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "tickets.0.text"
        label = body["predictions"][0]["label"]
        feedback = client.post("/feedback", json={"items": [{"id": "a", "label": label}]}, headers=AUTH)
        assert feedback.json() == {
            "accepted": 1,
            "matched": 1,
            "disputed": 0,
            "results": [{"id": "a", "status": "labelled"}],
        }
        text = client.get("/metrics").text
    families = {family.name: family.samples for family in text_string_to_metric_families(text)}
    info = [s.labels for s in families["ticketops_model_info"] if s.value == 1]
    assert info and info[0]["model_version"] == version and info[0]["track"] == "stable"
    accuracy = [s.value for s in families["ticketops_live_accuracy"] if s.labels["model_version"] == version]
    assert accuracy == [1.0]
    statuses = {(s.labels["route"], s.labels["status"]) for s in families["ticketops_requests"]}
    assert {("/classify", "200"), ("/classify", "422"), ("/feedback", "200")} <= statuses
    assert ("/classify", "401") not in statuses  # refusals are counted apart (canary analysis never sees them)
    refused = {(s.labels["route"], s.labels["status"]) for s in families["ticketops_auth_rejected"]}
    assert ("/classify", "401") in refused


def test_sigterm_finishes_in_flight_requests_flushes_the_log_and_leaks_no_pii(server) -> None:
    process, url, _, db = server
    results: dict[str, int] = {}

    def send(kind: str, value: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            ticket = {"id": f"pii-{kind}", "text": f"please help, {kind} {value}"}
            results[kind] = client.post("/classify", json={"tickets": [ticket]}, headers=AUTH).status_code

    threads = [threading.Thread(target=send, args=item) for item in PII.items()]
    for thread in threads:
        thread.start()
    time.sleep(HOLD_MS / 3000)  # the requests are inside the service, held by the batcher
    started = time.monotonic()
    exit_code = process.stop(timeout=30)
    for thread in threads:
        thread.join(10)
    assert results == dict.fromkeys(PII, 200), f"in-flight requests lost at SIGTERM (exit {exit_code})"
    assert time.monotonic() - started < 25, "shutdown did not complete gracefully"
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("select ticket_id, text from predictions where ticket_id like 'pii-%'").fetchall())
    assert set(stored) == {f"pii-{kind}" for kind in PII}, "the prediction-log queue was not flushed at shutdown"
    log = process.log_path.read_text(errors="replace")
    assert "prediction log flushed at shutdown" in log
    store = b"".join(path.read_bytes() for path in db.parent.glob("predictions.db*"))
    for value in PII.values():
        assert value not in log
        assert value.encode() not in store
        assert value not in "".join(stored.values())


def test_a_killed_supervisor_takes_its_worker_down(registry, tmp_path: Path) -> None:
    """SIGKILL on ``ticketops serve``'s group must not leave BentoML's worker (own session) serving the port."""
    reg, _ = registry
    port = free_port()
    env = {
        **reg.env,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{tmp_path / 'predictions.db'}",
        "TICKETOPS_ROOT": str(REPO),
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [sys.executable, "-m", "ticketops", "serve", "--port", str(port)]
    process = ManagedProcess("ticketops-serve-kill", command, tmp_path / "serve.log", env=env, cwd=REPO).start()
    try:
        process.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120)
        process.kill()  # no graceful shutdown for the supervisor
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1)
            except httpx.TransportError:
                break  # nobody listens on the port any more
            time.sleep(0.25)
        else:
            pytest.fail("the worker kept serving after its supervisor was killed")
    finally:
        process.stop()
        _terminate_workers(env["BENTOML_HOME"])  # never leave an orphan behind, even when the test fails
    assert "supervisor pid" in process.log_path.read_text(errors="replace")


def _terminate_workers(bentoml_home: str) -> None:
    """SIGTERM any BentoML worker still running with this test's BENTOML_HOME."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            worker = "_bentoml_impl.worker.service" in " ".join(proc.info["cmdline"] or [])
            if worker and proc.environ().get("BENTOML_HOME") == bentoml_home:
                proc.terminate()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
