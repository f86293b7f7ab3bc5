"""Alertmanager webhook receiver: a firing drift alert starts one retraining (and, optionally, a rollout).

Alertmanager posts its webhook JSON (version 4) here; alerts whose name matches ``alert_pattern`` and whose
status is ``firing`` trigger ``on_alert`` in a worker thread. One retraining runs at a time; alerts that
arrive meanwhile are remembered, not queued, because one retraining covers them all. Each retraining it
starts, and each that fails, is an audit event (actor ``retrain-webhook``) when it is given a ``record``.

Trust boundary: a retraining (and, after a passed gate, a rollout) is an admin action. ``POST /alerts`` and
``GET /status`` need a bearer token of an admin user (serving/auth.py; Alertmanager sends it with
``http_config.authorization``), and a credential must be configured even on loopback: a browser page can
post to 127.0.0.1 too. The body must be declared JSON (415 otherwise: a cross-site ``text/plain`` or form
post is refused before it is read) and be an Alertmanager webhook document (400 otherwise, never a 500).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ticketops.serving.auth import ADMINS, PUBLIC, AuthConfigError, Authorizer, Role, UserDirectory

WEBHOOK_POLICY: dict[str, frozenset[Role]] = {
    "POST /alerts": ADMINS,
    "GET /status": ADMINS,
    "/healthz": PUBLIC,
}
MAX_BODY_BYTES = 1_000_000  # Alertmanager caps a notification at max_alerts; 1 MB is far beyond it


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(max_length=32)
    labels: dict[str, str] = Field(default_factory=dict)


class AlertmanagerPayload(BaseModel):
    """What the trigger reads of Alertmanager's webhook document (version 4); other fields are kept out."""

    model_config = ConfigDict(extra="allow")

    alerts: list[Alert] = Field(default_factory=list, max_length=1000)


def webhook_authorizer(directory: UserDirectory) -> Authorizer:
    """AuthConfigError without any credential: the webhook never runs open, not even on loopback."""
    if not directory.configured:
        raise AuthConfigError(
            "the retrain webhook needs TICKETOPS_AUTH_FILE or TICKETOPS_API_TOKEN (an admin token Alertmanager sends)"
        )
    return Authorizer(directory, WEBHOOK_POLICY)


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

    def matching(self, payload: dict | AlertmanagerPayload) -> list[str]:
        document = payload if isinstance(payload, AlertmanagerPayload) else AlertmanagerPayload.model_validate(payload)
        names = [
            alert.labels.get("alertname", "")
            for alert in document.alerts
            if alert.status == "firing" and self.pattern.fullmatch(alert.labels.get("alertname", ""))
        ]
        return list(dict.fromkeys(names))  # one alert name per signal that fired is the same drift

    def receive(self, payload: dict | AlertmanagerPayload) -> bool:
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


def build_app(trigger: RetrainTrigger, authorizer: Authorizer):
    """The webhook's routes behind ``authorizer`` (see ``webhook_authorizer``)."""
    from dataclasses import asdict

    from aiohttp import web

    from ticketops.serving.auth_middleware import aiohttp_middleware

    async def alerts(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response({"error": "the body must be JSON (Content-Type: application/json)"}, status=415)
        try:
            payload = AlertmanagerPayload.model_validate_json(await request.read())
        except ValidationError as exc:
            kind = "body is not JSON" if any(e["type"] == "json_invalid" for e in exc.errors()) else None
            return web.json_response({"error": kind or "body is not an Alertmanager webhook document"}, status=400)
        if "alerts" not in payload.model_fields_set:
            return web.json_response({"error": "body is not an Alertmanager webhook document"}, status=400)
        started = trigger.receive(payload)
        return web.json_response({"retraining": started})

    async def status(_: web.Request) -> web.Response:
        return web.json_response(asdict(trigger.state))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[aiohttp_middleware(authorizer)], client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/alerts", alerts)
    app.router.add_get("/status", status)
    app.router.add_get("/healthz", healthz)
    return app
