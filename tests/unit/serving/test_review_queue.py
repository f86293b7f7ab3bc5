"""The review backlog on a real prediction log: flagged and unlabelled tickets only, the oldest's age, and the
wait of a flagged ticket until its first label (what the flag-to-label histogram observes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.unit.serving.test_prediction_log import row
from ticketops.serving.prediction_log import PredictionLog, make_engine
from ticketops.serving.review_queue import Backlog, review_backlog


def flagged(ticket_id: str, created_at: float):
    return dataclasses.replace(row(ticket_id, created_at=created_at), needs_review=True)


def test_backlog_counts_flagged_unlabelled_tickets_and_ages_the_oldest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    engine = make_engine(url)
    assert review_backlog(engine) == Backlog(0, None)  # no log yet: an empty queue, not an error
    log = PredictionLog(url)
    log.start()
    log.submit([flagged("a", 100.0), flagged("b", 200.0), flagged("c", 300.0), row("d", created_at=50.0)])
    log.flush()
    assert review_backlog(engine) == Backlog(3, 100.0)
    matches = log.apply_feedback([("a", "card_arrival"), ("d", "card_arrival")], now=160.0)
    assert [(m.needs_review, m.waited_s) for m in matches] == [(True, 60.0), (False, 110.0)]
    assert review_backlog(engine) == Backlog(2, 200.0)
    again = log.apply_feedback([("a", "lost_card")], now=900.0)
    assert again[0].waited_s is None  # a relabel is no second wait
    log.close()
    assert Backlog(2, 200.0).oldest_age_s(now=260.0) == 60.0
    assert Backlog(0, None).oldest_age_s(now=260.0) == 0.0
