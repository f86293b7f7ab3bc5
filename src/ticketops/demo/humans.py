"""The demo's people: named users with their own tokens, an admin who adds the launch's categories, and agents
who work the review queue through the real HTTP API (``GET /review``, ``POST /feedback``, ``POST /labels``).

The agents know the truth (the simulation sent the tickets) but act like people: each works its own share of
the queue at its own pace, one of them slips now and then, and a share of tickets is reviewed twice, so some
disagree and go to the admin's adjudication list, which the admin settles before the retraining.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import yaml

from ticketops.serving.auth import token_sha256
from ticketops.serving.redaction import redact

CLIENT, SYNC, ADMIN = "crm-backend", "helpdesk-sync", "ops-admin"
AGENTS = ("agent-ana", "agent-ben", "agent-chen")
SLIPS = {"agent-chen": 0.15}  # share of tickets an agent labels with the model's guess instead of the truth
DOUBLE_REVIEW = 0.15  # share of tickets a second agent labels too (quality control)
# params.yaml for the demo: seed tickets of the launch's intents (held out by split.holdout_labels) may carry
# labels the catalogue lacks; they stay out of training until an admin adds the category and agents label them
PARAMS = {"ingest": {"seed_outside_catalogue": "holdout"}}


@dataclass
class People:
    """The demo's users: name → (role, token); the file the service reads holds only the tokens' SHA-256."""

    tokens: dict[str, tuple[str, str]]
    path: Path
    done: threading.Event = field(default_factory=threading.Event)  # set when the agents are through
    since: float = field(default_factory=time.time)  # the run's audit summary starts here

    @classmethod
    def create(cls, path: Path) -> People:
        roles = {CLIENT: "client", SYNC: "agent", ADMIN: "admin", **{name: "agent" for name in AGENTS}}
        people = cls({name: (role, secrets.token_urlsafe(24)) for name, role in roles.items()}, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        users = [{"name": n, "role": r, "token_sha256": token_sha256(t)} for n, (r, t) in people.tokens.items()]
        path.write_text(yaml.safe_dump({"users": users}, sort_keys=False))
        path.chmod(0o600)
        return people

    def token(self, name: str) -> str:
        return self.tokens[name][1]

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name)}"}


def demo_params(new_labels: list[str]) -> dict:
    """The demo's params.yaml changes (workspace.demo_params) with the people's."""
    from ticketops.demo.workspace import deep_update
    from ticketops.demo.workspace import demo_params as base

    return deep_update(base(new_labels), PARAMS)


def prepare_workspace(workspace: Path, new_labels: list[str], log: Callable[[str], None]) -> People:
    """The catalogue starts without the launch's intents; users with roles; the service requires their tokens
    (the simulated traffic carries ``helpdesk-sync``'s: it classifies and syncs agents' final categories)."""
    from ticketops.data.catalogue import Catalogue, load_catalogue, save_catalogue
    from ticketops.settings import service_settings

    path = workspace / "data" / "labels" / "catalogue.json"
    catalogue = load_catalogue(path)
    kept = [c for c in catalogue.categories if c.name not in set(new_labels)]
    save_catalogue(path, Catalogue(version=catalogue.version, categories=kept))
    people = People.create(workspace / ".ticketops" / "users.yaml")
    os.environ["TICKETOPS_AUTH_FILE"] = str(people.path)
    os.environ["TICKETOPS_TRAFFIC_TOKEN"] = people.token(SYNC)
    service_settings.cache_clear()
    log(f"  not in the label catalogue until an admin adds them: {', '.join(new_labels)}")
    log(f"  users with roles and their own tokens: {', '.join(people.tokens)} ({people.path})")
    return people


def record_forced_challenger(target: str, version: str, gate: dict) -> None:
    """The demo's operator forcing @challenger past the gate is a human decision: audited."""
    from ticketops.audit import AuditTrail

    details = {"to": version, "gate": gate, "reason": "ticketops demo: exercising the canary"}
    AuditTrail.from_settings().record(ADMIN, "alias.forced", target, details)


def launch_categories(labels: list[str]) -> list[dict[str, str]]:
    """The categories the admin adds: the launch's intents, described from their names."""
    return [{"name": label, "description": label.replace("_", " ")} for label in labels]


@dataclass
class QueueWork:
    """What the people did in the demo (part of its summary JSON)."""

    queue_before: int = 0
    queue_after: int = 0
    categories_added: list[str] = field(default_factory=list)
    labels_per_agent: dict[str, int] = field(default_factory=dict)
    disputed: int = 0
    adjudicated: int = 0
    refused: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Agent:
    """One simulated agent: takes every ``stride``-th ticket of the queue from ``offset``, labels it, repeats."""

    def __init__(self, name: str, url: str, headers: Mapping[str, str], truth: Callable[[str], str | None], seed: int):
        self.name = name
        self.client = httpx.Client(base_url=url, headers=dict(headers), timeout=30)
        self.truth = truth
        self.rng = np.random.default_rng(seed)
        self.labelled = 0
        self.disputed_ids: set[str] = set()  # a third opinion on a disputed ticket answers "disputed" again
        self.refused = 0

    def label(self, item: dict) -> None:
        true = self.truth(item["text"])
        if true is None:
            return
        slip = self.rng.random() < SLIPS.get(self.name, 0.0)
        chosen = item["label"] if slip else true
        response = self.client.post("/feedback", json={"items": [{"id": item["id"], "label": chosen}]})
        if response.status_code != 200:
            self.refused += 1
            return
        self.labelled += 1
        if response.json()["results"][0]["status"] == "disputed":
            self.disputed_ids.add(str(item["id"]))

    def work(self, offset: int, stride: int, budget: int, reviewer: Agent, pause_s: float) -> None:
        """Label this agent's share until ``budget``; ``reviewer`` labels a share of them again."""
        while self.labelled < budget:
            items = self.client.get("/review", params={"limit": 60}).json()["items"]  # reasons cost CPU: a page
            before = self.labelled
            for item in items[offset::stride]:
                if self.labelled >= budget:
                    return
                self.label(item)
                if self.rng.random() < DOUBLE_REVIEW:
                    reviewer.label(item)
                time.sleep(pause_s)
            if self.labelled == before:  # nothing of this agent's share it could label: done
                return


def work_the_queue(
    url: str,
    people: People,
    pool: pd.DataFrame,
    new_labels: list[str],
    log: Callable[[str], None],
    budget: int = 150,
    pause_s: float = 0.02,
    seed: int = 13,
) -> QueueWork:
    """Admin adds the categories, agents label the queue, admin settles disagreements; all through HTTP."""
    truth_by_text = {redact(str(t)): str(lab) for t, lab in zip(pool["text"], pool["label"], strict=True)}
    result = QueueWork()
    with httpx.Client(base_url=url, headers=people.headers(ADMIN), timeout=30) as admin:
        result.queue_before = admin.get("/review", params={"limit": 1}).json()["pending"]
        log(f"  review queue: {result.queue_before} tickets the model is unsure of wait for an agent")
        for category in launch_categories(new_labels):
            response = admin.post("/labels", json=category)
            if response.status_code == 200:
                result.categories_added.append(category["name"])
        log(f"  {ADMIN} added {len(result.categories_added)} categories: {', '.join(result.categories_added)}")
        agents = [Agent(n, url, people.headers(n), truth_by_text.get, seed + i) for i, n in enumerate(AGENTS)]
        # A second opinion comes from the next agent, on a client of its own (one per thread).
        reviewers = [
            Agent(
                AGENTS[(i + 1) % len(AGENTS)],
                url,
                people.headers(AGENTS[(i + 1) % len(AGENTS)]),
                truth_by_text.get,
                seed + 10 + i,
            )
            for i in range(len(AGENTS))
        ]
        threads = [
            threading.Thread(target=a.work, args=(i, len(agents), budget, reviewers[i], pause_s), daemon=True)
            for i, a in enumerate(agents)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        disputes = admin.get("/adjudication", params={"limit": 200}).json()["items"]
        for item in disputes:
            true = truth_by_text.get(item["text"])
            if true and admin.post("/feedback", json={"items": [{"id": item["id"], "label": true}]}).status_code == 200:
                result.adjudicated += 1
        result.queue_after = admin.get("/review", params={"limit": 1}).json()["pending"]
    everyone = [*agents, *reviewers]
    for agent in everyone:
        agent.client.close()
    per_agent: Counter[str] = Counter()
    for agent in everyone:
        per_agent[agent.name] += agent.labelled
    result.labels_per_agent = dict(sorted(per_agent.items()))
    result.disputed = len(set().union(*(a.disputed_ids for a in everyone)))  # tickets, not answers
    result.refused = sum(a.refused for a in everyone)
    log(
        f"  agents labelled {sum(result.labels_per_agent.values())} tickets ({result.labels_per_agent}); "
        f"{result.disputed} disagreements, {result.adjudicated} settled by {ADMIN}; "
        f"queue {result.queue_before} → {result.queue_after}"
    )
    return result


def people_phase(demo) -> None:
    """The demo's phase 6: the admin and the agents at the queue; the waiting retraining goes on afterwards."""
    from ticketops.config import load_params
    from ticketops.simulation.traffic import simulation_pool

    demo.phase(6, "people: the admin adds the launch's categories, agents work the review queue (HTTP, own tokens)")
    params = load_params()
    try:
        pool = simulation_pool(demo.ws, params)
        new = list(params.scenarios.new_intent_labels)
        demo.result.extra["people"] = work_the_queue(
            demo.stack.splitter_url, demo.people, pool, new, demo.log
        ).as_dict()
    finally:
        demo.people.done.set()


def retrain_trigger(on_alert: Callable[[list[str]], str], people: People):
    """The webhook's trigger, audited; a retraining waits for the agents so their labels go into it."""
    from ticketops.audit import AuditTrail
    from ticketops.retraining.webhook import RetrainTrigger

    def after_people(names: list[str]) -> str:
        people.done.wait(timeout=900)
        return on_alert(names)

    return RetrainTrigger(after_people, record=AuditTrail.from_settings().record)


def audit_summary(since: float) -> dict:
    """The run's audit trail: counts by action and actor, every non-label decision in full, and the check
    that it holds every event of ``ticketops rollout history``."""
    from datetime import UTC, datetime

    from ticketops.audit import AuditTrail
    from ticketops.rollout.audit import missing_from_audit
    from ticketops.rollout.factory import event_log

    trail = AuditTrail.from_settings()
    try:
        events = trail.events(limit=0, since=datetime.fromtimestamp(since, UTC))
    finally:
        trail.close()
    history = [e for e in event_log().read() if e.time >= since]
    counts = Counter(f"{e.action} by {e.actor}" for e in events)
    decisions = [e.model_dump(mode="json") for e in reversed(events) if not e.action.startswith("label.given")]
    return {
        "events": len(events),
        "counts": dict(sorted(counts.items())),
        "decisions": decisions,
        "rollout_history_events": len(history),
        "missing_vs_rollout_history": len(missing_from_audit(history, events)),
    }
