"""The review backlog on a real prediction log: the tickets ``GET /review`` lists, the oldest's age, and the wait
of a flagged ticket until the label that settles it (what the flag-to-label histogram observes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.unit.serving.test_prediction_log import row
from ticketops.schemas import FeedbackItem
from ticketops.serving.auth import User
from ticketops.serving.prediction_log import PredictionLog, make_engine
from ticketops.serving.review import apply_labels, find_rows
from ticketops.serving.review_queue import Backlog, review_backlog

AGENTS = [User(name=name, role="agent", token_sha256="0" * 64) for name in ("agent-1", "agent-2")]


def flagged(ticket_id: str, created_at: float):
    return dataclasses.replace(row(ticket_id, created_at=created_at), needs_review=True)


def label(engine, user: User, pairs: list[tuple[str, str]], now: float):
    items = [FeedbackItem(id=ticket_id, label=name) for ticket_id, name in pairs]
    return apply_labels(engine, items, user, find_rows(engine, items), now=now)


def test_backlog_counts_what_waits_for_review_and_ages_the_oldest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    engine = make_engine(url)
    assert review_backlog(engine) == Backlog(0, None)  # no log yet: an empty queue, not an error
    log = PredictionLog(url, spool_dir=tmp_path / "spool")
    log.start()
    log.submit([flagged("a", 100.0), flagged("b", 200.0), flagged("c", 300.0), row("d", created_at=50.0)])
    log.flush()
    assert review_backlog(engine) == Backlog(3, 100.0)
    first = label(engine, AGENTS[0], [("a", "card_arrival"), ("d", "card_arrival")], now=160.0)
    assert [(o.needs_review, o.waited_s) for o in first] == [(True, 60.0), (False, 110.0)]
    assert review_backlog(engine) == Backlog(2, 200.0)
    again = label(engine, AGENTS[0], [("a", "lost_or_stolen_card")], now=900.0)
    assert again[0].waited_s is None  # a relabel is no second wait
    assert label(engine, AGENTS[0], [("b", "card_arrival")], now=950.0)[0].waited_s == 750.0
    first_opinion = label(engine, AGENTS[0], [("c", "card_arrival")], now=960.0)[0]
    assert review_backlog(engine) == Backlog(0, None)  # labelled by someone: out of the queue
    second_opinion = label(engine, AGENTS[1], [("c", "exchange_rate")], now=970.0)[0]
    assert (first_opinion.waited_s, second_opinion.status, second_opinion.waited_s) == (660.0, "disputed", None)
    assert review_backlog(engine) == Backlog(0, None)  # a disputed ticket waits for an admin, not in the queue
    log.close()
    assert Backlog(2, 200.0).oldest_age_s(now=260.0) == 60.0
    assert Backlog(0, None).oldest_age_s(now=260.0) == 0.0
