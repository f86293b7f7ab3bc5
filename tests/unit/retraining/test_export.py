"""Feedback export: new labels become a batch ingest accepts; the webhook retrains once per burst of alerts."""

import threading
import time

import pandas as pd
from sqlalchemy import insert

from ticketops.data.ingest import FEEDBACK, ingest, read_csv_batch
from ticketops.retraining.export import export_feedback, feedback_batch
from ticketops.retraining.webhook import RetrainTrigger
from ticketops.serving.log_schema import metadata, predictions
from ticketops.serving.prediction_log import make_engine

LABELS = {"card_arrival", "change_pin", "terminate_account"}


def test_batch_keeps_new_and_held_out_texts_and_skips_the_rest():
    dataset = pd.DataFrame(
        {
            "text": ["where is my card", "change pin", "a test ticket", "held out pin ticket"],
            "label": ["card_arrival", "change_pin", "card_arrival", "change_pin"],
        }
    )
    trained = dataset.iloc[:2]
    labelled = pd.DataFrame(
        {
            "text": [
                "where is my card",
                "change pin",
                "close it all",
                "no idea",
                "   ",
                "a test ticket",
                "held out pin ticket",
            ],
            "label": [
                "card_arrival",
                "terminate_account",
                "terminate_account",
                "not_a_label",
                "change_pin",
                "card_arrival",
                "change_pin",
            ],
        }
    )
    batch, skipped = feedback_batch(labelled, dataset, trained, {"a test ticket"}, LABELS)
    assert batch["text"].tolist() == ["close it all", "held out pin ticket"]
    assert skipped == {"known": 1, "conflicts": 1, "test": 1}


def test_export_writes_a_batch_ingest_accepts_and_remembers_where_it_stopped(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    row = {
        "label": "card_arrival",
        "confidence": 0.5,
        "needs_review": True,
        "model_version": "1",
        "stage": "single",
        "latency_ms": 1.0,
        "created_at": 1.0,
    }
    with engine.begin() as connection:
        connection.execute(
            insert(predictions),
            [
                {
                    **row,
                    "ticket_id": "a",
                    "text": "I want to close my account",
                    "true_label": "terminate_account",
                    "feedback_at": 10.0,
                },
                {**row, "ticket_id": "b", "text": "my pin please", "true_label": None, "feedback_at": None},
            ],
        )
    dataset = tmp_path / "dataset.csv"
    pd.DataFrame({"text": ["where is my card"], "label": ["card_arrival"]}).to_csv(dataset, index=False)
    marker = tmp_path / "state" / "export.json"
    first = export_feedback(url, tmp_path / "feedback", dataset, tmp_path / "splits", LABELS, marker)
    assert first.rows == 1 and first.path is not None
    batch = read_csv_batch(first.path, "text", "label", first.path.name, FEEDBACK)
    seed = read_csv_batch(dataset, "text", "label", "dataset.csv", "seed")
    assert len(ingest(seed, [batch], sorted(LABELS))) == 2
    again = export_feedback(url, tmp_path / "feedback", dataset, tmp_path / "splits", LABELS, marker)
    assert again.rows == 0 and again.path is None  # nothing new since the last export


def firing(name: str) -> dict:
    return {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": name}}]}


def test_webhook_retrains_once_per_burst_and_ignores_other_alerts():
    release = threading.Event()
    calls = []

    def on_alert(names):
        calls.append(names)
        release.wait(5)
        return "ok"

    trigger = RetrainTrigger(on_alert)
    assert trigger.receive(firing("HighLatency")) is False
    assert trigger.receive(firing("TicketDriftDetected")) is True
    assert trigger.receive(firing("TicketDriftDetected")) is True  # while running: remembered, not queued twice
    assert trigger.receive(firing("TicketDriftDetected")) is True
    release.set()
    deadline = time.monotonic() + 5
    while trigger.state.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) == 2 and trigger.state.triggered == 2 and trigger.state.last_result == "ok"


def test_each_retraining_the_webhook_starts_or_loses_is_an_audit_event(tmp_path):
    from ticketops.audit import AuditTrail

    trail = AuditTrail(f"sqlite:///{tmp_path / 'log.db'}")
    outcomes = iter(["ok", RuntimeError("dvc repro failed")])

    def on_alert(names):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    trigger = RetrainTrigger(on_alert, record=trail.record)
    for _ in range(2):
        assert trigger.receive(firing("TicketDriftDetected")) is True
        deadline = time.monotonic() + 5
        while trigger.state.running and time.monotonic() < deadline:
            time.sleep(0.02)
    events = list(reversed(trail.events(limit=0)))
    assert [(e.actor, e.action) for e in events] == [
        ("retrain-webhook", "retrain.triggered"),
        ("retrain-webhook", "retrain.triggered"),
        ("retrain-webhook", "retrain.failed"),
    ]
    assert events[0].details["alerts"] == ["TicketDriftDetected"] and "dvc repro failed" in events[2].details["error"]
