"""Alertmanager webhook receiver: a firing drift alert starts one retraining (and, optionally, a rollout).

Alertmanager posts its webhook JSON (version 4) here; alerts whose name matches ``alert_pattern`` and whose
status is ``firing`` trigger ``on_alert`` in a worker thread. One retraining runs at a time; alerts that
arrive meanwhile are remembered, not queued, because one retraining covers them all. Each retraining it
starts, and each that fails, is an audit event (actor ``retrain-webhook``) when it is given a ``record``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

AuditRecord = Callable[[str, str, str, dict[str, Any]], Any]  # (actor, action, target, details), AuditTrail.record
ACTOR = "retrain-webhook"


@dataclass
class WebhookState:
    received: int = 0
    triggered: int = 0
    running: bool = False
    pending: bool = False
    last_alerts: list[str] = field(default_factory=list)
    last_result: str = ""
    last_error: str = ""
    last_started_at: float | None = None
    last_finished_at: float | None = None


class RetrainTrigger:
    def __init__(
        self, on_alert: Callable[[list[str]], str], alert_pattern: str = r".*Drift.*", record: AuditRecord | None = None
    ):
        self.on_alert = on_alert
        self.record = record
        self.pattern = re.compile(alert_pattern)
        self.state = WebhookState()
        self._lock = threading.Lock()

    def matching(self, payload: dict) -> list[str]:
        names = [
            alert.get("labels", {}).get("alertname", "")
            for alert in payload.get("alerts", [])
            if alert.get("status") == "firing" and self.pattern.fullmatch(alert.get("labels", {}).get("alertname", ""))
        ]
        return list(dict.fromkeys(names))  # one alert name per signal that fired is the same drift

    def receive(self, payload: dict) -> bool:
        """Start a retraining for a matching firing alert; True when one was started (or marked pending)."""
        names = self.matching(payload)
        with self._lock:
            self.state.received += 1
            if not names:
                return False
            self.state.last_alerts = names
            if self.state.running:
                self.state.pending = True
                return True
            self.state.running = True
            self.state.triggered += 1
        threading.Thread(target=self._work, args=(names,), daemon=True).start()
        return True

    def _work(self, names: list[str]) -> None:
        while True:
            self.state.last_started_at = time.time()
            self._audit("retrain.triggered", {"alerts": names, "retraining": self.state.triggered})
            try:
                self.state.last_result = self.on_alert(names)
                self.state.last_error = ""
                self._audit("retrain.finished", {"alerts": names, "result": str(self.state.last_result)[:500]})
            except Exception as exc:
                self.state.last_error = f"{type(exc).__name__}: {exc}"
                self._audit("retrain.failed", {"alerts": names, "error": self.state.last_error[:500]})
            self.state.last_finished_at = time.time()
            with self._lock:
                if not self.state.pending:
                    self.state.running = False
                    return
                self.state.pending = False
                self.state.triggered += 1

    def _audit(self, action: str, details: dict[str, Any]) -> None:
        if self.record is None:
            return
        try:
            self.record(ACTOR, action, "model/retraining", details)
        except Exception as exc:  # the retraining matters more than its record; the gap is logged
            import logging

            logging.getLogger(__name__).error("audit trail: %s not recorded (%s)", action, type(exc).__name__)


def build_app(trigger: RetrainTrigger):
    from dataclasses import asdict

    from aiohttp import web

    async def alerts(request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        started = trigger.receive(payload)
        return web.json_response({"retraining": started})

    async def status(_: web.Request) -> web.Response:
        return web.json_response(asdict(trigger.state))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/alerts", alerts)
    app.router.add_get("/status", status)
    app.router.add_get("/healthz", healthz)
    return app
