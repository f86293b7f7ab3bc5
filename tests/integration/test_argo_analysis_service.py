"""The analysis service Argo calls, over HTTP, against a real Prometheus scraping the replicas' real metrics.

Stable (v1) and canary (v2) are the service's own ``ServiceMetrics`` registries and the mirror's ``ShadowPairs``,
served over HTTP and scraped every second by the Debian ``prometheus`` (as tests/integration/test_canary_checks.py
does). Why not ``bentoml serve`` replicas: a check passes only on the sample it plans for (params.yaml: ~770
requests per track for the error rate, ~4,700 labels per version for live accuracy), and a real replica cannot
be made to answer 5xx on purpose; the counts here are the ones a replica records, through the same series, the
same PromQL and the same checks the local controller runs.

Each test opens the windows first (Argo's first look at a step: nothing measured yet, so inconclusive, never a
pass), then lets traffic happen inside them and asks again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from pydantic import SecretStr

from tests.helpers.aiohttp_app import running_app
from tests.helpers.prometheus import start_prometheus, wait_for
from ticketops.config import load_params
from ticketops.processes import ManagedProcess, free_port
from ticketops.rollout.analysis import PHASE_CHECKS, CanaryAnalysis
from ticketops.rollout.argo.analysis_service import Judge, analysis_authorizer, build_app
from ticketops.rollout.argo.windows import Windows
from ticketops.rollout.local.shadow import ShadowPairs
from ticketops.rollout.promql import PromQL
from ticketops.serving.metrics import ServiceMetrics

pytestmark = pytest.mark.integration
INTENTS = [f"intent_{i}" for i in range(8)]
TOKEN = "analysis-token-5b1d9e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VERSIONS = {"stable": "1", "canary": "2"}
SCENARIOS: dict[str, dict] = {  # the canary's traffic in each scenario (stable's is always the same)
    "good": {},
    "errors": {"errors": 300},
    "reviews": {"canary_reviews": 0.7},
    "labels": {"canary_accuracy": 0.6},
}


@dataclass
class World:
    """One scenario's replicas, Prometheus and analysis service (each scenario counts from zero)."""

    metrics: dict[str, ServiceMetrics]
    shadow: ShadowPairs
    prometheus: ManagedProcess
    prom: PromQL
    http: httpx.Client  # the analysis service, with Argo's token


@contextmanager
def world_of(folder: Path) -> Iterator[World]:
    servers, targets, metrics = [], [], {}
    for track, version in VERSIONS.items():
        metrics[track] = ServiceMetrics(track)
        metrics[track].declare_labels(version, INTENTS, ["single"])
        port = free_port()
        servers.append(start_http_server(port, addr="127.0.0.1", registry=metrics[track].registry)[0])
        targets.append(f"127.0.0.1:{port}")
    shadow_registry = CollectorRegistry()
    shadow = ShadowPairs(shadow_registry)
    port = free_port()
    servers.append(start_http_server(port, addr="127.0.0.1", registry=shadow_registry)[0])
    targets.append(f"127.0.0.1:{port}")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "replicas", "static_configs": [{"targets": targets}]}],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    prom_port = free_port()
    prometheus = start_prometheus(folder, folder / "prometheus.yml", prom_port)
    prom = PromQL(f"http://127.0.0.1:{prom_port}", timeout=3)
    judge = Judge(CanaryAnalysis(prom, load_params().rollout.checks), Windows(folder / "state"), 0)
    try:
        with (
            running_app(build_app(judge, analysis_authorizer(SecretStr(TOKEN), "127.0.0.1"))) as url,
            httpx.Client(base_url=url, headers=AUTH, timeout=30) as http,
        ):
            yield World(metrics, shadow, prometheus, prom, http)
    finally:
        prometheus.stop()
        prom.close()
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> Iterator[dict[str, World]]:
    """Every scenario's world, started together: a fresh Prometheus scrapes its first targets ~5 s after it
    starts (its scrape manager applies target updates every 5 s), paid once here rather than per test."""
    with ExitStack() as stack:
        made = {name: stack.enter_context(world_of(tmp_path_factory.mktemp(name))) for name in SCENARIOS}
        for world in made.values():  # the declared series are scraped before any window opens
            wait_for(world.prom, "count(ticketops_predictions_total)", lambda s: bool(s) and s[0].value == 16, 60, "")
        for world in made.values():
            open_windows(world)
        time.sleep(2)
        for name, world in made.items():
            traffic(world, **SCENARIOS[name])
        for world in made.values():
            wait_scraped(world)
        time.sleep(2)  # each window holds scrapes on both sides of its traffic (a window of a few scrapes is noise)
        yield made


def ask(world: World, phase: str, check: str) -> dict:
    query = {"canary_version": "2", "stable_version": "1", "revision": "7d9f", "step": f"{phase}-step"}
    response = world.http.get(f"/v1/checks/{phase}/{check}", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["check"], body["phase"], body["canary_version"]) == (check, phase, "2"), body
    return body


def verdicts(world: World, phase: str) -> dict[str, str]:
    return {check: ask(world, phase, check)["verdict"] for check in PHASE_CHECKS[phase]}


def open_windows(world: World) -> None:
    """Argo's first look at each step: no traffic yet, so every check is inconclusive (never a pass)."""
    for phase in PHASE_CHECKS:
        assert set(verdicts(world, phase).values()) == {"inconclusive"}


def serve(world: World, track: str, requests: int, errors: int = 0, reviews: float = 0.3) -> None:
    """``requests`` /classify answered by one replica, ``errors`` of them 5xx; a share ``reviews`` of the
    answered tickets sent to review."""
    metrics, version = world.metrics[track], VERSIONS[track]
    for i in range(requests):
        metrics.observe_request("/classify", 500 if i < errors else 200, 0.05)
    n = requests - errors
    labels = [INTENTS[i % len(INTENTS)] for i in range(n)]
    metrics.observe_predictions(version, ["single"] * n, labels, [0.8] * n, [i < reviews * n for i in range(n)])


def label(world: World, track: str, n: int, accuracy: float) -> None:
    metrics, version = world.metrics[track], VERSIONS[track]
    for i in range(n):
        metrics.observe_feedback(version, i < accuracy * n, INTENTS[i % len(INTENTS)])


def mirror(world: World, n: int, agreement: float, challenger_right: float) -> None:
    """``n`` mirrored tickets, a share ``agreement`` answered alike; agents label every one, and on the
    disagreements the challenger is the one right on a share ``challenger_right``."""
    disagree = n - round(agreement * n)
    items = []
    for i in range(n):
        stable = INTENTS[i % len(INTENTS)]
        challenger = INTENTS[(i + 1) % len(INTENTS)] if i < disagree else stable
        world.shadow.record(
            {"predictions": [{"id": f"t{i}", "label": stable}]}, {"predictions": [{"label": challenger}]}
        )
        items.append({"id": f"t{i}", "label": challenger if i < challenger_right * disagree else stable})
    world.shadow.feedback({"items": items})


def traffic(world: World, errors: int = 15, canary_reviews: float = 0.3, canary_accuracy: float = 0.9) -> None:
    serve(world, "stable", 3000, errors=15)
    serve(world, "canary", 3000, errors=errors, reviews=canary_reviews)
    label(world, "stable", 9000, 0.9)
    label(world, "canary", 9000, canary_accuracy)
    mirror(world, 3000, agreement=0.9, challenger_right=0.5 if canary_accuracy >= 0.9 else 0.05)


def wait_scraped(world: World) -> None:
    for expr, value in (
        ("sum(ticketops_requests_total)", 6000),
        ("sum(ticketops_feedback_total)", 18000),
        ("sum(ticketops_shadow_labelled_total)", 3000),
    ):
        wait_for(world.prom, expr, lambda s, v=value: bool(s) and s[0].value == v, 30, "scraped")


def test_a_good_canary_passes_every_check_of_both_phases_and_a_missing_prometheus_is_inconclusive(worlds):
    world = worlds["good"]
    for phase in PHASE_CHECKS:
        answers = {check: ask(world, phase, check) for check in PHASE_CHECKS[phase]}
        assert {a["verdict"] for a in answers.values()} == {"pass"}, [
            a for a in answers.values() if a["verdict"] != "pass"
        ]
    body = ask(world, "canary", "live_accuracy")
    assert body["n"] >= body["needed"] and body["canary"] == pytest.approx(0.9, abs=0.01), body
    whole = world.http.get("/v1/analysis/shadow", params={"canary_version": "2", "stable_version": "1"}).json()
    assert whole["verdict"] == "inconclusive" and whole["step"] == "shadow", whole  # its own window: just opened
    world.prometheus.stop()
    for phase in PHASE_CHECKS:
        for check in PHASE_CHECKS[phase]:
            body = ask(world, phase, check)
            assert body["verdict"] == "inconclusive" and "unreachable" in body["detail"], body


def test_a_canary_answering_5xx_fails_the_error_rate_and_nothing_else(worlds):
    world = worlds["errors"]
    for phase in PHASE_CHECKS:
        found = verdicts(world, phase)
        assert found.pop("error_rate") == "fail" and set(found.values()) == {"pass"}, (phase, found)
    body = ask(world, "canary", "error_rate")
    assert body["canary"] == pytest.approx(0.1) and body["stable"] == pytest.approx(0.005), body


def test_a_canary_sending_far_more_tickets_to_review_fails_the_review_rate_and_nothing_else(worlds):
    world = worlds["reviews"]
    for phase in PHASE_CHECKS:
        found = verdicts(world, phase)
        assert found.pop("review_rate") == "fail" and set(found.values()) == {"pass"}, (phase, found)


def test_wrong_labels_fail_the_accuracy_checks_of_each_phase_and_nothing_else(worlds):
    world = worlds["labels"]
    canary = verdicts(world, "canary")
    assert canary.pop("live_accuracy") == "fail" and set(canary.values()) == {"pass"}, canary
    shadow = verdicts(world, "shadow")
    assert shadow.pop("shadow_accuracy") == "fail" and set(shadow.values()) == {"pass"}, shadow
    query = {"canary_version": "2", "stable_version": "1", "revision": "7d9f", "step": "canary-step"}
    whole = world.http.get("/v1/analysis/canary", params=query).json()
    assert whole["verdict"] == "fail" and "live_accuracy" in whole["detail"], whole
    assert {c["check"]: c["verdict"] for c in whole["checks"]}["live_accuracy"] == "fail", whole
