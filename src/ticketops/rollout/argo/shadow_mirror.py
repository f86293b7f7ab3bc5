"""The shadow phase on a cluster: the HTTPRoute mirrors ``/classify`` and ``/feedback`` here, and the mirror pairs
stable's and the challenger's answers to the same tickets.

The Gateway (``RequestMirror``) sends a copy of each client request and discards this service's answer, so it
answers at once and does the work afterwards: each mirrored ``/classify`` is asked of ``ticketops-stable`` and
``ticketops-canary`` (marked with the shadow header, so neither logs it as a prediction), both answers are paired
with rollout/local/shadow.py's ``ShadowPairs`` (the splitter's own class: the same series, read by the same
analysis), and a mirrored ``/feedback`` counts, for mirrored tickets, who was right. At most ``max_in_flight``
tickets are being asked at once; beyond that one is skipped (counted), so a slow challenger costs no memory.

At rest (no rollout) both Services select the stable pods: when both answer the same ``model_version`` the
mirror records nothing and asks again only every ``recheck_s`` seconds, so stable does not answer everything
twice. The copies carry the clients' tokens; the mirror checks them against the service's own users (the same
route table), so nobody can count labels the service would not accept from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from ticketops.rollout.local.shadow import ShadowPairs
from ticketops.serving.auth import Authorizer
from ticketops.settings import SHADOW_HEADER

FORWARDED = ("authorization", "content-type")  # the rest of a client's headers is no business of the tracks
MAX_BODY_BYTES = 2 * 1024 * 1024


class ShadowMirror:
    """Pairs the tracks' answers to mirrored tickets; ``classified`` and ``labelled`` never wait for them."""

    def __init__(
        self,
        stable_url: str,
        canary_url: str,
        registry: CollectorRegistry,
        max_in_flight: int = 8,
        recheck_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stable_url, self.canary_url = stable_url.rstrip("/"), canary_url.rstrip("/")
        self.max_in_flight, self.recheck_s, self.clock = max_in_flight, recheck_s, clock
        self.pairs = ShadowPairs(registry)
        self.pairs.skipped.labels("same_version")
        self.in_flight = Gauge(
            "ticketops_shadow_mirror_in_flight", "Mirrored tickets being asked of both tracks", registry=registry
        )
        self.at_rest = Gauge(
            "ticketops_shadow_mirror_same_version",
            "1 while stable and canary answer with the same model version (nothing is paired)",
            registry=registry,
        )
        self._idle_until = float("-inf")
        self._tasks: set[asyncio.Task] = set()
        self.session = None  # an aiohttp.ClientSession, opened with the app

    def classified(self, body: bytes, headers: dict[str, str]) -> bool:
        """A mirrored /classify: ask both tracks in the background; False when skipped (at rest or busy)."""
        if self.clock() < self._idle_until:
            self.pairs.skipped.labels("same_version").inc()
            return False
        if len(self._tasks) >= self.max_in_flight:
            self.pairs.skipped.labels("busy").inc()
            return False
        task = asyncio.create_task(self._pair(body, headers))
        self._tasks.add(task)
        self.in_flight.set(len(self._tasks))
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self.in_flight.set(len(self._tasks))

    async def _ask(self, base: str, body: bytes, headers: dict[str, str]) -> dict | None:
        import aiohttp

        try:
            async with self.session.post(f"{base}/classify", data=body, headers=headers) as response:
                if response.status != 200:
                    return None
                answer = json.loads(await response.read())
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return None
        return answer if isinstance(answer, dict) else None

    async def _pair(self, body: bytes, headers: dict[str, str]) -> None:
        marked = {**headers, SHADOW_HEADER: "1"}
        stable, canary = await asyncio.gather(
            self._ask(self.stable_url, body, marked), self._ask(self.canary_url, body, marked)
        )
        if stable is None or canary is None:
            self.pairs.skipped.labels("failed").inc()
            return
        if str(stable.get("model_version")) == str(canary.get("model_version")):
            self._idle_until = self.clock() + self.recheck_s
            self.at_rest.set(1)
            return
        self.at_rest.set(0)
        self.pairs.record(stable, canary)

    def labelled(self, body: bytes) -> None:
        """A mirrored /feedback of an authorised agent: who was right on each mirrored ticket it labels."""
        with contextlib.suppress(ValueError):
            self.pairs.feedback(json.loads(body))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def build_app(mirror: ShadowMirror, authorizer: Authorizer, registry: CollectorRegistry, timeout_s: float = 10.0):
    """The mirror's routes: the Gateway's copies, the probes and /metrics (roles as the service's own)."""
    import aiohttp
    from aiohttp import web

    from ticketops.serving.auth_middleware import aiohttp_middleware

    async def on_startup(_: web.Application) -> None:
        mirror.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=2 * mirror.max_in_flight, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=timeout_s, connect=2),
        )

    async def on_cleanup(_: web.Application) -> None:
        await mirror.close()
        await mirror.session.close()

    def forwarded(request: web.Request) -> dict[str, str]:
        return {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}

    async def classify(request: web.Request) -> web.Response:
        mirrored = mirror.classified(await request.read(), forwarded(request))
        return web.json_response({"mirrored": mirrored}, status=202)

    async def feedback(request: web.Request) -> web.Response:
        mirror.labelled(await request.read())
        return web.json_response({"counted": True}, status=202)

    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ready = mirror.session is not None and not mirror.session.closed
        return web.json_response({"status": "ready" if ready else "starting"}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    app = web.Application(middlewares=[aiohttp_middleware(authorizer)], client_max_size=MAX_BODY_BYTES)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_post("/classify", classify)
    app.router.add_post("/feedback", feedback)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def app_from_settings(host: str, settings=None):
    """The mirror as the environment configures it: tracks' URLs (``TICKETOPS_SHADOW_*``) and the service's users
    (``TICKETOPS_AUTH_FILE`` / ``TICKETOPS_API_TOKEN``); AuthConfigError for an open non-loopback bind."""
    from ticketops.serving.access import service_authorizer
    from ticketops.serving.auth import check_bind, directory_from_settings
    from ticketops.settings import ArgoAnalysisSettings, service_settings

    settings = settings or ArgoAnalysisSettings()
    directory = directory_from_settings(service_settings())
    check_bind(host, directory)
    registry = CollectorRegistry()
    mirror = ShadowMirror(
        settings.shadow_stable_url,
        settings.shadow_canary_url,
        registry,
        settings.shadow_max_in_flight,
        settings.shadow_recheck_s,
    )
    return build_app(mirror, service_authorizer(directory), registry, settings.shadow_timeout_s)
