"""The demo's people against the real service over HTTP: the admin adds the new categories, three agents with
their own tokens work the queue (one slips, some tickets get a second opinion), the admin settles every
disagreement, and the audit trail names each of them."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from tests.helpers.people import people_setup
from tests.helpers.service import live_service
from tests.helpers.tiny_model import register_tiny_model, tiny_frame, tiny_registry
from ticketops.demo import humans

pytestmark = pytest.mark.integration
NEW = ["virtual_card_question"]
LAUNCH = [f"how do I get a virtual card for online shopping, question {i}" for i in range(30)]


def test_admin_and_agents_work_the_queue_through_http(tmp_path, monkeypatch) -> None:
    register_tiny_model(tiny_registry(tmp_path / "registry"), review_threshold=0.95)
    setup = people_setup(tmp_path / "people")
    people = humans.People.create(tmp_path / "users.yaml")
    monkeypatch.setattr(humans, "DOUBLE_REVIEW", 0.5)
    monkeypatch.setattr(humans, "SLIPS", {"agent-chen": 0.5})
    env = {**setup.env(), "TICKETOPS_AUTH_FILE": str(people.path)}
    pool = pd.concat(
        [tiny_frame()[["text", "label"]], pd.DataFrame({"text": LAUNCH, "label": NEW[0]})], ignore_index=True
    )
    with live_service(env) as url:
        texts = [*LAUNCH, *tiny_frame()["text"].head(30)]
        for start in range(0, len(texts), 20):
            body = {"tickets": [{"text": t} for t in texts[start : start + 20]]}
            assert httpx.post(f"{url}/classify", json=body, headers=people.headers(humans.CLIENT)).status_code == 200
        work = humans.work_the_queue(url, people, pool, NEW, log=lambda _m: None, budget=20, pause_s=0)
        admin = people.headers(humans.ADMIN)
        events = httpx.get(f"{url}/audit", params={"limit": 1000}, headers=admin).json()["events"]
        adjudication = httpx.get(f"{url}/adjudication", headers=admin).json()
    assert work.categories_added == NEW and work.queue_before >= len(LAUNCH)
    assert work.queue_after < work.queue_before and work.refused == 0
    assert set(work.labels_per_agent) == set(humans.AGENTS) and all(n > 0 for n in work.labels_per_agent.values())
    assert work.disputed > 0 and work.adjudicated == work.disputed and adjudication["pending"] == 0
    actors = {(e["actor"], e["action"]) for e in events}
    assert ("ops-admin", "category.added") in actors and ("ops-admin", "label.adjudicated") in actors
    assert {a for a, action in actors if action == "label.given"} >= set(humans.AGENTS)
    new_labels = [e for e in events if e["action"] == "label.given" and e["details"]["label"] == NEW[0]]
    assert new_labels  # a category no served model knows, labelled by agents
