"""Canary measurements through a real Prometheus: what the checks judge is what the replicas counted, on the
intents both models can predict, including series born inside the window.

Two ServiceMetrics registries (stable and canary tracks) and a splitter's shadow registry are served over HTTP
and scraped by the Debian ``prometheus``; the analysis reads them back with the same PromQL the rollout
controller uses, and the checks of rollout/checks.py judge them.
"""

from __future__ import annotations

import time

import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from tests.helpers.prometheus import start_prometheus
from ticketops.config import RolloutChecks
from ticketops.processes import free_port
from ticketops.rollout import checks as C
from ticketops.rollout.analysis import CanaryAnalysis, Verdict
from ticketops.rollout.local.shadow import ShadowPairs
from ticketops.rollout.promql import PromQL
from ticketops.serving.metrics import ServiceMetrics

OLD = [f"intent_{i}" for i in range(8)]
NEW = ["virtual_card_not_working", "get_disposable_virtual_card"]
WINDOW_S = 30


def predict(metrics: ServiceMetrics, version: str, counts: dict[str, int]) -> None:
    labels = [label for label, n in counts.items() for _ in range(n)]
    n = len(labels)
    metrics.observe_predictions(version, ["single"] * n, labels, [0.9] * n, [False] * n)


@pytest.fixture
def tracks(tmp_path):
    """Stable (v1, the old intents) and canary (v2, old + new intents) replicas' metrics, scraped every second."""
    servers, ports, metrics = [], {}, {}
    for track, version, known in (("stable", "1", OLD), ("canary", "2", OLD + NEW)):
        metrics[track] = ServiceMetrics(track)
        metrics[track].declare_labels(version, known, ["single"])
        ports[track] = free_port()
        servers.append(start_http_server(ports[track], addr="127.0.0.1", registry=metrics[track].registry)[0])
    shadow_registry = CollectorRegistry()
    metrics["shadow"] = ShadowPairs(shadow_registry)
    ports["shadow"] = free_port()
    servers.append(start_http_server(ports["shadow"], addr="127.0.0.1", registry=shadow_registry)[0])
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": f"ticketops-{track}", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for track, port in ports.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    prometheus = start_prometheus(tmp_path, tmp_path / "prometheus.yml", port)
    try:
        prom = PromQL(f"http://127.0.0.1:{port}")
        # Every target scraped once, so the declared series exist before any count (Prometheus hands new
        # targets to its scrapers in batches: a fixed sleep was once too short for the stable job).
        wait_scraped(prom, len(ports), "count(up == 1)")
        wait_scraped(prom, len(OLD), 'count(ticketops_predictions_total{model_version="1"})')
        wait_scraped(prom, len(OLD + NEW), 'count(ticketops_predictions_total{model_version="2"})')
        yield metrics, prom
    finally:
        prometheus.stop()
        for server in servers:
            server.shutdown()
            server.server_close()


def wait_scraped(prom: PromQL, expected: float, expr: str = "sum(ticketops_predictions_total)") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if prom.scalar(expr) == expected:
            return
        time.sleep(0.5)
    pytest.fail(f"Prometheus never saw {expr} == {expected}")


def label(metrics: ServiceMetrics, version: str, true_label: str, correct: int, wrong: int) -> None:
    for outcome, n in ((True, correct), (False, wrong)):
        for _ in range(n):
            metrics.observe_feedback(version, outcome, true_label)


def test_live_accuracy_counts_only_intents_both_models_know_and_judges_them(tracks):
    metrics, prom = tracks
    analysis = CanaryAnalysis(prom, RolloutChecks())
    # Labels on a new intent: the canary (v2) knows it, stable cannot; they must not count for either.
    label(metrics["canary"], "1", NEW[0], 0, 40)  # stable's answers judged on the canary replica: all wrong
    label(metrics["stable"], "2", NEW[0], 40, 0)
    # On old intents: canary 180 of 300 right, stable 2,400 of 2,700 (60% vs 89%).
    label(metrics["canary"], "2", OLD[0], 180, 120)
    label(metrics["stable"], "1", OLD[1], 2400, 300)
    wait_scraped(prom, 3080, "sum(ticketops_feedback_total)")
    counts = analysis.feedback(WINDOW_S, "2", "1")
    assert (counts.canary_hits, counts.canary_n, counts.stable_hits, counts.stable_n) == (120, 300, 300, 2700)
    result = C.live_accuracy(counts, RolloutChecks())
    assert result.verdict is Verdict.FAIL and result.canary == pytest.approx(0.6), result


def test_review_rate_of_series_born_inside_the_window_counts_every_prediction(tracks):
    metrics, prom = tracks
    analysis = CanaryAnalysis(prom, RolloutChecks())
    predict(metrics["stable"], "1", {label: 100 for label in OLD})
    # the canary's first predictions of a label create no new series (declared at load), but its review
    # counter is born with them; every prediction and review must count
    n = 400
    metrics["canary"].observe_predictions(
        "2", ["single"] * n, [NEW[1]] * n, [0.3] * n, [True] * (n // 2) + [False] * (n // 2)
    )
    wait_scraped(prom, 800 + n)
    reviews = analysis.reviews(WINDOW_S)
    assert (reviews.canary_hits, reviews.canary_n, reviews.stable_n) == (n // 2, n, 800), reviews
    assert C.review_rate(reviews, RolloutChecks()).verdict is Verdict.FAIL


def test_shadow_pairs_leave_out_what_only_the_challenger_can_know(tracks):
    metrics, prom = tracks
    analysis = CanaryAnalysis(prom, RolloutChecks())
    shadow: ShadowPairs = metrics["shadow"]
    answers = []
    for i in range(200):  # 150 agree, 30 disagree on old intents, 20 where the challenger names a new intent
        stable_label = OLD[i % len(OLD)]
        challenger = stable_label if i < 150 else (OLD[(i + 1) % len(OLD)] if i < 180 else NEW[0])
        answers.append((f"t{i}", stable_label, challenger))
        shadow.record(
            {"predictions": [{"id": f"t{i}", "label": stable_label}]}, {"predictions": [{"label": challenger}]}
        )
    # agents label the 30 old-intent disagreements: stable right on 25, the challenger on 5; and 20 new-intent ones
    items = [{"id": t, "label": s if int(t[1:]) < 175 else c} for t, s, c in answers[150:180]]
    items += [{"id": t, "label": c} for t, _, c in answers[180:]]
    shadow.feedback({"items": items})
    shadow.feedback({"items": items})  # a label sent twice counts once
    wait_scraped(prom, 200, "sum(ticketops_shadow_pairs_total)")
    wait_scraped(prom, 50, "sum(ticketops_shadow_labelled_total)")
    pairs = analysis.pairs(WINDOW_S, "1")
    assert (pairs.pairs, pairs.disagree, pairs.learnt) == (180, 30, 20), pairs
    assert (pairs.labelled, pairs.b, pairs.c) == (30, 25, 5), pairs
