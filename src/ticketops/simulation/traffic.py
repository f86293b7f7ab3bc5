"""Send scenario traffic to a running service: real tickets at a steady rate, agents' labels right after them.

One generator serves the CLI (``ticketops simulate``: a fixed number of tickets, then a summary), the demo
(in the background until stopped, the scenario switched between windows) and the tests. Tickets go to
``POST /classify`` in requests of ``batch_size`` paced to ``rate`` tickets per second; for a spread-out share
(``feedback_rate``) of the answered tickets, the true label follows through ``POST /feedback``, as agents
would provide it. Every request the client saw fail is counted.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from ticketops.config import ScenarioParams
from ticketops.settings import TrafficSettings
from ticketops.simulation.feedback import send_feedback
from ticketops.simulation.scenarios import scenario_window


@dataclass
class TrafficSummary:
    """What was sent and how the service answered."""

    scenario: str
    sent: int = 0
    classified: int = 0
    failed_requests: int = 0
    injected: int = 0
    feedback_sent: int = 0
    feedback_failed: int = 0
    feedback_unknown_label: int = 0
    seconds: float = 0.0
    predicted: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "classified": self.classified,
            "failed_requests": self.failed_requests,
            "injected": self.injected,
            "feedback_sent": self.feedback_sent,
            "feedback_failed": self.feedback_failed,
            "feedback_unknown_label": self.feedback_unknown_label,
            "seconds": round(self.seconds, 2),
            "top_predicted": dict(self.predicted.most_common(5)),
            "errors": self.errors[:5],
        }


def simulation_pool(root: Path, params) -> pd.DataFrame:
    """Seed tickets the champion was neither trained nor calibrated on: everything outside train and validation.

    That is the test split plus the held-out intents (when ``split.holdout_labels`` is set); without the
    pipeline's split files, every seed ticket.
    """
    from ticketops.fileio import read_csv

    p = params.ingest
    seed = read_csv(root / p.seed_path)
    pool = pd.DataFrame({"text": seed[p.seed_text_column], "label": seed[p.seed_label_column]})
    seen: set[str] = set()
    for name in ("train", "validation"):
        path = root / "data" / "splits" / f"{name}.csv"
        if path.exists():
            seen.update(read_csv(path)["text"])
    return pool[~pool["text"].isin(seen)].reset_index(drop=True)


def _headers(token: str | None) -> dict[str, str]:
    token = token or TrafficSettings().bearer()  # TICKETOPS_TRAFFIC_TOKEN when the caller gives none
    return {"Authorization": f"Bearer {token}"} if token else {}


class TrafficGenerator:
    """Sends tickets from ``next_window()`` (a DataFrame with ``text`` and ``label``) at ``rate`` per second.

    ``run(count)`` sends ``count`` tickets and returns; ``start()`` / ``stop()`` run it in a background thread
    until stopped. At most ``concurrency`` requests are in flight; a slow service delays tickets, it never
    makes the generator pile up requests.
    """

    def __init__(
        self,
        url: str,
        next_window: Callable[[], pd.DataFrame],
        *,
        rate: float = 40.0,
        feedback_rate: float = 0.3,
        batch_size: int = 1,
        concurrency: int = 8,
        token: str | None = None,
        scenario: str = "",
        timeout: float = 30.0,
        max_text_chars: int | None = None,
    ):
        self.url = url.rstrip("/")
        self.next_window = next_window
        self.rate = rate
        self.feedback_rate = feedback_rate
        self._feedback_share = Fraction(feedback_rate).limit_denominator(10_000)  # exact: floats lose tickets
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.headers = _headers(token)
        self.timeout = timeout
        self.max_text_chars = max_text_chars
        self.summary = TrafficSummary(scenario)
        self._run_id = uuid.uuid4().hex[:8]
        self._tickets = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def switch(self, next_window: Callable[[], pd.DataFrame]) -> None:
        """Change the scenario from the next window on (the current window finishes first)."""
        self.next_window = next_window

    def run(self, count: int) -> TrafficSummary:
        """Send ``count`` tickets (and their feedback), then return the summary."""
        asyncio.run(self._run(count))
        return self.summary

    def start(self) -> TrafficGenerator:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(None)), name="traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TrafficSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return self.summary

    def _batches(self, count: int | None):
        """Requests' worth of tickets (id, text, label) from successive windows until ``count`` or stop."""
        while not self._stop.is_set() and (count is None or self._tickets < count):
            window = self.next_window()
            if not len(window):
                return
            if "injected" in window:
                self.summary.injected += int(window["injected"].sum())
            rows = list(window[["text", "label"]].itertuples(index=False))
            for start in range(0, len(rows), self.batch_size):
                if self._stop.is_set() or (count is not None and self._tickets >= count):
                    return
                take = rows[start : start + self.batch_size]
                if count is not None:
                    take = take[: count - self._tickets]
                batch = []
                for text, label in take:
                    self._tickets += 1
                    text = str(text)[: self.max_text_chars] if self.max_text_chars else str(text)
                    batch.append((f"sim-{self._run_id}-{self._tickets}", text, label))
                yield batch

    async def _run(self, count: int | None) -> None:
        import httpx

        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        started = time.monotonic()
        async with httpx.AsyncClient(
            base_url=self.url, timeout=self.timeout, limits=limits, headers=self.headers
        ) as client:
            gate = asyncio.Semaphore(self.concurrency)
            pending: set[asyncio.Task] = set()
            sent_tickets = 0
            for batch in self._batches(count):
                if self.rate > 0:
                    await asyncio.sleep(max(0.0, started + sent_tickets / self.rate - time.monotonic()))
                sent_tickets += len(batch)
                await gate.acquire()
                task = asyncio.create_task(self._request(client, batch, gate))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        self.summary.seconds += time.monotonic() - started

    def _wants_feedback(self, number: int) -> bool:
        """An exact, evenly spread share of tickets gets a label (ticket ``number`` counts from 1).

        Ticket n is labelled when floor((n + 1) * rate) passes floor(n * rate), in exact fractions: float
        arithmetic loses tickets to rounding (0.3 labelled 21 of 100).
        """
        p, q = self._feedback_share.numerator, self._feedback_share.denominator
        return (number + 1) * p // q > number * p // q

    async def _request(self, client, batch: list[tuple[str, str, str]], gate: asyncio.Semaphore) -> None:
        import httpx

        summary = self.summary
        try:
            body = {"tickets": [{"text": text, "id": ticket_id} for ticket_id, text, _ in batch]}
            summary.sent += len(batch)
            try:
                response = await client.post("/classify", json=body)
            except httpx.HTTPError as exc:
                summary.failed_requests += 1
                summary.errors.append(type(exc).__name__)
                return
            if response.status_code != 200:
                summary.failed_requests += 1
                summary.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            predictions = response.json()["predictions"]
            summary.classified += len(predictions)
            summary.predicted.update(p["label"] for p in predictions)
            items = [
                {"id": ticket_id, "text": text, "label": label}
                for ticket_id, text, label in batch
                if self._wants_feedback(int(ticket_id.rsplit("-", 1)[1]))
            ]
            if items:
                sent, unknown = await send_feedback(client, items)
                summary.feedback_sent += sent
                summary.feedback_unknown_label += unknown
                summary.feedback_failed += len(items) - sent - unknown
        finally:
            gate.release()


def send_traffic(
    url: str,
    pool: pd.DataFrame,
    scenario: str,
    count: int,
    rate: float,
    scenarios: ScenarioParams,
    *,
    feedback_rate: float = 0.3,
    mixture: float | None = None,
    batch_size: int = 8,
    seed: int = 0,
    token: str | None = None,
    timeout: float = 30.0,
    concurrency: int = 1,
) -> TrafficSummary:
    """Classify ``count`` scenario tickets drawn from ``pool`` at ``rate`` per second, with feedback for a share."""
    from ticketops.settings import service_settings

    rng = np.random.default_rng(seed)
    generator = TrafficGenerator(
        url,
        lambda: scenario_window(pool, scenario, count, rng, scenarios, mixture=mixture),
        rate=rate,
        feedback_rate=feedback_rate,
        batch_size=batch_size,
        concurrency=concurrency,
        token=token,
        scenario=scenario,
        timeout=timeout,
        max_text_chars=service_settings().max_text_chars,
    )
    return generator.run(count)
