"""The local splitter's shadow phase: copy each ``/classify`` stable answered to the canary and pair the answers.

Every ``/classify`` answered by stable is also sent to the canary after the client has its answer, marked
``X-Ticketops-Shadow`` (the canary then logs nothing: its answers are discarded). Both answers are paired by
ticket and, when an agent's label for a mirrored ticket passes through ``/feedback`` and the service accepts
it, who was right is counted: the paired counts the shadow checks judge (rollout/checks.py). At most
``max_in_flight`` mirrored requests are open at once; beyond that a ticket is not mirrored (counted), so a
slow challenger never queues work in front of stable's clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections import OrderedDict

from prometheus_client import CollectorRegistry, Counter

from ticketops.settings import SHADOW_HEADER

MAX_PAIRS = 50_000  # mirrored tickets remembered for their labels (oldest forgotten first)


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


class Mirror:
    """Copies answered ``/classify`` requests to the canary (bounded in flight) and feeds ``ShadowPairs``."""

    def __init__(self, registry: CollectorRegistry):
        self.pairs = ShadowPairs(registry)
        self._tasks: set[asyncio.Task] = set()

    async def _send(self, session, canary: str, path: str, body: bytes, headers: dict, answer: bytes) -> None:
        import aiohttp

        try:
            async with session.post(canary + path, data=body, headers={**headers, SHADOW_HEADER: "1"}) as response:
                payload = await response.read()
                if response.status != 200:
                    self.pairs.skipped.labels("failed").inc()
                    return
            self.pairs.record(json.loads(answer), json.loads(payload))
        except (TimeoutError, aiohttp.ClientError, ValueError):
            self.pairs.skipped.labels("failed").inc()

    def classified(self, session, split, path: str, body: bytes, headers: dict, response, answer: bytes) -> None:
        """After stable answered a ``/classify`` in a shadow phase: send the copy without waiting for it."""
        if response.status != 200 or split.canary is None:
            return
        if response.headers.get("Content-Encoding", "identity") != "identity":
            try:
                answer = zlib.decompress(answer, wbits=47)  # gzip or zlib, as the upstream chose
            except zlib.error:
                self.pairs.skipped.labels("failed").inc()
                return
        headers = {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}
        if len(self._tasks) >= split.max_in_flight:
            self.pairs.skipped.labels("busy").inc()
            return
        task = asyncio.create_task(self._send(session, split.canary, path, body, headers, answer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def labelled(self, body: bytes, status: int) -> None:
        """After the service accepted agents' labels (a refused body counts for nothing)."""
        if status != 200:
            return
        with contextlib.suppress(ValueError):
            self.pairs.feedback(json.loads(body))
