"""The demo's loop on one time axis, read back after the run: what Prometheus recorded and what was decided.

Series come from Prometheus range queries (traffic per track, the drifting signal's score and threshold, the
review backlog, the canary weight, live accuracy per track); marks from what happened: the drift alert firing
(Prometheus' ALERTS), each version registered by retraining (MLflow), rollout starts, promotions and rollbacks
(the rollout event log). ``timeline_render`` draws it; nothing here draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ticketops.rollout.events import RolloutEvent

# The signal plotted against its threshold: the first of these that detected drift (new intents move the
# embedding and prediction signals first), else the first one with a score.
DRIFT_SIGNALS = ("embedding", "prediction", "confidence", "text", "review_rate", "live_accuracy", "slow_share")
P_VALUE_SIGNALS = frozenset({"prediction", "confidence", "review_rate", "slow_share"})
ROLLOUT_MARKS = {"started": "canary", "promoted": "promoted", "rolled_back": "rolled_back", "aborted": "rolled_back"}
ALERT_GAP_S = 120.0  # a drift alert quiet this long and firing again is a new episode
WINDOW = "1m"  # rate and accuracy windows: a few demo traffic batches, short enough to show each step


class TimelineError(RuntimeError):
    """Prometheus could not answer a query the picture needs."""


@dataclass(frozen=True)
class Series:
    label: str
    times: list[float]
    values: list[float]


@dataclass(frozen=True)
class Mark:
    at: float
    kind: str  # alert | registered | canary | promoted | rolled_back
    label: str


@dataclass
class Timeline:
    start: float
    end: float
    traffic: list[Series] = field(default_factory=list)
    drift: list[Series] = field(default_factory=list)  # the signal's score, then its threshold
    drift_signal: str = ""
    backlog: list[Series] = field(default_factory=list)
    canary_weight: list[Series] = field(default_factory=list)
    accuracy: list[Series] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    @property
    def drift_is_p_value(self) -> bool:
        return self.drift_signal in P_VALUE_SIGNALS


class RangeReader:
    """Prometheus' ``query_range`` for one span and step; NaN and Inf points are left out."""

    def __init__(self, base_url: str, start: float, end: float, step: float, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.start, self.end, self.step, self.timeout = start, end, step, timeout

    def series(self, expr: str, label: str = "", by: str | None = None) -> list[Series]:
        params = {"query": expr, "start": self.start, "end": self.end, "step": self.step}
        try:
            response = httpx.get(f"{self.base_url}/api/v1/query_range", params=params, timeout=self.timeout)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TimelineError(f"Prometheus at {self.base_url}: {type(exc).__name__}: {exc}") from exc
        if body.get("status") != "success":
            raise TimelineError(f"{expr!r}: {body.get('error', body)}")
        found = []
        for result in body["data"]["result"]:
            points = [(float(t), float(v)) for t, v in result["values"] if math.isfinite(float(v))]
            name = result["metric"].get(by, "") if by else label
            found.append(Series(name or label, [t for t, _ in points], [v for _, v in points]))
        return sorted(found, key=lambda s: s.label)


def collect(reader: RangeReader, marks: Iterable[Mark] = ()) -> Timeline:
    """Every series of the picture over the reader's span, and ``marks`` plus the alerts Prometheus saw."""
    accuracy = (
        f'sum by (track) (increase(ticketops_feedback_total{{correct="true"}}[{WINDOW}])'
        f" or 0 * increase(ticketops_feedback_total[{WINDOW}]))"
        f" / (sum by (track) (increase(ticketops_feedback_total[{WINDOW}])) > 0)"
    )
    signal = drifting_signal(reader)
    timeline = Timeline(
        start=reader.start,
        end=reader.end,
        traffic=reader.series(
            f'sum by (track) (rate(ticketops_requests_total{{route="/classify"}}[{WINDOW}]))', by="track"
        ),
        drift_signal=signal,
        drift=[
            *reader.series(f'max(ticketops_drift_score{{signal="{signal}"}})', f"{signal} score"),
            *reader.series(f'max(ticketops_drift_threshold{{signal="{signal}"}})', "threshold"),
        ],
        backlog=reader.series("max(ticketops_review_backlog)", "review backlog"),
        canary_weight=reader.series("max(ticketops_splitter_canary_weight)", "canary weight %"),
        accuracy=reader.series(accuracy, by="track"),
    )
    timeline.marks = sorted([*marks, *alert_marks(reader)], key=lambda m: m.at)
    firsts = [s.times[0] for group in (timeline.traffic, timeline.backlog, timeline.accuracy) for s in group if s.times]
    timeline.start = max(reader.start, min([*firsts, *(m.at for m in timeline.marks)], default=reader.start) - 30)
    return timeline


def drifting_signal(reader: RangeReader) -> str:
    drifted = 'max by (signal) (ticketops_drift_detected{signal!="overall"}) == 1'
    detected = {s.label for s in reader.series(drifted, by="signal")}
    scored = {s.label for s in reader.series("max by (signal) (ticketops_drift_score)", by="signal")}
    for candidates in (detected, scored):
        for name in DRIFT_SIGNALS:
            if name in candidates:
                return name
    return DRIFT_SIGNALS[0]


def alert_marks(reader: RangeReader) -> list[Mark]:
    """One mark where the drift alert starts firing after a quiet spell of ALERT_GAP_S, over all signals.

    With the demo's short ``for:`` an alert on several signals flaps as windows move; one mark per episode
    keeps the picture readable (the HTML lists each with the signals that fired).
    """
    firing = reader.series('ALERTS{alertname="TicketopsDriftDetected", alertstate="firing"}', by="signal")
    points = sorted((t, s.label) for s in firing for t in s.times)
    episodes: list[tuple[float, float, set[str]]] = []
    for t, signal in points:
        if episodes and t - episodes[-1][1] <= ALERT_GAP_S:
            episodes[-1] = (episodes[-1][0], t, episodes[-1][2] | {signal})
        else:
            episodes.append((t, t, {signal}))
    return [Mark(start, "alert", f"drift alert ({', '.join(sorted(signals))})") for start, _, signals in episodes]


def rollout_marks(events: Iterable[RolloutEvent], start: float, end: float) -> list[Mark]:
    """Rollout starts, promotions and rollbacks within the span (steps show as the canary weight itself)."""
    marks = []
    for event in events:
        kind = ROLLOUT_MARKS.get(event.event)
        if kind is None or not start <= event.time <= end:
            continue
        text = {"canary": f"canary v{event.canary_version}", "promoted": f"v{event.canary_version} promoted"}
        marks.append(Mark(event.time, kind, text.get(kind, f"v{event.canary_version} rolled back")))
    return marks


def registration_marks(versions: Iterable[tuple[str, float]], start: float, end: float) -> list[Mark]:
    """(version, registered at) pairs: a retraining (or experiment) that produced a new registry version."""
    return [Mark(at, "registered", f"v{version} registered") for version, at in versions if start <= at <= end]


def registered_versions(model_name: str) -> list[tuple[str, float]]:
    """Every version of ``model_name`` in the registry this process points at, with its creation time."""
    from ticketops.registry.store import client

    found = client().search_model_versions(f"name='{model_name}'")
    return [(str(v.version), v.creation_timestamp / 1000.0) for v in found]


def record(out_dir: Path, started: float, step: float = 5.0) -> Path:
    """The demo's timeline since ``started`` (its ``time.monotonic()``), written to ``out_dir``; returns the HTML.

    Prometheus, the rollout event log and the registry are the ones this process's environment names.
    """
    import time

    from ticketops.demo.timeline_render import write_timeline
    from ticketops.rollout.factory import event_log
    from ticketops.settings import MODEL_NAME, RolloutSettings

    end = time.time()
    start = end - (time.monotonic() - started)
    marks = [
        *rollout_marks(event_log().read(), start, end),
        *registration_marks(registered_versions(MODEL_NAME), start, end),
    ]
    reader = RangeReader(RolloutSettings().prometheus_url, start, end, step)
    return write_timeline(collect(reader, marks), out_dir)
