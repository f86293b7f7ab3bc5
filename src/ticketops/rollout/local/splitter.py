"""A weighted traffic splitter for the local backend: one public port in front of stable and canary.

It forwards every request to stable or canary in the exact proportion set by ``PUT /-/split`` (smooth
weighted round-robin, not coin flips, so a 10% step is 10%), retries once on stable when the canary
cannot be reached (the canary dying mid-step costs no client request), and exports its own metrics on
``/-/metrics``. The split is kept in a JSON file so a restarted splitter routes as before.

Shadow (``mirror``): every ``/classify`` answered by stable is also sent to the canary after the client has its
answer, marked ``X-Ticketops-Shadow`` (the canary then logs nothing: its answers are discarded). The splitter
pairs both answers by ticket and, when an agent's label for a mirrored ticket passes through ``/feedback``,
counts who was right: the paired counts the shadow checks judge (rollout/checks.py). At most
``max_in_flight`` mirrored requests are open at once; beyond that a ticket is not mirrored (counted), so a
slow challenger never queues work in front of stable's clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import zlib
from collections import OrderedDict
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import BaseModel, Field

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
MAX_PAIRS = 50_000  # mirrored tickets remembered for their labels (oldest forgotten first)


class Split(BaseModel):
    stable: str  # base URL, e.g. http://127.0.0.1:3101
    canary: str | None = None
    weight: int = Field(0, ge=0, le=100)  # percent of requests to the canary
    mirror: bool = False  # shadow: stable answers everything, every /classify is copied to the canary
    max_in_flight: int = Field(8, ge=1)  # mirrored requests open at once


class ShadowPairs:
    """Stable's and the challenger's label for each mirrored ticket, until an agent labels it."""

    def __init__(self, registry: CollectorRegistry, capacity: int = MAX_PAIRS):
        self.capacity = capacity
        self._pairs: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._early: OrderedDict[str, str] = OrderedDict()  # labels that came before the challenger's answer
        self.pairs = Counter(
            "ticketops_shadow_pairs_total",
            "Mirrored tickets answered by both models, by agreement and the challenger's label.",
            ["agree", "challenger_label"],
            registry=registry,
        )
        self.labelled = Counter(
            "ticketops_shadow_labelled_total",
            "Agents' labels on mirrored tickets: who was right.",
            ["stable_correct", "challenger_correct", "true_label"],
            registry=registry,
        )
        self.skipped = Counter(
            "ticketops_shadow_skipped_total",
            "Tickets not mirrored (too many mirrored requests open, or the challenger failed)",
            ["reason"],
            registry=registry,
        )
        for reason in ("busy", "failed"):
            self.skipped.labels(reason)

    def record(self, stable: dict, challenger: dict) -> None:
        """Pair two /classify answers to the same request (by position: ids may be generated per replica)."""
        for ours, theirs in zip(stable.get("predictions", []), challenger.get("predictions", []), strict=False):
            ticket_id, s_label, c_label = ours.get("id"), ours.get("label"), theirs.get("label")
            if ticket_id is None or s_label is None or c_label is None:
                continue
            self.pairs.labels(str(s_label == c_label).lower(), c_label).inc()
            early = self._early.pop(str(ticket_id), None)
            if early is not None:
                self._count(s_label, c_label, early)
                continue
            self._pairs[str(ticket_id)] = (s_label, c_label)
            while len(self._pairs) > self.capacity:
                self._pairs.popitem(last=False)

    def feedback(self, body: dict) -> None:
        """Count an agent's label on each mirrored ticket once. A label can overtake the challenger's answer
        (agents are fast, a loaded challenger slow): it waits for it, among the last ``capacity`` labels."""
        for item in body.get("items", []) if isinstance(body, dict) else []:
            if not isinstance(item, dict) or not isinstance(item.get("label"), str):
                continue
            ticket_id, label = str(item.get("id")), item["label"]
            pair = self._pairs.pop(ticket_id, None)
            if pair is None:
                self._early[ticket_id] = label
                while len(self._early) > self.capacity:
                    self._early.popitem(last=False)
                continue
            self._count(*pair, label)

    def _count(self, s_label: str, c_label: str, label: str) -> None:
        self.labelled.labels(str(s_label == label).lower(), str(c_label == label).lower(), label).inc()


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


def build_app(split_path: Path):
    import aiohttp
    from aiohttp import web

    registry = CollectorRegistry()
    forwarded = Counter(
        "ticketops_splitter_requests_total", "Requests forwarded", ["track", "status"], registry=registry
    )
    retries = Counter(
        "ticketops_splitter_retries_total", "Requests retried on stable after a canary failure", registry=registry
    )
    failed = Counter("ticketops_splitter_failed_total", "Requests no upstream could answer", registry=registry)
    weight_gauge = Gauge("ticketops_splitter_canary_weight", "Percent of traffic sent to the canary", registry=registry)
    router = Router(load_split(split_path))
    weight_gauge.set(router.split.weight)
    shadow = ShadowPairs(registry)
    mirrors: set[asyncio.Task] = set()

    async def mirror(session, canary: str, path: str, body: bytes, headers: dict, answer: bytes) -> None:
        try:
            async with session.post(canary + path, data=body, headers={**headers, SHADOW_HEADER: "1"}) as response:
                payload = await response.read()
                if response.status != 200:
                    shadow.skipped.labels("failed").inc()
                    return
            shadow.record(json.loads(answer), json.loads(payload))
        except (TimeoutError, aiohttp.ClientError, ValueError):
            shadow.skipped.labels("failed").inc()

    def maybe_mirror(request: web.Request, body: bytes, headers: dict, response, answer: bytes) -> None:
        split = router.split
        if not (split.mirror and split.canary and request.method == "POST" and request.path == "/classify"):
            return
        if response.status != 200:
            return
        if response.headers.get("Content-Encoding", "identity") != "identity":
            try:
                answer = zlib.decompress(answer, wbits=47)  # gzip or zlib, as the upstream chose
            except zlib.error:
                shadow.skipped.labels("failed").inc()
                return
        headers = {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}
        if len(mirrors) >= split.max_in_flight:
            shadow.skipped.labels("busy").inc()
            return
        task = asyncio.create_task(mirror(request.app["session"], split.canary, request.path_qs, body, headers, answer))
        mirrors.add(task)
        task.add_done_callback(mirrors.discard)

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
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != SHADOW_HEADER.lower()
        }
        if router.split.mirror and request.path == "/feedback":
            with contextlib.suppress(ValueError):
                shadow.feedback(json.loads(body))
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
                    maybe_mirror(request, body, headers, upstream_response, payload)
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
