"""Real PostgreSQL (a server these tests start): the prediction log under two writer processes through an
outage, and MLflow's backend store behind a real ``mlflow server`` with an artifact root.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.helpers.tiny_model import TinyRegistry, register_tiny_model, tiny_registry
from ticketops.processes import ManagedProcess, free_port

pytestmark = pytest.mark.integration

TOKEN = "pg-token-77e1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
OUTAGE_S = 4.0


def serve(name: str, root: Path, registry: TinyRegistry, log_url: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    env = {
        **registry.env,
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": log_url,
        "TICKETOPS_PREDICTION_LOG_SPOOL_DIR": str(root / f"spool-{name}"),
        "TICKETOPS_PREDICTION_LOG_RETRY_S": "0.5",
        "TICKETOPS_ROOT": str(REPO),
        "BENTOML_HOME": str(root / f"bentoml-{name}"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [sys.executable, "-m", "ticketops", "serve", "--port", str(port)]
    return ManagedProcess(name, command, root / f"{name}.log", env=env, cwd=REPO).start(), f"http://127.0.0.1:{port}"


class Load:
    """Clients posting 1-3 tickets with fresh ids to every service until stopped; remembers what got a 200."""

    def __init__(self, urls: list[str], clients_per_url: int = 2):
        self.answered: list[str] = []
        self.failed = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(url, i), daemon=True)
            for url in urls
            for i in range(clients_per_url)
        ]

    def _run(self, url: str, seed: int) -> None:
        with httpx.Client(base_url=url, timeout=15, headers=AUTH) as client:
            n = seed
            while not self._stop.is_set():
                n += 1
                ids = [uuid.uuid4().hex for _ in range(1 + n % 3)]
                body = {"tickets": [{"id": i, "text": f"my card number {n} has not arrived"} for i in ids]}
                try:
                    response = client.post("/classify", json=body)
                except httpx.HTTPError:
                    self.failed += 1
                    continue
                if response.status_code == 200:
                    self.answered.extend(p["id"] for p in response.json()["predictions"])
                else:
                    self.failed += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_two_writers_through_an_outage_store_every_answered_ticket_exactly_once(postgres, tmp_path: Path) -> None:
    log_url = postgres.create_database("predictions_outage")
    registry = tiny_registry(tmp_path / "registry")
    register_tiny_model(registry)
    services = [serve(name, tmp_path, registry, log_url) for name in ("writer-a", "writer-b")]
    try:
        for process, url in services:
            process.wait_http(f"{url}/readyz", timeout=180)
        with Load([url for _, url in services]) as load:
            time.sleep(3.0)
            postgres.stop()  # the database goes away under load
            during = len(load.answered)
            time.sleep(OUTAGE_S)
            answered_in_outage = len(load.answered) - during
            postgres.start()
            time.sleep(3.0)
    finally:
        for process, _ in services:
            process.stop(timeout=60)  # SIGTERM: flush the queue, replay the spool
    assert load.failed == 0
    assert answered_in_outage > 0, "the service must keep answering while its database is down"
    engine = create_engine(log_url)
    with engine.connect() as conn:
        counts = dict(conn.execute(text("select ticket_id, count(*) from predictions group by ticket_id")).all())
    engine.dispose()
    assert len(load.answered) == len(set(load.answered))
    assert set(counts) == set(load.answered), (len(counts), len(load.answered))
    assert set(counts.values()) == {1}
    for name in ("writer-a", "writer-b"):
        assert not list((tmp_path / f"spool-{name}").glob("*.jsonl")), f"{name} left rows in its spool"


def test_mlflow_server_on_postgresql_takes_a_registration_and_serves_it_back(postgres, tmp_path: Path, monkeypatch):
    backend = postgres.create_database("mlflow")
    artifacts = tmp_path / "mlflow-artifacts"
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
        "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    server = ManagedProcess("mlflow-server", command, tmp_path / "mlflow.log", cwd=tmp_path).start()
    try:
        server.wait_http(f"http://127.0.0.1:{port}/health", timeout=180)
        uri = f"http://127.0.0.1:{port}"
        env = {"MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        registry = TinyRegistry(tmp_path, uri, env)
        version = register_tiny_model(registry)

        from ticketops.registry.bento import open_any

        with open_any("models:/ticket-classifier@champion") as loaded:  # downloaded and checksum-verified
            assert loaded.version == version
            assert loaded.predictor.score(["my card has not arrived"]).labels
    finally:
        server.stop(timeout=30)
    engine = create_engine(backend)
    with engine.connect() as conn:
        versions = conn.execute(text("select name, version from model_versions")).all()
        aliases = conn.execute(text("select alias, version from registered_model_aliases")).all()
    engine.dispose()
    assert [(name, str(v)) for name, v in versions] == [("ticket-classifier", version)]
    assert [(alias, str(v)) for alias, v in aliases] == [("champion", version)]
    assert any(path.name == "checksums.json" for path in artifacts.rglob("*"))  # files under the artifact root


def test_the_operations_dashboard_reads_rollout_decisions_from_the_audit_trail(postgres) -> None:
    """The annotation query the committed operations.json ships, run as Grafana runs it (macros substituted,
    no parameters) against an audit trail on real PostgreSQL: rollout decisions and alias moves in the range,
    oldest first, with Grafana's time/text/tags columns; labels and events outside the range are left out."""
    import json
    from datetime import UTC, datetime, timedelta

    import psycopg

    from ticketops.audit import AuditEvent, AuditTrail
    from ticketops.monitoring.grafana.audit_annotations import AUDIT_DATASOURCE_TYPE, substitute_macros

    url = postgres.create_database("audit_annotations")
    now = datetime.now(UTC)
    events = [
        AuditEvent(at=now - timedelta(hours=3), actor="controller", action="rollout.started", target="rollout/old"),
        AuditEvent(at=now - timedelta(minutes=9), actor="controller", action="rollout.started", target="rollout/r1"),
        AuditEvent(at=now - timedelta(minutes=8), actor="agent-1", action="label.given", target="ticket/abc"),
        AuditEvent(at=now - timedelta(minutes=7), actor="controller", action="rollout.promoted", target="rollout/r1"),
        AuditEvent(at=now - timedelta(minutes=7), actor="controller", action="alias.moved", target="m@champion"),
    ]
    trail = AuditTrail(url)
    trail.record_all(events)
    board = json.loads((REPO / "monitoring" / "grafana" / "operations.json").read_text())
    (annotation,) = [a for a in board["annotations"]["list"] if a["datasource"]["type"] == AUDIT_DATASOURCE_TYPE]
    assert any(v["name"] == "audit" and v["type"] == "datasource" for v in board["templating"]["list"])
    start = (now - timedelta(hours=1)).timestamp()
    sql = substitute_macros(annotation["target"]["rawSql"], start, now.timestamp() + 1)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cursor = conn.execute(sql)
        columns = [c.name for c in cursor.description]
        rows = cursor.fetchall()
    assert columns == ["time", "text", "tags"]
    assert [text for _, text, _ in rows] == [
        "rollout.started rollout/r1 by controller",
        "rollout.promoted rollout/r1 by controller",
        "alias.moved m@champion by controller",
    ]
    assert abs(rows[0][0] - events[1].at.timestamp() * 1000) < 1 and rows[0][2] == "controller"  # epoch ms
    trail.engine.dispose()
