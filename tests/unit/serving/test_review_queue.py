"""The review queue, agents' labels, adjudication, the audit trail and new categories, on the real service.

ARCHITECTURE.md "Review queue" and "Audit trail": flagged tickets appear (oldest first, redacted, with
reasons), labelled ones leave, two agents who disagree send the ticket to the admin's adjudication list
instead of the training data, and a label for an unknown id, a guessed id, another text or a label outside
the catalogue is a 4xx that writes nothing.
"""

from __future__ import annotations

import secrets
import sqlite3

import pytest

from tests.helpers.people import bearer
from tests.helpers.tiny_model import tiny_labels
from ticketops.data.catalogue import load_catalogue
from ticketops.retraining.export import labelled_rows

UNSURE = [  # nothing like the tiny training tickets: the model is unsure of all of them
    "zebracorn quantum marmalade ticket one",
    "purple elephant violin sonata two",
    "my email is harriet.quimby@example.org, glorp flibber three",
    "sandcastle thermodynamics philately four",
    "xylophone meridian hazelnut five",
]
EMAIL = "harriet.quimby@example.org"


def classify(client, texts: list[str], as_user: str = "crm-backend") -> list[dict]:
    response = client.post("/classify", json={"tickets": [{"text": t} for t in texts]}, headers=bearer(as_user))
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def queue(client, as_user: str = "agent-1", limit: int = 200) -> dict:
    response = client.get(f"/review?limit={limit}", headers=bearer(as_user))
    assert response.status_code == 200, response.text
    return response.json()


def label(client, as_user: str, items: list[dict]):
    return client.post("/feedback", json={"items": items}, headers=bearer(as_user))


def counts(setup) -> tuple[int, int, int]:
    """(review labels, audit events, predictions with a true label): what a refused request must not change."""
    with sqlite3.connect(setup.log_db) as conn:
        return tuple(
            conn.execute(sql).fetchone()[0]
            for sql in (
                "select count(*) from review_labels",
                "select count(*) from audit_events",
                "select count(*) from predictions where true_label is not null",
            )
        )


@pytest.fixture(scope="module")
def flagged(client) -> list[dict]:
    predictions = classify(client, UNSURE)
    assert all(p["needs_review"] for p in predictions), predictions
    return predictions


def test_flagged_tickets_wait_oldest_first_redacted_with_reasons(client, flagged) -> None:
    sure = classify(client, ["I want to find out what happened to my new card?"])[0]
    body = queue(client)
    ids = [item["id"] for item in body["items"]]
    assert ids[: len(flagged)] == [p["id"] for p in flagged]  # oldest first
    assert body["pending"] == len(ids) >= len(flagged)
    assert sure["needs_review"] or sure["id"] not in ids
    item = body["items"][2]
    assert EMAIL not in str(body) and "[EMAIL]" in item["text"]  # as stored: redacted
    assert {"id", "text", "label", "confidence", "model_version", "received_at"} <= set(item)
    assert item["label"] in tiny_labels() and 0 <= item["confidence"] < 0.5
    reasons = body["items"][0]["reasons"]
    assert reasons["similar_from"] == "training split"
    assert len(reasons["similar"]) >= 1 and all(s["label"] in tiny_labels() for s in reasons["similar"])
    card = classify(client, ["my new card has still not arrived, where is my card"])[0]
    if card["needs_review"]:
        explained = next(i for i in queue(client)["items"] if i["id"] == card["id"])["reasons"]
        assert explained["top_terms"] and all(t["weight"] > 0 for t in explained["top_terms"])
    assert queue(client, limit=2)["pending"] == body["pending"] + int(card["needs_review"])
    assert len(queue(client, limit=2)["items"]) == 2


def test_generated_ids_are_unguessable(flagged) -> None:
    ids = [p["id"] for p in flagged]
    assert len(set(ids)) == len(ids)
    assert all(len(i) >= 22 for i in ids)  # 128 random bits, url-safe base64


def test_a_label_takes_the_ticket_out_of_the_queue_and_counts_for_the_agent(client, setup, flagged) -> None:
    first = flagged[0]
    before = queue(client)["pending"]
    today = client.get("/whoami", headers=bearer("agent-1")).json()["labelled_today"]
    response = label(client, "agent-1", [{"id": first["id"], "label": tiny_labels()[0]}])
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"id": first["id"], "status": "labelled"}]
    after = queue(client)
    assert after["pending"] == before - 1 and first["id"] not in [i["id"] for i in after["items"]]
    assert client.get("/whoami", headers=bearer("agent-1")).json()["labelled_today"] == today + 1
    events = client.get("/audit?limit=5", headers=bearer("ops-admin")).json()["events"]
    assert events[0]["actor"] == "agent-1" and events[0]["action"] == "label.given"
    assert events[0]["target"] == f"ticket/{first['id']}" and events[0]["details"]["label"] == tiny_labels()[0]


def test_disagreement_goes_to_adjudication_not_to_training(client, setup, flagged) -> None:
    ticket = flagged[1]
    first, second = tiny_labels()[0], tiny_labels()[1]
    assert label(client, "agent-1", [{"id": ticket["id"], "label": first}]).status_code == 200
    disputed = label(client, "agent-2", [{"id": ticket["id"], "label": second}])
    assert disputed.json()["results"][0]["status"] == "disputed"
    listed = client.get("/adjudication", headers=bearer("ops-admin")).json()["items"]
    entry = next(i for i in listed if i["id"] == ticket["id"])
    assert {(o["actor"], o["label"]) for o in entry["labels"]} == {("agent-1", first), ("agent-2", second)}
    assert client.get("/adjudication", headers=bearer("agent-1")).status_code == 403
    assert ticket["id"] not in [i["id"] for i in queue(client)["items"]]
    training = labelled_rows(f"sqlite:///{setup.log_db}", 0.0)
    assert UNSURE[1] not in set(training["text"])  # a disputed ticket is not training data
    settled = label(client, "ops-admin", [{"id": ticket["id"], "label": second}])
    assert settled.json()["results"][0]["status"] == "adjudicated"
    assert ticket["id"] not in [
        i["id"] for i in client.get("/adjudication", headers=bearer("ops-admin")).json()["items"]
    ]
    training = labelled_rows(f"sqlite:///{setup.log_db}", 0.0)
    assert dict(zip(training["text"], training["label"], strict=True))[UNSURE[1]] == second
    actions = [e["action"] for e in client.get("/audit?limit=3", headers=bearer("ops-admin")).json()["events"]]
    assert actions[:2] == ["label.adjudicated", "label.disputed"]


def test_refused_labels_are_4xx_and_write_nothing(client, setup, flagged) -> None:
    ticket, other = flagged[3], flagged[2]
    good = {"id": ticket["id"], "label": tiny_labels()[0]}
    cases = [
        ({"id": "never-classified", "label": tiny_labels()[0]}, 404, "unknown_id"),
        ({"id": secrets.token_urlsafe(16), "label": tiny_labels()[0]}, 404, "unknown_id"),  # a guessed id
        ({"id": other["id"], "label": "not_in_the_catalogue"}, 400, "unknown_label"),
        ({"id": other["id"], "text": "some other text", "label": tiny_labels()[0]}, 409, "text_mismatch"),
        (dict(good), 400, "duplicate_id"),
    ]
    before = counts(setup)
    for bad, status, code in cases:
        response = label(client, "agent-1", [good, bad])
        assert response.status_code == status, (bad, response.text)
        body = response.json()
        assert body["error"] == code and body["fields"][0]["field"].startswith("items.1.")
        assert "some other text" not in response.text
    assert counts(setup) == before
    waiting = [i["id"] for i in queue(client)["items"]]
    assert ticket["id"] in waiting and other["id"] in waiting
    same_text = label(client, "agent-1", [{**good, "text": UNSURE[3]}])  # the classified text (redacted as stored)
    assert same_text.status_code == 200
    assert label(client, "crm-backend", [good]).status_code == 403


def test_an_admin_adds_a_category_and_agents_may_use_it_before_any_model_knows_it(client, setup, flagged) -> None:
    version = load_catalogue(setup.catalogue).version
    new = {"name": "virtual_card_topup", "description": "topping up a virtual card"}
    assert client.post("/labels", json=new, headers=bearer("agent-1")).status_code == 403
    added = client.post("/labels", json=new, headers=bearer("ops-admin"))
    assert added.status_code == 200 and added.json()["catalogue_version"] == version + 1
    assert client.post("/labels", json=new, headers=bearer("ops-admin")).status_code == 409
    bad = client.post("/labels", json={"name": "no spaces!"}, headers=bearer("ops-admin"))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_category"
    catalogue = client.get("/labels", headers=bearer("agent-2")).json()
    entry = next(c for c in catalogue["categories"] if c["name"] == "virtual_card_topup")
    assert entry["served"] is False and entry["added_by"] == "ops-admin"
    response = label(client, "agent-2", [{"id": flagged[4]["id"], "label": "virtual_card_topup"}])
    assert response.status_code == 200, response.text
    events = client.get("/audit?limit=10", headers=bearer("ops-admin")).json()["events"]
    added_event = next(e for e in events if e["action"] == "category.added")
    assert added_event["actor"] == "ops-admin" and added_event["target"] == "category/virtual_card_topup"


def test_the_audit_trail_is_newest_first_filtered_by_time_and_append_only(client, setup) -> None:
    events = client.get("/audit?limit=1000", headers=bearer("ops-admin")).json()["events"]
    assert len(events) >= 6 and [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    since = events[2]["at"]
    recent = client.get(f"/audit?since={since}", headers=bearer("ops-admin")).json()["events"]
    assert recent and all(e["at"] >= since for e in recent) and len(recent) < len(events)
    assert client.get("/audit?since=yesterday", headers=bearer("ops-admin")).status_code == 422
    assert client.get("/audit", headers=bearer("agent-1")).status_code == 403
    with sqlite3.connect(setup.log_db) as conn:
        for sql in ("update audit_events set actor = 'someone-else'", "delete from audit_events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
