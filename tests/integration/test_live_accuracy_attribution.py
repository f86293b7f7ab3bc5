"""Live accuracy through real replicas and a real Prometheus reads what each model got right on its own tickets.

Two `bentoml serve` replicas (a tfidf stable and a canary trained on a fifth of the data) behind the splitter,
scraped by the Prometheus the local stack runs. Tickets go through the splitter; their agents' labels follow
through the splitter too, so most labels reach the replica that did NOT answer the ticket (as in the demo).
Each version's live accuracy, read with the controller's own query, must sit within sampling noise of its
accuracy on the very tickets it answered (known here from the responses).
"""

from __future__ import annotations

import math
import random
import os
import time

import httpx
import pytest

from tests.helpers.tiny_model import register_tiny_model, tiny_frame, tiny_registry
from ticketops.processes import free_port
from ticketops.rollout.local.backend import LocalBackend
from ticketops.rollout.local.stack import LocalStack
from ticketops.rollout.promql import PromQL

pytestmark = pytest.mark.integration
MODEL = "ticket-classifier"
TICKETS = 360
CANARY_WEIGHT = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("attribution")
    registry = tiny_registry(root)
    register_tiny_model(registry, alias="champion")
    register_tiny_model(registry, alias=None, sample_fraction=0.2)
    local = LocalStack(root / "state", f"http://127.0.0.1:{free_port()}", free_port())
    try:
        local.up(f"models:/{MODEL}/1", "1")
        backend = LocalBackend(local)
        backend.deploy_canary(f"models:/{MODEL}/2", "2")
        backend.set_weight(CANARY_WEIGHT)
        yield local
    finally:
        local.down()
        os.environ.clear()
        os.environ.update(saved)


def disputed(stack: LocalStack) -> list[tuple[str, str]]:
    """The fixture tickets the two models answer differently (asked of each replica directly): on those, who
    gets the credit decides the reading, so a misattributed label cannot hide in agreement."""
    frame = tiny_frame()
    answers: dict[str, list[str]] = {"stable": [], "canary": []}
    for track, labels in answers.items():
        with httpx.Client(base_url=stack.record(track).url, timeout=30.0) as http:
            for start in range(0, len(frame), 16):
                texts = frame["text"].iloc[start : start + 16]
                tickets = [{"text": t, "id": f"probe-{track}-{start + i}"} for i, t in enumerate(texts)]
                body = http.post("/classify", json={"tickets": tickets}).json()
                labels.extend(p["label"] for p in body["predictions"])
    return [
        (text, label)
        for text, label, a, b in zip(frame["text"], frame["label"], answers["stable"], answers["canary"], strict=True)
        if a != b
    ]


def send(url: str, tickets: list[tuple[str, str]]) -> dict[str, list[bool]]:
    """Classify tickets one by one, then label every one; returns, per answering version, right or wrong."""
    rows = [tickets[i % len(tickets)] for i in range(TICKETS)]
    outcome: dict[str, list[bool]] = {}
    with httpx.Client(base_url=url, timeout=30.0) as http:
        for i, (text, label) in enumerate(rows):
            body = http.post("/classify", json={"tickets": [{"text": text, "id": f"a{i}"}]}).json()
            outcome.setdefault(body["model_version"], []).append(body["predictions"][0]["label"] == label)
        order = random.Random(0).sample(range(len(rows)), len(rows))  # labels arrive in their own order
        for i in order:
            text, label = rows[i]
            response = http.post("/feedback", json={"items": [{"id": f"a{i}", "text": text, "label": label}]})
            assert response.status_code == 200, response.text
    return outcome


def _checks():
    from ticketops.config import RolloutChecks

    return RolloutChecks(min_feedback=1)


def test_each_version_reads_its_own_accuracy(stack):
    tickets = disputed(stack)
    assert len(tickets) >= 5, tickets
    outcome = send(stack.splitter_url, tickets)
    assert set(outcome) == {"1", "2"}, outcome
    offline = {v: sum(o) / len(o) for v, o in outcome.items()}
    assert offline["1"] - offline["2"] > 0.2, offline  # a gap wide enough that misattribution shows
    prom = PromQL(stack.prometheus_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (prom.scalar("sum(ticketops_feedback_total)") or 0) >= TICKETS:
            break
        time.sleep(1)
    from ticketops.rollout.analysis import CanaryAnalysis

    read = CanaryAnalysis(prom, _checks()).live_accuracy(600, "2", "1")
    for version, live in (("2", read.canary), ("1", read.stable)):
        n = len(outcome[version])
        noise = 3 * math.sqrt(offline[version] * (1 - offline[version]) / n) + 1 / n
        assert live is not None and abs(live - offline[version]) <= noise, (
            f"v{version}: live {live} vs offline {offline[version]:.3f} on its {n} tickets (3 SE {noise:.3f}); "
            f"offline {offline}, read {read}"
        )
