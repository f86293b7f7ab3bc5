"""Live accuracy through real replicas and a real Prometheus reads what each model got right on its own tickets.

Two `bentoml serve` replicas (a tfidf stable and a canary trained on a fifth of the data) behind the splitter,
scraped by the Prometheus the local stack runs. Tickets go through the splitter; their agents' labels follow
through the splitter too, so most labels reach the replica that did NOT answer the ticket (as in the demo).
Each version's live accuracy, read with the controller's own query, must sit within sampling noise of its
accuracy on the very tickets it answered (known here from the responses).
"""

from __future__ import annotations

import math
import os
import random
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


SENT = {"labels": 0}  # labels sent by this module's tests so far


def wait_value(prom: PromQL, expr: str, value: float, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (prom.scalar(expr) or 0.0) == value:
            return True
        time.sleep(0.5)
    return False


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


def send(url: str, tickets: list[tuple[str, str]], known: set[str] | None = None) -> dict[str, list[bool]]:
    """Classify tickets one by one, then label every one; returns, per answering version, right or wrong (on
    tickets whose true label is in ``known``, when given: what live accuracy compares)."""
    rows = [tickets[i % len(tickets)] for i in range(TICKETS)]
    outcome: dict[str, list[bool]] = {}
    with httpx.Client(base_url=url, timeout=30.0) as http:
        for i, (text, label) in enumerate(rows):
            body = http.post("/classify", json={"tickets": [{"text": text, "id": f"a{i}"}]}).json()
            if known is None or label in known:
                outcome.setdefault(body["model_version"], []).append(body["predictions"][0]["label"] == label)
        order = random.Random(0).sample(range(len(rows)), len(rows))  # labels arrive in their own order
        for i in order:
            text, label = rows[i]
            response = http.post("/feedback", json={"items": [{"id": f"a{i}", "text": text, "label": label}]})
            assert response.status_code == 200, response.text
            SENT["labels"] += 1
    return outcome


def test_each_version_reads_its_own_accuracy(stack):
    from ticketops.config import RolloutChecks
    from ticketops.rollout.analysis import CanaryAnalysis

    prom = PromQL(stack.prometheus_url)
    analysis = CanaryAnalysis(prom, RolloutChecks())
    tickets = disputed(stack)
    assert len(tickets) >= 5, tickets
    deadline = time.monotonic() + 30
    while not (known := analysis.known_labels("1") & analysis.known_labels("2")) and time.monotonic() < deadline:
        time.sleep(1)  # until Prometheus has scraped both replicas' declared series
    assert known, prom.query("count by (model_version, track) (ticketops_predictions_total)")
    outcome = send(stack.splitter_url, tickets, known)
    assert set(outcome) == {"1", "2"}, outcome
    offline = {v: sum(o) / len(o) for v, o in outcome.items()}
    assert offline["1"] - offline["2"] > 0.2, offline  # a gap wide enough that misattribution shows
    assert wait_value(prom, "sum(ticketops_feedback_total)", SENT["labels"])
    counts = analysis.feedback(600, "2", "1")
    read = {"2": 1 - counts.canary_hits / counts.canary_n, "1": 1 - counts.stable_hits / counts.stable_n}
    assert (counts.canary_n, counts.stable_n) == (len(outcome["2"]), len(outcome["1"])), counts
    for version, live in read.items():
        n = len(outcome[version])
        noise = 3 * math.sqrt(offline[version] * (1 - offline[version]) / n) + 1 / n
        assert live is not None and abs(live - offline[version]) <= noise, (
            f"v{version}: live {live} vs offline {offline[version]:.3f} on its {n} tickets (3 SE {noise:.3f}); "
            f"offline {offline}, read {read}"
        )


def test_shadow_mirrors_every_ticket_without_answering_with_the_challenger(stack):
    """Shadow on real replicas: clients only ever get stable's answers; the challenger answers copies that it
    does not log (stable keeps every label); the splitter's pairs say how often the two agree and, on
    labelled tickets, who was right; the paired check fails a challenger this much worse."""
    from ticketops.config import RolloutChecks
    from ticketops.rollout import checks as C
    from ticketops.rollout.analysis import SHADOW, CanaryAnalysis
    from ticketops.rollout.checks import Verdict

    LocalBackend(stack).set_shadow()
    tickets = disputed(stack)
    prom = PromQL(stack.prometheus_url)
    settled = wait_value(prom, "sum(ticketops_feedback_total)", SENT["labels"])
    before = {v: prom.scalar(f'sum(ticketops_feedback_total{{model_version="{v}"}})') or 0.0 for v in "12"}
    assert settled, "labels of earlier tests never all counted"
    started = time.time()
    outcome = send(stack.splitter_url, tickets)
    assert set(outcome) == {"1"}, "a client got the challenger's answer in the shadow phase"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        labelled = prom.scalar("sum(ticketops_shadow_labelled_total)") or 0.0
        skipped = prom.scalar("sum(ticketops_shadow_skipped_total)") or 0.0
        if labelled + skipped >= TICKETS and wait_value(prom, "sum(ticketops_feedback_total)", SENT["labels"], 1):
            break
        time.sleep(1)
    after = {v: prom.scalar(f'sum(ticketops_feedback_total{{model_version="{v}"}})') or 0.0 for v in "12"}
    # every label joined to stable's row: the challenger logged no copy of the mirrored tickets
    assert (after["1"] - before["1"], after["2"] - before["2"]) == (TICKETS, 0), (before, after)
    analysis = CanaryAnalysis(prom, RolloutChecks())
    pairs = analysis.pairs(int(time.time() - started) + 5, "1")
    assert pairs.pairs >= 0.8 * TICKETS and pairs.labelled >= 0.8 * TICKETS, pairs  # a few may be skipped (busy)
    assert pairs.pairs - pairs.disagree == 0, pairs  # on these tickets the two never agree (how they were chosen)
    stable_right = sum(outcome["1"]) / len(outcome["1"])
    assert pairs.b / pairs.labelled == pytest.approx(stable_right, abs=0.1), (pairs, stable_right)
    result = C.shadow_accuracy(pairs, RolloutChecks())
    assert result.verdict is Verdict.FAIL, result
    full = analysis.run(int(time.time() - started) + 5, "2", "1", SHADOW)
    assert full.verdict is Verdict.FAIL and full.phase == SHADOW, full.as_dict()
