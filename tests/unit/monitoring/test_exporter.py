"""The monitor's gauges and its stored verdicts."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from ticketops.monitoring.exporter import MonitorMetrics
from ticketops.monitoring.signals import DriftVerdict, SignalResult, not_enough_data
from ticketops.monitoring.store import latest_verdict, save_window


def verdict(drift: bool) -> DriftVerdict:
    prediction = SignalResult(
        "prediction", "drift" if drift else "ok", "chisquare", 500, 967, 100, 100, False, score=1e-9, threshold=1e-4
    )
    review = SignalResult(
        "review_rate",
        "ok",
        "z",
        500,
        967,
        50,
        50,
        False,
        score=0.4,
        threshold=1e-3,
        current_value=0.2,
        reference_value=0.13,
    )
    accuracy = not_enough_data("live_accuracy", "accuracy_drop", 20, 967, 100, 100, True)
    signals = {"prediction": prediction, "review_rate": review, "live_accuracy": accuracy}
    return DriftVerdict(signals, {"size": 500, "labelled": 20}, {"size": 967}, checked_at=1_700_000_000.5)


def samples(metrics: MonitorMetrics) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_gauges_follow_the_latest_verdict():
    metrics = MonitorMetrics()
    metrics.record(verdict(drift=True))
    got = samples(metrics)
    assert got[("ticketops_drift_detected", (("signal", "prediction"),))] == 1
    assert got[("ticketops_drift_detected", (("signal", "overall"),))] == 1
    assert got[("ticketops_drift_score", (("signal", "prediction"),))] == 1e-9
    assert got[("ticketops_drift_value", (("sample", "current"), ("signal", "review_rate")))] == 0.2
    assert got[("ticketops_drift_enough_data", (("signal", "live_accuracy"),))] == 0
    assert ("ticketops_drift_score", (("signal", "live_accuracy"),)) not in got  # no data, no score
    assert got[("ticketops_drift_window_size", ())] == 500

    metrics.record(verdict(drift=False))
    got = samples(metrics)
    assert got[("ticketops_drift_detected", (("signal", "overall"),))] == 0
    assert got[("ticketops_drift_detected", (("signal", "prediction"),))] == 0


def test_verdict_json_has_the_contract_shape_and_round_trips(tmp_path):
    v = verdict(drift=True)
    data = v.to_dict()
    assert data["drift_detected"] is True and data["drifted"] == ["prediction"]
    for name in ("prediction", "review_rate", "live_accuracy"):
        assert data[name]["name"] == name
    assert data["live_accuracy"]["status"] == "not_enough_data"
    json.dumps(data)  # plain JSON
    folder = save_window(tmp_path, v, snapshot=None)
    assert (folder / "verdict.json").exists()
    again = latest_verdict(tmp_path)
    assert again is not None and again.to_dict() == data
    assert latest_verdict(tmp_path / "elsewhere") is None


def test_old_windows_are_pruned(tmp_path):
    from dataclasses import replace

    v = verdict(drift=False)
    for i in range(5):
        save_window(tmp_path, replace(v, checked_at=1_700_000_000 + i), snapshot=None, keep=3)
    kept = sorted(p.name for p in (tmp_path / "windows").iterdir())
    assert len(kept) == 3 and kept[-1].startswith("20231114T221324")
