"""Windows from CSV layouts and from the prediction log the service writes."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from sqlalchemy import insert

from ticketops.monitoring.log_reader import read_log_window, window_span
from ticketops.monitoring.windows import frame_window, has_predictions, make_window, reference_window


def test_reference_csv_layout_keeps_truth_apart_from_predictions():
    frame = pd.DataFrame(
        {
            "text": ["a", "b"],
            "label": ["x", ""],
            "predicted": ["x", "y"],
            "confidence": ["0.9", "0.4"],
            "needs_review": ["False", "True"],
        }
    )
    window = frame_window(frame, "3")
    assert window.frame["predicted"].tolist() == ["x", "y"]
    assert window.frame["true_label"].tolist() == ["x", None]  # an empty cell is no label
    assert window.frame["needs_review"].tolist() == [False, True]
    assert window.labelled == 1
    assert reference_window(frame, "3").frame["model_version"].tolist() == ["3", "3"]


def test_predict_output_layout_reads_label_as_the_prediction():
    frame = pd.DataFrame({"text": ["a"], "label": ["x"], "confidence": ["0.7"], "needs_review": ["false"]})
    assert has_predictions(frame)
    window = frame_window(frame, None)
    assert window.frame["predicted"].tolist() == ["x"]
    assert window.labelled == 0
    assert not has_predictions(pd.DataFrame({"text": ["a"], "label": ["x"]}))


def test_reference_without_predictions_is_refused():
    with pytest.raises(ValueError, match="predicted"):
        reference_window(pd.DataFrame({"text": ["a"], "label": ["x"]}), "1")


@pytest.fixture()
def log_url(tmp_path) -> str:
    from ticketops.serving.log_schema import metadata, predictions
    from ticketops.serving.prediction_log import make_engine

    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    now = time.time()
    rows = []
    for i in range(30):
        rows.append(
            {
                "ticket_id": f"t{i}",
                "text": f"ticket {i}",
                "label": "card_arrival" if i % 2 else "change_pin",
                "confidence": 0.5 + i / 100,
                "needs_review": i % 3 == 0,
                "model_version": "2" if i < 25 else "3",
                "stage": "single",
                "latency_ms": 3.0,
                "created_at": now - 3600 * 48 + i if i < 5 else now - 100 + i,  # the first five are old
                "true_label": "card_arrival" if i % 5 == 0 else None,
                "feedback_at": now if i % 5 == 0 else None,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(predictions), rows)
    engine.dispose()
    return url


def test_log_window_is_the_newest_tickets_oldest_first(log_url):
    window = read_log_window(log_url, size=10, max_age_s=86_400)
    assert window.frame["text"].tolist() == [f"ticket {i}" for i in range(20, 30)]
    span = window_span(window)
    assert span["start"] < span["end"]


def test_log_window_drops_old_tickets_and_other_versions(log_url):
    everything = read_log_window(log_url, size=1000, max_age_s=86_400)
    assert len(everything) == 25  # five are older than a day
    v2 = read_log_window(log_url, size=1000, max_age_s=86_400, model_version="2")
    assert set(v2.frame["model_version"]) == {"2"} and len(v2) == 20
    assert v2.labelled == 4  # feedback of tickets 5, 10, 15, 20
    assert v2.frame["needs_review"].dtype == bool


def test_log_window_of_a_missing_log_is_empty(tmp_path):
    assert len(read_log_window(f"sqlite:///{tmp_path / 'none.db'}", 100, 60)) == 0


def test_make_window_without_optional_columns():
    window = make_window(["a"], ["x"], [0.5], [True])
    assert window.frame["model_version"].tolist() == ["unknown"]
    assert window.embeddings is None


def test_embedding_sample_leaves_other_rows_without_vectors():
    import numpy as np

    from ticketops.monitoring.windows import embedded_rows, with_embeddings

    window = make_window([f"t{i}" for i in range(10)], ["x"] * 10, [0.5] * 10, [False] * 10)
    seen: list[str] = []

    def embed(texts):
        seen.extend(texts)
        return np.ones((len(texts), 3))

    sampled = with_embeddings(window, embed, max_rows=4, seed=1)
    assert len(seen) == 4 and embedded_rows(sampled) == 4
    assert np.isnan(sampled.embeddings).any(axis=1).sum() == 6
    assert embedded_rows(with_embeddings(window, embed, max_rows=50)) == 10
