"""Canary checks through a real Prometheus that judge models rather than servers, against their noise: a canary
that learnt new intents is not failed for using them, nor one whose few feedback labels fall a little short.

Two ServiceMetrics registries (stable and canary tracks) are served over HTTP and scraped by the Debian
``prometheus``; the analysis reads them back with the same PromQL the rollout controller uses.
"""

from __future__ import annotations

import time

import pytest
import yaml
from prometheus_client import start_http_server

from tests.helpers.prometheus import start_prometheus
from ticketops.config import RolloutChecks
from ticketops.processes import free_port
from ticketops.rollout.analysis import CanaryAnalysis, Verdict, accuracy_noise, new_intent_share
from ticketops.rollout.promql import PromQL
from ticketops.serving.metrics import ServiceMetrics

OLD = [f"intent_{i}" for i in range(8)]
NEW = ["virtual_card_not_working", "get_disposable_virtual_card"]
WINDOW_S = 30


def test_new_intent_share_counts_only_intents_stable_cannot_predict():
    stable = {"a": 10.0, "b": 0.0}  # b: declared by the stable replica, predicted 0 times in the window
    assert new_intent_share({"a": 6.0, "b": 2.0, "new": 2.0}, stable) == pytest.approx(0.2)
    assert new_intent_share({"a": 5.0, "b": 5.0}, stable) == 0.0
    assert new_intent_share({}, stable) == 0.0


def test_accuracy_noise_shrinks_with_labels():
    few, many = accuracy_noise(0.74, 27, 0.86, 300), accuracy_noise(0.74, 2700, 0.86, 30000)
    assert 0.1 < few < 0.15 and many < 0.02  # 27 labels: a 12-point gap is chance; 2,700: it is not


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
        yield metrics, PromQL(f"http://127.0.0.1:{port}")
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


def test_divergence_allows_the_share_on_learnt_intents_but_not_more(tracks):
    metrics, prom = tracks
    analysis = CanaryAnalysis(prom, RolloutChecks(max_prediction_divergence=0.1))
    time.sleep(3)  # every declared series is scraped at 0 before the window's traffic
    # Same traffic on both tracks: 30% of it is about virtual cards. Stable spreads those tickets over two old
    # intents; the canary names them. Total variation 0.3, all of it on intents stable cannot predict.
    steady = {label: 70 for label in OLD}
    predict(metrics["stable"], "1", {**steady, OLD[0]: 70 + 120, OLD[1]: 70 + 120})
    predict(metrics["canary"], "2", {**steady, NEW[0]: 120, NEW[1]: 120})
    wait_scraped(prom, 2 * 800)
    learnt = analysis.divergence(WINDOW_S)
    assert learnt.verdict is Verdict.PASS, learnt
    assert "on intents stable cannot predict" in learnt.detail and learnt.canary == pytest.approx(0.3)

    # The same canary collapsing onto one old intent diverges far beyond what its new intents explain.
    predict(metrics["canary"], "2", {OLD[2]: 3000})
    predict(metrics["stable"], "1", steady)
    wait_scraped(prom, 2 * 800 + 3000 + 560)
    collapsed = analysis.divergence(WINDOW_S)
    assert collapsed.verdict is Verdict.FAIL, collapsed


def label(metrics: ServiceMetrics, version: str, correct: int, wrong: int) -> None:
    for outcome, n in ((True, correct), (False, wrong)):
        for _ in range(n):
            metrics.observe_feedback(version, outcome)


def test_live_accuracy_fails_only_a_drop_beyond_sampling_noise(tracks):
    metrics, prom = tracks
    analysis = CanaryAnalysis(prom, RolloutChecks(max_accuracy_drop=0.03, min_feedback=20))
    # A step's worth of labels: the canary 20 of 27 right, stable 257 of 300 (74% vs 86%).
    label(metrics["canary"], "2", 20, 7)
    label(metrics["stable"], "1", 257, 43)
    wait_scraped(prom, 327, "sum(ticketops_feedback_total)")
    few = analysis.live_accuracy(WINDOW_S, "2", "1")
    assert few.verdict is Verdict.PASS and "sampling noise" in few.detail, few
    # Ten times the labels at the same rates: now the drop is real.
    label(metrics["canary"], "2", 180, 63)
    label(metrics["stable"], "1", 2313, 387)
    wait_scraped(prom, 3270, "sum(ticketops_feedback_total)")
    many = analysis.live_accuracy(WINDOW_S, "2", "1")
    assert many.verdict is Verdict.FAIL, many
