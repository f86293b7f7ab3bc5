"""Request metrics for every route: ``ticketops_requests_total`` and latency for requests that passed
authentication (errors included), ``ticketops_auth_rejected_total`` for the 401s and 403s.

It wraps the whole app (outside auth), so canary analysis sees what authenticated clients saw, timed from the
first byte in. Refusals are counted apart (ServiceMetrics.observe_request): anyone can send a flood of cheap
401s, and counted with the rest they would meet a failing canary's minimum traffic, dilute its error rate
and pull its p99 down. Paths outside the known routes count as ``other`` to keep label cardinality bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketops.serving.access import ROUTE_PATHS
from ticketops.serving.metrics import ServiceMetrics

KNOWN_ROUTES = ROUTE_PATHS - {"/static_content"}
OTHER_ROUTE = "other"

MetricsProvider = Callable[[], ServiceMetrics | None]


def route_label(path: str) -> str:
    return path if path in KNOWN_ROUTES else OTHER_ROUTE


class RequestMetricsMiddleware:
    """Count each HTTP request by route and final status and time it until the last body byte is sent."""

    def __init__(self, app: ASGIApp, metrics: MetricsProvider):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics() if scope["type"] == "http" else None
        if metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            metrics.observe_request(route_label(scope["path"]), status, time.perf_counter() - started)
