"""Bearer-token auth for every route but the probes and ``/metrics``, decided in one table.

``ROUTE_POLICY`` lists every route the service exposes (its own and BentoML's) with its decision; the
middleware lets through only the public ones without a token and denies everything else, including
routes nobody listed. A test walks the routes of the real ASGI app and fails when one is missing here,
so a new route gets an explicit decision. Tokens are compared in constant time (over their SHA-256,
so not even the length leaks).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Literal

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketops.serving.errors import error_response

logger = logging.getLogger("ticketops.serving")

Decision = Literal["public", "token"]

ROUTE_POLICY: dict[str, Decision] = {
    # the contract
    "/classify": "token",
    "/feedback": "token",
    "/metrics": "public",  # Prometheus scrapes without credentials (k8s NetworkPolicy limits who can)
    "/livez": "public",
    "/readyz": "public",
    # added by BentoML
    "/healthz": "public",  # alias of /livez
    "/": "token",  # BentoML's UI
    "/docs.json": "token",
    "/schema.json": "token",
    "/static_content": "token",
}
PUBLIC_PATHS = frozenset(path for path, decision in ROUTE_POLICY.items() if decision == "public")


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def token_matches(header: bytes | None, expected: SecretStr) -> bool:
    """True when ``header`` is ``Bearer <expected>``; constant time in the token's content and length."""
    presented = b""
    if header is not None:
        scheme, _, value = header.strip().partition(b" ")
        if scheme.lower() == b"bearer":
            presented = value.strip()
    wanted = expected.get_secret_value().encode()
    return hmac.compare_digest(_digest(presented), _digest(wanted)) and bool(presented)


class BearerAuthMiddleware:
    """ASGI middleware: 401 unless the path is public or the request carries the right bearer token."""

    def __init__(self, app: ASGIApp, token: SecretStr | None):
        self.app = app
        self.token = token if token is not None and token.get_secret_value() else None
        if self.token is None:
            logger.warning("TICKETOPS_API_TOKEN is not set: every route is open")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        if token_matches(header, self.token):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401,
            "unauthorized",
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="ticketops"'},
        )
        await response(scope, receive, send)
