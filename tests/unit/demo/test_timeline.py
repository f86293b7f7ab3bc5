"""The demo timeline on synthetic data: marks from alerts, rollout events and registrations, and the rendering."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from ticketops.demo.timeline import (
    Mark,
    Series,
    Timeline,
    alert_marks,
    drifting_signal,
    registration_marks,
    rollout_marks,
)
from ticketops.demo.timeline_render import write_timeline
from ticketops.rollout.events import RolloutEvent

START = 1_800_000_000.0


class FakeReader:
    """Answers range queries from a table of (expression fragment → series)."""

    step = 5.0

    def __init__(self, answers: dict[str, list[Series]]):
        self.answers = answers

    def series(self, expr: str, label: str = "", by: str | None = None) -> list[Series]:
        return next((found for fragment, found in self.answers.items() if fragment in expr), [])


def line(label: str, values, every: float = 5.0, offset: float = 0.0) -> Series:
    return Series(label, [START + offset + i * every for i in range(len(values))], [float(v) for v in values])


def test_an_alert_is_marked_once_per_episode_over_all_signals():
    embedding = [START + t for t in (100, 105, 110, 400, 405)]  # two episodes: 100-110 s and from 400 s
    prediction = [START + t for t in (150, 160)]  # flapping within the first episode
    reader = FakeReader({"ALERTS": [line_at("embedding", embedding), line_at("prediction", prediction)]})
    assert [(m.at - START, m.label) for m in alert_marks(reader)] == [
        (100, "drift alert (embedding, prediction)"),
        (400, "drift alert (embedding)"),
    ]


def line_at(label: str, times: list[float]) -> Series:
    return Series(label, times, [1.0] * len(times))


def test_the_plotted_drift_signal_is_one_that_detected_drift():
    reader = FakeReader(
        {"== 1": [line("prediction", [1])], "drift_score": [line("text", [0.1]), line("prediction", [0])]}
    )
    assert drifting_signal(reader) == "prediction"
    assert drifting_signal(FakeReader({"drift_score": [line("text", [0.1])]})) == "text"


def event(kind: str, at: float, canary: str = "3") -> RolloutEvent:
    return RolloutEvent(
        time=START + at, rollout_id="r", event=kind, stable_version="2", canary_version=canary, step=0, weight=0
    )


def test_rollout_and_registration_marks_inside_the_span_only():
    events = [event("started", 10), event("step", 20), event("promoted", 30), event("rolled_back", 5000, "4")]
    marks = rollout_marks(events, START, START + 1000)
    assert [(m.kind, m.label) for m in marks] == [("canary", "canary v3"), ("promoted", "v3 promoted")]
    registered = registration_marks([("1", START - 5), ("3", START + 8)], START, START + 1000)
    assert registered == [Mark(START + 8, "registered", "v3 registered")]


def synthetic_timeline() -> Timeline:
    n = 240  # 20 minutes at 5 s
    minutes = np.arange(n) * 5 / 60
    stable_accuracy = np.where(minutes < 6, 0.9, 0.72)
    weight = np.select([minutes < 10, minutes < 12, minutes < 14, minutes < 16], [0, 10, 25, 50], 0)
    return Timeline(
        start=START,
        end=START + n * 5,
        traffic=[line("stable", 40 - weight * 0.4), line("canary", weight * 0.4)],
        drift=[line("embedding score", np.where(minutes < 5, 0.02, 0.3)), line("threshold", [0.1] * n)],
        drift_signal="embedding",
        backlog=[line("review backlog", np.cumsum(np.where(minutes < 5, 0.2, 1.0)))],
        canary_weight=[line("canary weight %", weight)],
        accuracy=[line("stable", stable_accuracy), line("canary", [math.nan if w == 0 else 0.88 for w in weight])],
        marks=[
            Mark(START + 330, "alert", "drift alert (embedding)"),
            Mark(START + 520, "registered", "v2 registered"),
            Mark(START + 600, "canary", "canary v2"),
            Mark(START + 960, "promoted", "v2 promoted"),
            Mark(START + 1100, "rolled_back", "v3 rolled back"),
        ],
    )


def test_rendering_writes_a_picture_and_a_page_that_lists_every_mark(tmp_path: Path):
    timeline = synthetic_timeline()
    page = write_timeline(timeline, tmp_path / "demo")
    image = imread(tmp_path / "demo" / "timeline.png")
    height, width = image.shape[:2]
    assert width > 1000 and height > 900
    assert image[..., :3].std() > 0.05  # drawn, not a blank canvas
    text = page.read_text()
    assert '<img src="timeline.png"' in text
    for mark in timeline.marks:
        assert mark.label in text
    assert "+5:30" in text and "+18:20" in text  # the alert and the rollback, minutes since the start


def test_a_timeline_without_data_still_renders(tmp_path: Path):
    empty = Timeline(start=START, end=START + 60, drift_signal="embedding")
    write_timeline(empty, tmp_path)
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    assert "no events" in (tmp_path / "timeline.html").read_text()


@pytest.mark.parametrize("signal, p_value", [("prediction", True), ("embedding", False)])
def test_the_drift_axis_says_which_side_is_drift(signal, p_value):
    assert Timeline(START, START + 1, drift_signal=signal).drift_is_p_value is p_value
