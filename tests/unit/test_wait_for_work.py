"""Waiting for CPU-bound work (the demo's retraining): no fixed deadline while it runs, a clear error when it
stops without a result. A fixed 1,200 s deadline failed a healthy demo under a CPU hog (issue 11)."""

from __future__ import annotations

import threading
import time

import pytest

from ticketops.processes import wait_for_work


def test_slow_work_is_waited_for_and_noted_while_it_runs():
    state = {"running": True, "result": None}

    def work() -> None:
        time.sleep(0.5)
        state["result"] = "done"
        state["running"] = False

    threading.Thread(target=work).start()
    notes: list[str] = []
    value = wait_for_work(
        "work", lambda: state["running"], lambda: state["result"], notes.append, cap_s=10, every=0.02, note_every=0.1
    )
    assert value == "done"
    assert notes and all("still running" in n for n in notes)


def test_work_that_stops_without_a_result_fails_at_once():
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="stopped without a result"):
        wait_for_work("work", lambda: False, lambda: None, lambda _m: None, cap_s=60, every=0.01)
    assert time.monotonic() - started < 5


def test_a_hung_process_still_ends_at_the_cap():
    with pytest.raises(TimeoutError, match="still running after"):
        wait_for_work("work", lambda: True, lambda: None, lambda _m: None, cap_s=0.2, every=0.02)
