"""The prediction log on a real SQLite file: batched writes, drops when full, retention, feedback join, accuracy."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ticketops.serving.prediction_log import LogRow, PredictionLog, resolve_url


def row(ticket_id: str, label: str = "card_arrival", version: str = "1", created_at: float | None = None) -> LogRow:
    return LogRow(
        ticket_id=ticket_id,
        text=f"ticket {ticket_id}",
        label=label,
        confidence=0.9,
        needs_review=False,
        model_version=version,
        stage="single",
        latency_ms=3.0,
        created_at=time.time() if created_at is None else created_at,
    )


def count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from predictions").fetchone()[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "log" / "predictions.db"


def test_rows_are_written_in_batches_and_flush_waits_for_them(db: Path) -> None:
    log = PredictionLog(f"sqlite:///{db}", batch_size=50)
    log.start()
    assert log.submit([row(str(i)) for i in range(120)]) == 120
    assert log.flush(timeout=10)
    assert count(db) == 120
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert log.close()


def test_a_full_queue_drops_rows_and_reports_them_without_blocking(db: Path) -> None:
    drops: list[tuple[int, str]] = []
    log = PredictionLog(f"sqlite:///{db}", queue_size=10, on_drop=lambda n, reason: drops.append((n, reason)))
    # not started: nothing drains the queue, so the 11th row on does not fit
    started = time.perf_counter()
    assert log.submit([row(str(i)) for i in range(25)]) == 10
    assert time.perf_counter() - started < 0.5
    assert drops == [(15, "queue_full")]
    log.start()
    assert log.close()
    assert count(db) == 10


def test_retention_keeps_the_newest_rows_and_drops_old_ones(db: Path) -> None:
    log = PredictionLog(f"sqlite:///{db}", retention_rows=30, retention_days=1.0)
    log.start()
    now = time.time()
    log.submit([row(f"old{i}", created_at=now - 3 * 86_400) for i in range(5)])
    log.submit([row(f"new{i}", created_at=now) for i in range(50)])
    assert log.flush()
    removed = log.prune(now=now)
    assert removed == 25
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("select ticket_id from predictions order by row_id")]
    assert ids == [f"new{i}" for i in range(20, 50)]
    log.close()


def test_feedback_joins_by_id_even_right_after_the_prediction_and_feeds_accuracy(db: Path) -> None:
    log = PredictionLog(f"sqlite:///{db}")
    log.start()
    log.submit([row("a", "card_arrival", "1"), row("b", "card_arrival", "1"), row("c", "lost_or_stolen_card", "2")])
    matches = log.apply_feedback([("a", "card_arrival"), ("b", "exchange_rate"), ("zzz", "card_arrival")])
    assert [m.correct if m else None for m in matches] == [True, False, None]
    assert matches[0].model_version == "1"
    assert log.live_accuracy("1", window=100) == pytest.approx(0.5)
    assert log.live_accuracy("2", window=100) is None
    with sqlite3.connect(db) as conn:
        labelled = conn.execute("select ticket_id, true_label from predictions where true_label is not null").fetchall()
    assert sorted(labelled) == [("a", "card_arrival"), ("b", "exchange_rate")]
    log.close()


def test_live_accuracy_covers_only_the_most_recent_window(db: Path) -> None:
    log = PredictionLog(f"sqlite:///{db}")
    log.start()
    log.submit([row(f"t{i}") for i in range(6)])
    for i in range(6):  # oldest three wrong, newest three right
        log.apply_feedback([(f"t{i}", "card_arrival" if i >= 3 else "exchange_rate")], now=1000.0 + i)
    assert log.live_accuracy("1", window=3) == pytest.approx(1.0)
    assert log.live_accuracy("1", window=6) == pytest.approx(0.5)
    log.close()


def test_relative_sqlite_paths_resolve_from_the_project_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TICKETOPS_ROOT", str(tmp_path))
    assert resolve_url("sqlite:///predictions.db") == f"sqlite:///{tmp_path / 'predictions.db'}"
    assert resolve_url("postgresql://u:p@db/log") == "postgresql://u:p@db/log"


def test_feedback_waits_for_the_row_another_replica_has_not_written_yet(db: Path) -> None:
    """Two replicas share the log; the label reaches the one that did not answer before the other wrote its row."""
    import threading

    answering, receiving = PredictionLog(f"sqlite:///{db}"), PredictionLog(f"sqlite:///{db}", feedback_wait_s=30)
    answering.start()
    receiving.start()
    try:
        result: list = []
        worker = threading.Thread(target=lambda: result.extend(receiving.apply_feedback([("late", "card_arrival")])))
        worker.start()
        time.sleep(0.3)  # the answering replica writes its row only now
        answering.submit([row("late", label="card_arrival", version="7")])
        answering.flush()
        worker.join(timeout=30)
        assert result and result[0] is not None and result[0].model_version == "7" and result[0].correct
        assert receiving.apply_feedback([("never", "card_arrival")], wait_s=0.2) == [None]
    finally:
        answering.close()
        receiving.close()
