"""The cascade's slow-stage share as a drift signal: read from the log's stage column, judged against the
reference routed by the cascade's fast stage, with a minimum sample size; absent for other families."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.helpers.tiny_model import register_tiny_model, tiny_registry
from ticketops.config import load_params
from ticketops.modeling.classifiers import CascadeClassifier
from ticketops.monitoring.check import check_drift
from ticketops.monitoring.exporter import MonitorMetrics
from ticketops.monitoring.log_reader import read_log_window
from ticketops.monitoring.reference import load_reference
from ticketops.monitoring.signals import DRIFT, NOT_ENOUGH_DATA, OK, DriftVerdict, SignalResult
from ticketops.monitoring.thresholds import two_proportion_p_value
from ticketops.monitoring.windows import make_window
from ticketops.serving.prediction_log import LogRow, PredictionLog

OFF = 10**9  # a minimum no window reaches: keeps the other signals (and their Evidently work) out of these tests


@pytest.fixture(scope="module")
def params():
    monitor = load_params().monitor
    off = {
        name: getattr(monitor, name).model_copy(update={"min_current": OFF})
        for name in ("text", "embedding", "prediction", "confidence", "review_rate", "live_accuracy")
    }
    return monitor.model_copy(update=off)


def routed_window(n: int, slow_share: float, seed: int, stage_names=("fast", "slow")):
    rng = np.random.default_rng(seed)
    slow = rng.random(n) < slow_share
    stages = [stage_names[1] if s else stage_names[0] for s in slow]
    return make_window(
        [f"ticket {i}" for i in range(n)], ["card_arrival"] * n, [0.9] * n, [False] * n, None, "4", stage=stages
    )


def test_p_value_is_one_for_equal_shares_and_tiny_for_a_big_shift():
    assert two_proportion_p_value(0.17, 500, 0.17, 1000) == 1.0
    assert two_proportion_p_value(0.35, 500, 0.17, 1000) < 1e-12
    # pooled share 0.18, spread sqrt(0.18 * 0.82 * (1/500 + 1/1000)) = 0.02104, z = 1.4257 -> two-sided 0.1540
    assert two_proportion_p_value(0.20, 500, 0.17, 1000) == pytest.approx(0.1540, abs=1e-4)
    assert two_proportion_p_value(0.20, 500, 0.17, 1000) == two_proportion_p_value(0.17, 1000, 0.20, 500)


def test_steady_routing_is_ok_and_more_unsure_tickets_are_drift(params):
    reference = routed_window(1000, 0.17, 1)
    steady = check_drift(reference, routed_window(500, 0.17, 2), params).verdict.signals["slow_share"]
    assert steady.status == OK and steady.score > params.slow_share.threshold
    drifted = check_drift(reference, routed_window(500, 0.35, 3), params).verdict
    result = drifted.signals["slow_share"]
    assert result.status == DRIFT and drifted.drift_detected and drifted.drifted == ["slow_share"]
    assert result.current_value == pytest.approx(0.35, abs=0.05)
    assert result.reference_value == pytest.approx(reference.frame["stage"].eq("slow").mean())
    assert result.n_current == 500 and result.n_reference == 1000


def test_too_few_routed_tickets_is_not_enough_data(params):
    small = params.slow_share.min_current - 1
    result = check_drift(routed_window(1000, 0.17, 1), routed_window(small, 0.9, 4), params).verdict
    assert result.signals["slow_share"].status == NOT_ENOUGH_DATA and not result.drift_detected


def test_a_model_that_is_no_cascade_has_no_slow_share_signal(params):
    single = routed_window(1000, 0.5, 1, stage_names=("single", "single"))
    verdict = check_drift(single, routed_window(500, 0.9, 5), params).verdict
    assert "slow_share" not in verdict.signals


def test_the_log_window_carries_each_ticket_stage(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.start()
    now = time.time()
    stages = ["fast", "slow", "fast", "single"]
    rows = [LogRow(f"t{i}", "my card", "card_arrival", 0.9, False, "4", s, 3.0, now + i) for i, s in enumerate(stages)]
    log.submit(rows)
    assert log.close()
    window = read_log_window(f"sqlite:///{tmp_path / 'log.db'}", 10, 3600, now=now + 10)
    assert window.frame["stage"].tolist() == stages


def test_a_cascade_reference_is_routed_by_its_fast_stage(tmp_path, monkeypatch):
    registry = tiny_registry(tmp_path)
    for key, value in registry.env.items():
        monkeypatch.setenv(key, value)
    register_tiny_model(registry, family="cascade", fast_share=0.5)
    reference = load_reference("models:/ticket-classifier@champion", threads=1, embed=False)
    from ticketops.registry.loading import open_model

    with open_model("models:/ticket-classifier@champion", threads=1) as model:
        cascade = model.predictor.classifier
        assert isinstance(cascade, CascadeClassifier)
        answered = cascade.route(cascade.fast.predict_proba(reference.window.frame["text"].tolist()))
    expected = np.where(answered, "fast", "slow").tolist()
    assert reference.window.frame["stage"].tolist() == expected
    assert {"fast", "slow"} <= set(expected)


def test_the_drift_gauge_of_a_signal_that_stopped_judging_goes_back_to_zero():
    metrics = MonitorMetrics()

    def detected() -> float:
        text = metrics.exposition().decode()
        line = next(ln for ln in text.splitlines() if ln.startswith('ticketops_drift_detected{signal="slow_share"}'))
        return float(line.rsplit(" ", 1)[1])

    assert detected() == 0.0
    drift = SignalResult("slow_share", DRIFT, "z", 500, 1000, 200, 200, False, score=1e-9, threshold=1e-3)
    metrics.record(DriftVerdict({"slow_share": drift}, {"size": 500}))
    assert detected() == 1.0
    metrics.record(DriftVerdict({}, {"size": 500}))  # the champion is no cascade any more
    assert detected() == 0.0
