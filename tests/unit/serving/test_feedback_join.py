"""A label that reaches a replica before the replica that answered the ticket has written its row (issue 11).

Two replicas share the prediction log; the splitter routes requests, not tickets, so an agent's label may
arrive at the replica that did not answer. The label path looks again for a bounded time
(``TICKETOPS_FEEDBACK_JOIN_WAIT_S``, at most half the request timeout) before the id counts as unknown.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.unit.serving.test_prediction_log import row
from ticketops.schemas import FeedbackItem
from ticketops.serving.auth import User
from ticketops.serving.errors import ApiError
from ticketops.serving.humans import HumanLoop
from ticketops.serving.prediction_log import PredictionLog
from ticketops.settings import ServiceSettings

AGENT = User(name="agent-1", role="agent", token_sha256="0" * 64)


def test_a_label_waits_for_the_row_another_replica_has_not_written_yet(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    answering = PredictionLog(url, spool_dir=tmp_path / "spool-a")
    receiving = PredictionLog(url, spool_dir=tmp_path / "spool-b")
    settings = ServiceSettings(catalogue_path=tmp_path / "no-catalogue.json", feedback_join_wait_s=20)
    answering.start()
    receiving.start()
    humans = HumanLoop(settings, receiving)
    try:
        result: list = []
        label = [FeedbackItem(id="late", label="card_arrival")]
        worker = threading.Thread(target=lambda: result.extend(humans.label(label, AGENT, ["card_arrival"])))
        worker.start()
        time.sleep(0.3)  # the answering replica writes its row only now
        answering.submit([row("late", label="card_arrival", version="7")])
        answering.flush()
        worker.join(timeout=30)
        assert [(o.model_version, o.true_label, o.correct) for o in result] == [("7", "card_arrival", True)]
        quick = HumanLoop(settings.model_copy(update={"feedback_join_wait_s": 0.2}), receiving)
        started = time.monotonic()
        with pytest.raises(ApiError) as refused:
            quick.label([FeedbackItem(id="never", label="card_arrival")], AGENT, ["card_arrival"])
        assert refused.value.code == "unknown_id" and time.monotonic() - started < 5
    finally:
        answering.close()
        receiving.close()
