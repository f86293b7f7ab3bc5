"""Feedback export: new labels become a batch ingest accepts, and an export only takes what is new."""

import pandas as pd
from sqlalchemy import insert

from ticketops.data.ingest import FEEDBACK, ingest, read_csv_batch
from ticketops.retraining.export import export_feedback, feedback_batch
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
