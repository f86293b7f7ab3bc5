"""Send scenario traffic to the running service: real tickets at a steady rate, agents' labels after them.

Tickets go to ``POST /classify`` in small batches paced to ``rate`` tickets per second; a share of them
(``feedback_rate``) then gets its true label through ``POST /feedback``, as agents would provide it.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ticketops.config import ScenarioParams
from ticketops.simulation.scenarios import scenario_window

MAX_TEXT_CHARS = 2000  # the service's default limit; longer tickets are cut, not rejected


@dataclass
class TrafficSummary:
    """What was sent and how the service answered."""

    scenario: str
    sent: int = 0
    classified: int = 0
    failed_requests: int = 0
    injected: int = 0
    feedback_sent: int = 0
    feedback_failed: int = 0
    feedback_unknown_label: int = 0
    seconds: float = 0.0
    predicted: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "classified": self.classified,
            "failed_requests": self.failed_requests,
            "injected": self.injected,
            "feedback_sent": self.feedback_sent,
            "feedback_failed": self.feedback_failed,
            "feedback_unknown_label": self.feedback_unknown_label,
            "seconds": round(self.seconds, 2),
            "top_predicted": dict(self.predicted.most_common(5)),
            "errors": self.errors[:5],
        }


def simulation_pool(root: Path, params) -> pd.DataFrame:
    """Seed tickets the champion was neither trained nor calibrated on: everything outside train and validation.

    That is the test split plus the held-out intents (when ``split.holdout_labels`` is set); without the
    pipeline's split files, every seed ticket.
    """
    from ticketops.fileio import read_csv

    p = params.ingest
    seed = read_csv(root / p.seed_path)
    pool = pd.DataFrame({"text": seed[p.seed_text_column], "label": seed[p.seed_label_column]})
    seen: set[str] = set()
    for name in ("train", "validation"):
        path = root / "data" / "splits" / f"{name}.csv"
        if path.exists():
            seen.update(read_csv(path)["text"])
    return pool[~pool["text"].isin(seen)].reset_index(drop=True)


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def send_traffic(
    url: str,
    pool: pd.DataFrame,
    scenario: str,
    count: int,
    rate: float,
    scenarios: ScenarioParams,
    *,
    feedback_rate: float = 0.3,
    mixture: float | None = None,
    batch_size: int = 8,
    seed: int = 0,
    token: str | None = None,
    timeout: float = 30.0,
) -> TrafficSummary:
    """Classify ``count`` scenario tickets at ``rate`` per second, then send feedback for a share of them."""
    import httpx

    rng = np.random.default_rng(seed)
    tickets = scenario_window(pool, scenario, count, rng, scenarios, mixture=mixture)
    run = uuid.uuid4().hex[:8]
    tickets["id"] = [f"sim-{run}-{i}" for i in range(len(tickets))]
    tickets["text"] = tickets["text"].str.slice(0, MAX_TEXT_CHARS)
    summary = TrafficSummary(scenario, injected=int(tickets["injected"].sum()))
    answered: list[int] = []
    started = time.monotonic()
    with httpx.Client(base_url=url.rstrip("/"), headers=_headers(token), timeout=timeout) as client:
        for start in range(0, len(tickets), batch_size):
            due = started + start / rate if rate > 0 else started
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            batch = tickets.iloc[start : start + batch_size]
            body = {"tickets": [{"text": t, "id": i} for t, i in zip(batch["text"], batch["id"], strict=True)]}
            summary.sent += len(batch)
            try:
                response = client.post("/classify", json=body)
            except httpx.HTTPError as exc:
                summary.failed_requests += 1
                summary.errors.append(type(exc).__name__)
                continue
            if response.status_code != 200:
                summary.failed_requests += 1
                summary.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                continue
            predictions = response.json()["predictions"]
            summary.classified += len(predictions)
            summary.predicted.update(p["label"] for p in predictions)
            answered.extend(range(start, start + len(batch)))
        labelled = [i for i in answered if rng.random() < feedback_rate]
        for start in range(0, len(labelled), batch_size):
            rows = tickets.iloc[labelled[start : start + batch_size]]
            items = [
                {"id": i, "text": t, "label": label}
                for i, t, label in zip(rows["id"], rows["text"], rows["label"], strict=True)
            ]
            sent, unknown = _send_feedback(client, items)
            summary.feedback_sent += sent
            summary.feedback_unknown_label += unknown
            summary.feedback_failed += len(items) - sent - unknown
    summary.seconds = time.monotonic() - started
    return summary


def _unknown_positions(response) -> list[int]:
    """Items the service refused because the served model does not know their label (``items.<i>.label``)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if body.get("error") != "unknown_label":
        return []
    positions = []
    for problem in body.get("fields", []):
        parts = str(problem.get("field", "")).split(".")
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit():
            positions.append(int(parts[1]))
    return positions


def _send_feedback(client, items: list[dict]) -> tuple[int, int]:
    """(accepted, refused for an unknown label): labels of intents the model never had are dropped, once.

    An agent can name an intent the served model does not know (a new product); the service refuses the
    whole batch then, so those items are left out and the rest is sent again.
    """
    import httpx

    unknown = 0
    for _ in range(2):
        if not items:
            return 0, unknown
        try:
            response = client.post("/feedback", json={"items": items})
        except httpx.HTTPError:
            return 0, unknown
        if response.status_code == 200:
            return len(items), unknown
        refused = set(_unknown_positions(response))
        if not refused:
            return 0, unknown
        unknown += len(refused)
        items = [item for i, item in enumerate(items) if i not in refused]
    return 0, unknown
