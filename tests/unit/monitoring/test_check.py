"""The drift check on a real model, real MiniLM embeddings and Evidently: quiet on steady traffic, loud on drift.

Windows of 300 tickets against a 306-ticket reference (the thresholds scale with the sizes); seeds are fixed,
so every verdict here is reproducible.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.monitoring.conftest import scored, traffic
from ticketops.monitoring.check import check_drift
from ticketops.monitoring.signals import SIGNALS


def test_steady_traffic_is_quiet_and_every_signal_judges(drift_model, reference, monitor_params):
    result = check_drift(reference.window, scored(reference, traffic(drift_model, "steady", 300, 1)), monitor_params)
    verdict = result.verdict
    assert list(verdict.signals) == list(SIGNALS)
    assert all(r.enough_data for r in verdict.signals.values()), verdict.to_dict()
    assert not verdict.drift_detected, verdict.to_dict()


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [("surge", {"prediction"}), ("new-intent", {"prediction", "embedding", "live_accuracy"})],
)
def test_drift_is_detected_by_the_signals_that_should_see_it(
    drift_model, reference, monitor_params, scenario, expected
):
    window = scored(reference, traffic(drift_model, scenario, 300, 2, mixture=0.3))
    verdict = check_drift(reference.window, window, monitor_params).verdict
    assert verdict.drift_detected
    assert expected <= set(verdict.drifted), verdict.to_dict()


def test_noisy_text_is_detected(drift_model, reference, monitor_params):
    window = scored(reference, traffic(drift_model, "noisy-text", 300, 3, mixture=0.5))
    verdict = check_drift(reference.window, window, monitor_params).verdict
    assert verdict.drift_detected, verdict.to_dict()


def test_wrong_feedback_drops_live_accuracy(drift_model, reference, monitor_params):
    frame = traffic(drift_model, "steady", 300, 4, feedback=0.6)
    labelled = frame["label"] != ""
    frame.loc[labelled, "label"] = np.roll(frame.loc[labelled, "label"].to_numpy(), 1)  # agents disagree
    result = check_drift(reference.window, scored(reference, frame), monitor_params).verdict.signals["live_accuracy"]
    assert result.drift_detected
    assert result.current_value < result.reference_value - 0.3


def test_small_windows_say_not_enough_data(drift_model, reference, monitor_params):
    window = scored(reference, traffic(drift_model, "new-intent", 30, 5, mixture=1.0))
    result = check_drift(reference.window, window, monitor_params)
    assert not result.verdict.drift_detected
    assert {r.status for r in result.verdict.signals.values()} == {"not_enough_data"}
    assert result.snapshot is not None  # the descriptive metrics are still reported


def test_snapshot_holds_every_signal_and_reloads(drift_model, reference, monitor_params, tmp_path):
    from evidently.core.report import Snapshot

    result = check_drift(reference.window, scored(reference, traffic(drift_model, "surge", 200, 6)), monitor_params)
    names = {m["config"]["type"].rsplit(":", 1)[-1] for m in result.snapshot.dict()["metrics"]}
    assert {"ValueDrift", "EmbeddingMMDDrift", "MeanValue", "UniqueValueCount", "RowCount"} <= names
    result.snapshot.save_html(str(tmp_path / "report.html"))
    assert "Embedding drift" in (tmp_path / "report.html").read_text()
    again = Snapshot.loads(result.snapshot.dumps())
    assert len(again.dict()["metrics"]) == len(result.snapshot.dict()["metrics"])


def test_embedding_signal_judges_its_sample(drift_model, reference, monitor_params):
    from ticketops.monitoring.windows import scored_window, with_embeddings

    frame = traffic(drift_model, "new-intent", 300, 7, mixture=0.4)
    window = with_embeddings(scored_window(frame, reference.score, reference.version), reference.embedder, 150)
    result = check_drift(reference.window, window, monitor_params).verdict.signals["embedding"]
    assert result.n_current == 150 and result.n_reference == len(reference.window)
    assert result.drift_detected
