"""A tiny stand-in for the classifier service on loopback (aiohttp in a background thread).

It speaks just enough of the contract for traffic tests: ``POST /classify`` answers one prediction per
ticket, ``POST /feedback`` accepts items, and both record what arrived and when. Failures are scripted:
``classify_status(n)`` gives the status of the n-th classify call (1-based), labels in ``unknown_labels``
are refused as the real service refuses them (422 ``unknown_label`` naming ``items.<i>.label``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    classify: list[tuple[float, list[dict]]] = field(default_factory=list)  # (monotonic time, tickets)
    feedback: list[list[dict]] = field(default_factory=list)  # items of every /feedback call
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0  # most /classify requests the service was answering at the same time

    def classified_ids(self) -> list[str]:
        return [ticket["id"] for _, tickets in self.classify for ticket in tickets]

    def feedback_items(self) -> list[dict]:
        return [item for items in self.feedback for item in items]


@contextmanager
def fake_service(
    classify_status: Callable[[int], int] = lambda n: 200,
    feedback_status: int = 200,
    unknown_labels: frozenset[str] = frozenset(),
    label: str = "card_arrival",
    delay: float = 0.0,
    model_version: str = "1",
) -> Iterator[tuple[str, Received]]:
    """Yields (base URL, what the service received); statuses other than 200 answer a JSON error;
    ``delay`` seconds pass before each /classify answer, which names ``model_version``."""
    from aiohttp import web

    received = Received()
    lock = threading.Lock()

    async def classify(request: web.Request) -> web.Response:
        body = await request.json()
        with lock:
            received.classify.append((time.monotonic(), body["tickets"]))
            received.headers.append(dict(request.headers))
            status = classify_status(len(received.classify))
            received.in_flight += 1
            received.max_in_flight = max(received.max_in_flight, received.in_flight)
        try:
            if delay:
                await asyncio.sleep(delay)
        finally:
            with lock:
                received.in_flight -= 1
        if status != 200:
            return web.json_response({"error": "scripted", "message": "scripted failure"}, status=status)
        predictions = [
            {"id": t.get("id"), "label": label, "confidence": 0.9, "needs_review": False} for t in body["tickets"]
        ]
        return web.json_response({"model_version": model_version, "predictions": predictions})

    async def feedback(request: web.Request) -> web.Response:
        items = (await request.json())["items"]
        refused = [i for i, item in enumerate(items) if item["label"] in unknown_labels]
        if refused:
            fields = [{"field": f"items.{i}.label", "message": "unknown label", "type": "unknown"} for i in refused]
            return web.json_response(
                {"error": "unknown_label", "message": "label not known", "fields": fields}, status=422
            )
        with lock:
            received.feedback.append(items)
        if feedback_status != 200:
            return web.json_response({"error": "scripted", "message": "scripted failure"}, status=feedback_status)
        return web.json_response({"accepted": len(items)})

    app = web.Application()
    app.router.add_post("/classify", classify)
    app.router.add_post("/feedback", feedback)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-service", daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None)
    asyncio.run_coroutine_threadsafe(runner.setup(), loop).result(10)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(site.start(), loop).result(10)
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
