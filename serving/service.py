"""BentoML entry point: the ticket classifier service (``bentoml serve serving.service:TicketClassifier``).

Everything with logic lives in ``ticketops.serving``; this file wires it into BentoML 1.4:

* ``__init__`` builds the replica's runtime and starts loading the model in the background (resolve the
  alias in the MLflow registry, verify every file's SHA-256, warm up); heavy imports happen there.
* ``__is_ready__`` backs BentoML's ``/readyz``: 503 until that load succeeded; the reason is in the log.
* The contract routes (``/classify``, ``/feedback``, ``/metrics``) are a Starlette app mounted with
  ``@bentoml.asgi_app``: full control over status codes and one pass through the HTTP stack per request.
  ``/classify`` feeds the runtime's adaptive batcher, so concurrent one-ticket requests share encoder calls.
* Three ASGI middlewares wrap every route, BentoML's included: request metrics (outside), roles
  (users from ``TICKETOPS_AUTH_FILE`` or ``TICKETOPS_API_TOKEN``, one decision per route in
  ``ticketops.serving.access``, default deny) and, innermost, the OpenAPI document (serving/openapi.py).
* ``@bentoml.on_shutdown`` (after uvicorn has let in-flight requests finish on SIGTERM) drains the batcher
  and flushes the prediction-log queue. A worker whose supervisor died (SIGKILL) shuts itself down the same way.

BentoML's own request metrics, access log and (exporter-less) tracing spans are switched off on the hot
routes: ``ticketops_*`` metrics replace them (one registry per replica, so a stable and a canary process
never mix their numbers), and each costs CPU on every request, which two cores cannot spare.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

import bentoml
from starlette.types import ASGIApp

from ticketops.serving.access import service_authorizer
from ticketops.serving.auth import directory_from_settings
from ticketops.serving.auth_middleware import RoleAuthMiddleware
from ticketops.serving.http import build_contract_app
from ticketops.serving.instrumentation import RequestMetricsMiddleware
from ticketops.serving.openapi import OpenAPIMiddleware
from ticketops.settings import service_settings

if TYPE_CHECKING:
    from ticketops.serving.metrics import ServiceMetrics
    from ticketops.serving.runtime import ServingRuntime


_runtime: ServingRuntime | None = None  # this worker's service instance sets it (one instance per process)


def current_runtime() -> ServingRuntime | None:
    """The runtime of this worker's service instance (None until BentoML has created it).

    A module variable rather than ``bentoml.get_current_service()``: it is read on every request, and the
    ``bentoml`` package resolves attributes lazily (an import-machinery call each time).
    """
    return _runtime


def current_metrics() -> ServiceMetrics | None:
    runtime = _runtime
    return runtime.metrics if runtime is not None else None


def exit_with_supervisor(interval_s: float = 1.0) -> None:
    """Shut down gracefully (SIGTERM to this process) once the process that started this worker is gone.

    BentoML's process manager starts each worker in a session of its own, so a supervisor that SIGKILLs
    ``ticketops serve``'s process group (a crash, a fault-injection test, an OOM kill) would leave the worker
    orphaned, still answering on the port. Polling the parent PID is the portable way to notice.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        logging.getLogger("ticketops.serving").warning("supervisor pid %d is gone: shutting down", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ticketops-supervisor-watch", daemon=True).start()


class SettingsRoleAuth(RoleAuthMiddleware):
    """Roles from the service's settings (read when the server builds its app); SIGHUP reloads the users file."""

    def __init__(self, app: ASGIApp):
        directory = directory_from_settings(service_settings())
        directory.install_sighup()
        super().__init__(app, service_authorizer(directory))


class SettingsOpenAPI(OpenAPIMiddleware):
    """The OpenAPI document for this replica's limits, at ``/docs.json`` (replacing BentoML's) and ``/openapi.json``."""

    def __init__(self, app: ASGIApp):
        super().__init__(app, service_settings())


@bentoml.asgi_app(build_contract_app(current_runtime), path="/", name="ticketops-contract")
@bentoml.service(
    name="ticketops",
    workers=1,  # one process per replica; the model's threads use the cores (scale with replicas)
    traffic={"timeout": 60},  # outer safety net; TICKETOPS_REQUEST_TIMEOUT_S (504) answers first
    metrics={"enabled": False},
    logging={"access": {"enabled": False}},
    # No span exporter is configured, so spans on the hot routes would only cost CPU (~1 ms per request on
    # 2 cores); configure BentoML tracing and drop this exclusion to trace them.
    tracing={"excluded_urls": ["/classify", "/feedback", "/metrics", "/livez", "/readyz", "/healthz", "/ui"]},
)
class TicketClassifier:
    """One replica: a verified model from the registry behind the HTTP contract in ARCHITECTURE.md."""

    def __init__(self) -> None:
        # Before torch loads: OpenMP threads sleep instead of spinning between kernels, so they do not starve
        # the event loop on 2 cores (or burn a Kubernetes CPU quota). Set it explicitly to override.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        logging.getLogger("ticketops").setLevel(logging.INFO)  # BentoML's server logging defaults to WARNING
        from ticketops.serving.runtime import ServingRuntime

        global _runtime
        self.runtime = _runtime = ServingRuntime(service_settings())
        self.runtime.start()
        exit_with_supervisor()

    def __is_ready__(self) -> bool:
        return self.runtime.ready

    @bentoml.on_shutdown
    async def drain(self) -> None:
        await self.runtime.aclose()


TicketClassifier.add_asgi_middleware(RequestMetricsMiddleware, metrics=current_metrics)
TicketClassifier.add_asgi_middleware(SettingsRoleAuth)
TicketClassifier.add_asgi_middleware(SettingsOpenAPI)  # inside roles: the document needs a signed-in user
