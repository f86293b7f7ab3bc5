"""A weighted traffic splitter for the local backend: one public port in front of stable and canary.

It forwards every request to stable or canary in the exact proportion set by ``PUT /-/split`` (smooth
weighted round-robin, not coin flips, so a 10% step is 10%), retries once on stable when the canary
cannot be reached (the canary dying mid-step costs no client request), and exports its own metrics on
``/-/metrics``. The split is kept in a JSON file so a restarted splitter routes as before.

Trust boundary: the admin routes (``/-/split``, ``/-/metrics``, ``/-/healthz``) are served on a separate
admin port bound to loopback, never on the public port (which answers 404 for ``/-/*`` rather than forward
it). Changing the split needs the admin role (serving/auth.py's Authorizer; the local stack gives the
splitter its own admin token, kept 0600 in the stack folder), and every upstream must be one of the stack's
own replicas (``allowed_upstreams``: the service processes the stack recorded), whether it comes from a PUT
or from the split file at start: otherwise one request could reroute all traffic, bearer tokens and ticket
text included, to any host.

A split with ``mirror`` set is a shadow phase: stable answers everything and each ``/classify`` is copied to
the canary (rollout/local/shadow.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import BaseModel, Field

from ticketops.rollout.local.shadow import Mirror
from ticketops.serving.auth import ADMINS, PUBLIC, Authorizer, Role
from ticketops.settings import SHADOW_HEADER

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class Split(BaseModel):
    stable: str  # base URL, e.g. http://127.0.0.1:3101
    canary: str | None = None
    weight: int = Field(0, ge=0, le=100)  # percent of requests to the canary
    mirror: bool = False  # shadow: stable answers everything, every /classify is copied to the canary
    max_in_flight: int = Field(8, ge=1)  # mirrored requests open at once


class Router:
    """Smooth weighted round-robin between two upstreams."""

    def __init__(self, split: Split):
        self.split = split
        self._credit = 0

    def pick(self) -> tuple[str, str]:
        split = self.split
        if split.canary is None or split.weight <= 0:
            return "stable", split.stable
        self._credit += split.weight
        if self._credit >= 100:
            self._credit -= 100
            return "canary", split.canary
        return "stable", split.stable


def load_split(path: Path) -> Split:
    return Split.model_validate_json(Path(path).read_text())


def save_split(path: Path, split: Split) -> None:
    from ticketops.fileio import atomic_write

    atomic_write(path, lambda tmp: tmp.write_text(split.model_dump_json()))


ADMIN_POLICY: dict[str, frozenset[Role]] = {
    "GET /-/split": ADMINS,
    "PUT /-/split": ADMINS,
    "/-/metrics": PUBLIC,  # Prometheus on loopback
    "/-/healthz": PUBLIC,
}
AllowedUpstreams = Callable[[], set[str]]


class UpstreamRefused(ValueError):
    """A split names an upstream that is not one of the stack's own replicas."""


def check_upstreams(split: Split, allowed: set[str]) -> Split:
    for name, url in (("stable", split.stable), ("canary", split.canary)):
        if url is not None and url.rstrip("/") not in allowed:
            raise UpstreamRefused(f"{name} upstream is not one of this stack's replicas")
    return split


def stack_upstreams(processes_file: Path) -> AllowedUpstreams:
    """The service replicas the local stack recorded (loopback URLs), read afresh on every check."""

    def allowed() -> set[str]:
        try:
            records = json.loads(Path(processes_file).read_text())
        except (OSError, ValueError):
            return set()
        return {
            f"http://127.0.0.1:{record['port']}"
            for name, record in records.items()
            if name not in ("splitter", "prometheus", "alertmanager") and isinstance(record.get("port"), int)
        }

    return allowed


def splitter_metrics(registry: CollectorRegistry) -> tuple[Counter, Counter, Counter, Gauge]:
    """The splitter's series (dashboards and their tests read the names from here)."""
    forwarded = Counter(
        "ticketops_splitter_requests_total", "Requests forwarded", ["track", "status"], registry=registry
    )
    retries = Counter(
        "ticketops_splitter_retries_total", "Requests retried on stable after a canary failure", registry=registry
    )
    failed = Counter("ticketops_splitter_failed_total", "Requests no upstream could answer", registry=registry)
    weight = Gauge("ticketops_splitter_canary_weight", "Percent of traffic sent to the canary", registry=registry)
    return forwarded, retries, failed, weight


def build_apps(split_path: Path, authorizer: Authorizer, allowed_upstreams: AllowedUpstreams):
    """(public app, admin app) sharing one router and one metrics registry."""
    import aiohttp
    from aiohttp import web

    from ticketops.serving.auth_middleware import aiohttp_middleware

    registry = CollectorRegistry()
    forwarded, retries, failed, weight_gauge = splitter_metrics(registry)
    router = Router(check_upstreams(load_split(split_path), allowed_upstreams()))  # a tampered file is refused too
    weight_gauge.set(router.split.weight)
    mirror = Mirror(registry)

    async def on_startup(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=30, connect=2),
            auto_decompress=False,
        )

    async def on_cleanup(app: web.Application) -> None:
        await app["session"].close()

    async def get_split(_: web.Request) -> web.Response:
        return web.json_response(router.split.model_dump())

    async def put_split(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response({"error": "the body must be JSON (Content-Type: application/json)"}, status=415)
        try:
            split = Split.model_validate(await request.json())
        except (ValueError, json.JSONDecodeError):
            return web.json_response({"error": "the body is not a split ({stable, canary, weight})"}, status=400)
        try:
            check_upstreams(split, allowed_upstreams())
        except UpstreamRefused as exc:
            return web.json_response({"error": str(exc)}, status=422)
        save_split(split_path, split)
        router.split = split
        weight_gauge.set(split.weight)
        return web.json_response(split.model_dump())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/-/"):  # admin routes live on the admin port only
            return web.json_response({"error": "not found"}, status=404)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in (*HOP_BY_HOP, SHADOW_HEADER.lower())}
        track, upstream = router.pick()
        attempts = [(track, upstream)]
        if track == "canary":
            attempts.append(("stable", router.split.stable))
        for attempt, (name, base) in enumerate(attempts):
            try:
                async with request.app["session"].request(
                    request.method, base + request.path_qs, data=body, headers=headers
                ) as upstream_response:
                    payload = await upstream_response.read()
                    forwarded.labels(name, str(upstream_response.status)).inc()
                    out_headers = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP}
                    out_headers["X-Ticketops-Track"] = name
                    split = router.split
                    if split.mirror and request.method == "POST" and request.path == "/classify":
                        session = request.app["session"]
                        mirror.classified(session, split, request.path_qs, body, headers, upstream_response, payload)
                    elif split.mirror and request.method == "POST" and request.path == "/feedback":
                        mirror.labelled(body, upstream_response.status)
                    return web.Response(body=payload, status=upstream_response.status, headers=out_headers)
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt + 1 < len(attempts):
                    retries.inc()
                    continue
        failed.inc()
        return web.json_response({"error": "no upstream could answer"}, status=502)

    public = web.Application(client_max_size=16 * 1024 * 1024)
    public.on_startup.append(on_startup)
    public.on_cleanup.append(on_cleanup)
    public.router.add_route("*", "/{tail:.*}", forward)
    admin = web.Application(middlewares=[aiohttp_middleware(authorizer)], client_max_size=64 * 1024)
    admin.router.add_get("/-/split", get_split)
    admin.router.add_put("/-/split", put_split)
    admin.router.add_get("/-/metrics", metrics)
    admin.router.add_get("/-/healthz", healthz)
    return public, admin


def splitter_authorizer(token_file: Path) -> Authorizer:
    """The admin role for the holder of the stack's own token (written 0600 by the stack)."""
    from pydantic import SecretStr

    from ticketops.serving.auth import UserDirectory

    token = Path(token_file).read_text().strip()
    if not token:
        raise ValueError(f"{token_file} holds no token")
    return Authorizer(UserDirectory(admin_token=SecretStr(token)), ADMIN_POLICY)


async def _serve(public, admin, host: str, port: int, admin_port: int) -> None:
    import asyncio

    from aiohttp import web

    runners = [web.AppRunner(public, access_log=None), web.AppRunner(admin, access_log=None)]
    for runner in runners:
        await runner.setup()
    await web.TCPSite(runners[0], host, port).start()
    await web.TCPSite(runners[1], "127.0.0.1", admin_port).start()  # admin: loopback only, whatever --host
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def main() -> None:
    import asyncio

    parser = argparse.ArgumentParser(description="ticketops local traffic splitter")
    parser.add_argument("--split-file", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True, help="the stack's admin token for /-/split")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    args = parser.parse_args()
    allowed = stack_upstreams(args.split_file.parent / "processes.json")
    public, admin = build_apps(args.split_file, splitter_authorizer(args.token_file), allowed)
    asyncio.run(_serve(public, admin, args.host, args.port, args.admin_port))


if __name__ == "__main__":
    main()
