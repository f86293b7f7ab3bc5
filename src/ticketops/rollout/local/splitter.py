"""A weighted traffic splitter for the local backend: one public port in front of stable and canary.

It forwards every request to stable or canary in the exact proportion set by ``PUT /-/split`` (smooth
weighted round-robin, not coin flips, so a 10% step is 10%), retries once on stable when the canary
cannot be reached (the canary dying mid-step costs no client request), and exports its own metrics on
``/-/metrics``. The split is kept in a JSON file so a restarted splitter routes as before.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import BaseModel, Field

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


def build_app(split_path: Path):
    import aiohttp
    from aiohttp import web

    registry = CollectorRegistry()
    forwarded, retries, failed, weight_gauge = splitter_metrics(registry)
    router = Router(load_split(split_path))
    weight_gauge.set(router.split.weight)

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
        try:
            split = Split.model_validate(await request.json())
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        save_split(split_path, split)
        router.split = split
        weight_gauge.set(split.weight)
        return web.json_response(split.model_dump())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
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
                    return web.Response(body=payload, status=upstream_response.status, headers=out_headers)
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt + 1 < len(attempts):
                    retries.inc()
                    continue
        failed.inc()
        return web.json_response({"error": "no upstream could answer"}, status=502)

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/-/split", get_split)
    app.router.add_put("/-/split", put_split)
    app.router.add_get("/-/metrics", metrics)
    app.router.add_get("/-/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="ticketops local traffic splitter")
    parser.add_argument("--split-file", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from aiohttp import web

    web.run_app(build_app(args.split_file), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
