"""The prediction log on a real SQLite file: batched writes, drops when full, retention, feedback join, accuracy."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ticketops.schemas import FeedbackItem
from ticketops.serving.auth import User
from ticketops.serving.errors import ApiError
from ticketops.serving.prediction_log import LogRow, PredictionLog, resolve_url
from ticketops.serving.review import apply_labels, find_rows

AGENT = User(name="agent-1", role="agent", token_sha256="0" * 64)


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


def test_a_full_queue_spools_the_overflow_without_blocking_and_loses_nothing(db: Path, tmp_path: Path) -> None:
    drops: list[tuple[int, str]] = []
    log = PredictionLog(
        f"sqlite:///{db}",
        queue_size=10,
        spool_dir=tmp_path / "spool",
        on_drop=lambda n, reason: drops.append((n, reason)),
    )
    # not started: nothing drains the queue, so the 11th row on goes to the spool
    started = time.perf_counter()
    assert log.submit([row(str(i)) for i in range(25)]) == 10
    assert time.perf_counter() - started < 0.5
    assert log.backlog == 15 and drops == []
    log.start()
    assert log.close()
    assert count(db) == 25


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


def label(log: PredictionLog, pairs: list[tuple[str, str]], now: float | None = None) -> list:
    """Agents' labels as ``POST /feedback`` stores them (serving/review.py), after the writer has flushed."""
    log.flush()
    engine = log.ready_engine()
    items = [FeedbackItem(id=ticket_id, label=name) for ticket_id, name in pairs]
    return apply_labels(engine, items, AGENT, find_rows(engine, items), now=now)


def test_labels_join_by_id_right_after_the_prediction_and_feed_accuracy(db: Path) -> None:
    log = PredictionLog(f"sqlite:///{db}")
    log.start()
    log.submit([row("a", "card_arrival", "1"), row("b", "card_arrival", "1"), row("c", "lost_or_stolen_card", "2")])
    outcomes = label(log, [("a", "card_arrival"), ("b", "exchange_rate")])
    assert [o.correct for o in outcomes] == [True, False]
    assert outcomes[0].model_version == "1"
    assert log.live_accuracy("1", window=100) == pytest.approx(0.5)
    assert log.live_accuracy("2", window=100) is None
    with sqlite3.connect(db) as conn:
        labelled = conn.execute("select ticket_id, true_label from predictions where true_label is not null").fetchall()
    assert sorted(labelled) == [("a", "card_arrival"), ("b", "exchange_rate")]
    with pytest.raises(ApiError) as refused:  # a ticket that was never classified stores nothing
        label(log, [("zzz", "card_arrival")])
    assert refused.value.status == 404
    log.close()


def test_live_accuracy_covers_only_the_most_recent_window(db: Path) -> None:
    log = PredictionLog(f"sqlite:///{db}")
    log.start()
    log.submit([row(f"t{i}") for i in range(6)])
    for i in range(6):  # oldest three wrong, newest three right
        label(log, [(f"t{i}", "card_arrival" if i >= 3 else "exchange_rate")], now=1000.0 + i)
    assert log.live_accuracy("1", window=3) == pytest.approx(1.0)
    assert log.live_accuracy("1", window=6) == pytest.approx(0.5)
    log.close()


def test_relative_sqlite_paths_resolve_from_the_project_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TICKETOPS_ROOT", str(tmp_path))
    assert resolve_url("sqlite:///predictions.db") == f"sqlite:///{tmp_path / 'predictions.db'}"
    assert resolve_url("postgresql://u:p@db/log") == "postgresql://u:p@db/log"


# --- the database away: spool, replay in order, exactly once ----------------------------------------


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("select ticket_id from predictions order by row_id")]


def test_a_database_missing_at_start_spools_then_replays_everything_in_order(tmp_path: Path) -> None:
    db = tmp_path / "log" / "predictions.db"
    backlog: list[int] = []
    drops: list[tuple[int, str]] = []
    log = PredictionLog(
        f"sqlite:///{db}",
        batch_size=7,
        spool_dir=tmp_path / "spool",
        retry_s=0.1,
        on_backlog=backlog.append,
        on_drop=lambda n, reason: drops.append((n, reason)),
    )
    log.start()  # makes the folder, but touches the database only once there is a row to write
    db.parent.rmdir()  # without its folder SQLite cannot open the file: the database is away
    ids = [f"t{i:03d}" for i in range(40)]
    for start in range(0, 40, 10):
        log.submit([row(i) for i in ids[start : start + 10]])
    assert log.flush(timeout=10)
    assert log.backlog == 40 and backlog[-1] == 40
    assert not db.exists()
    db.parent.mkdir()  # the database is back
    assert wait_for(lambda: log.backlog == 0)
    assert log.close()
    assert stored_ids(db) == ids  # every row once, in arrival order
    assert backlog[-1] == 0 and drops == []
    assert not list((tmp_path / "spool").glob("*.jsonl"))


def test_a_replay_interrupted_after_its_commit_stores_each_row_once(tmp_path: Path) -> None:
    db = tmp_path / "predictions.db"
    log = PredictionLog(f"sqlite:///{db}", spool_dir=tmp_path / "spool", retry_s=0.1)
    from dataclasses import asdict

    rows = [asdict(row(f"r{i}")) for i in range(5)]
    log.spool.append(rows)
    log.spool.append(rows)  # the same segment again: a crash between the commit and the segment's deletion
    log.start()
    assert wait_for(lambda: log.backlog == 0)
    assert log.close()
    assert stored_ids(db) == [f"r{i}" for i in range(5)]


def test_the_spool_is_bounded_and_what_does_not_fit_is_counted(tmp_path: Path) -> None:
    db = tmp_path / "log" / "predictions.db"
    drops: list[tuple[int, str]] = []
    log = PredictionLog(
        f"sqlite:///{db}",
        queue_size=5,
        spool_dir=tmp_path / "spool",
        spool_max_rows=12,
        on_drop=lambda n, reason: drops.append((n, reason)),
    )
    # not started: the queue takes 5, the spool the next 12 (two segments), the rest is dropped
    assert log.submit([row(f"a{i}") for i in range(5)]) == 5
    log.submit([row(f"b{i}") for i in range(6)])
    log.submit([row(f"c{i}") for i in range(6)])
    log.submit([row(f"d{i}") for i in range(3)])
    assert log.backlog == 12
    assert drops == [(3, "spool_full")]
    log.start()
    assert wait_for(lambda: log.backlog == 0)
    assert log.close()
    assert len(stored_ids(db)) == 17
