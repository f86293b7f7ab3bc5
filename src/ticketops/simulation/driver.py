"""Background traffic for the demo: one-ticket requests at a steady rate, feedback for a share of them.

Counts every request the client saw fail: the demo's ``failed_requests`` is this number, over all phases.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pandas as pd


@dataclass
class TrafficStats:
    sent: int = 0
    failed: int = 0
    feedback_sent: int = 0
    feedback_failed: int = 0


class TrafficDriver:
    """Sends tickets from ``next_window()`` (a DataFrame with text, label) at ``rate`` per second."""

    def __init__(
        self,
        url: str,
        next_window: Callable[[], pd.DataFrame],
        rate: float = 40.0,
        feedback_rate: float = 0.5,
        concurrency: int = 8,
        headers: dict[str, str] | None = None,
    ):
        self.url = url.rstrip("/")
        self.next_window = next_window
        self.rate = rate
        self.feedback_rate = feedback_rate
        self.concurrency = concurrency
        self.headers = headers or {}
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counter = 0

    def start(self) -> TrafficDriver:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="demo-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TrafficStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return self.stats

    def switch(self, next_window: Callable[[], pd.DataFrame]) -> None:
        """Change the scenario from the next window on (the current window finishes first)."""
        self.next_window = next_window

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=15.0, limits=limits, headers=self.headers) as client:
            gate = asyncio.Semaphore(self.concurrency)
            pending: set[asyncio.Task] = set()
            interval = 1.0 / self.rate
            next_at = time.monotonic()
            while not self._stop.is_set():
                for row in self.next_window().itertuples(index=False):
                    if self._stop.is_set():
                        break
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    await gate.acquire()
                    task = asyncio.create_task(self._one(client, row.text, row.label, gate))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _one(self, client: httpx.AsyncClient, text: str, label: str, gate: asyncio.Semaphore) -> None:
        try:
            self._counter += 1
            ticket_id = f"demo-{self._counter}"
            try:
                response = await client.post(
                    f"{self.url}/classify", json={"tickets": [{"text": text, "id": ticket_id}]}
                )
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            self.stats.sent += 1
            if not ok:
                self.stats.failed += 1
                return
            if (self._counter * self.feedback_rate) % 1.0 + self.feedback_rate >= 1.0:  # an exact share, spread out
                try:
                    feedback = await client.post(
                        f"{self.url}/feedback", json={"items": [{"id": ticket_id, "text": text, "label": label}]}
                    )
                    self.stats.feedback_sent += 1
                    self.stats.feedback_failed += feedback.status_code != 200
                except httpx.HTTPError:
                    self.stats.feedback_failed += 1
        finally:
            gate.release()
