"""The agents' review page (``GET /ui``) in headless Chromium, driven by Playwright with the keyboard, and the
demo's simulated people on the same live service.

The real service (BentoML's ASGI app on uvicorn, a tiny registered model, a users file with roles) serves the
page; a client token is refused at sign-in, an agent labels two tickets with the keyboard (accept the model's
label, then pick another) and sees the queue shrink and their count grow, and an admin sees the adjudication
list and the audit trail, and a screenshot is saved (`make screenshots`: docs/img/review.png, in the README).
Then the demo's people (demo/humans.py) work the same service over HTTP: the admin adds a category, three agents
with their own tokens label the queue (one slips, some tickets get a second opinion), the admin settles every
disagreement, and the audit trail names each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.helpers.people import USERS, bearer, people_setup, write_users
from tests.helpers.screenshots import screenshot_path
from tests.helpers.service import live_service
from tests.helpers.tiny_model import register_tiny_model, tiny_frame, tiny_labels, tiny_registry
from ticketops.demo import humans

pytestmark = pytest.mark.integration
DEMO_PEOPLE: list[humans.People] = []  # set by the service fixture
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
TICKETS = [  # with a review threshold of 0.95 the tiny model sends all of these to review
    "I was charged twice for a refund that never came, call me on +44 20 7946 0958",
    "can I change the pin of the card I lost yesterday",
    "the card I ordered last week is not here and I need to pay rent",
    "how do I close my account and get my money back",
    "please cancel everything, I am moving abroad",
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on a free loopback port; yields its base URL."""
    root = tmp_path_factory.mktemp("page")
    register_tiny_model(tiny_registry(root / "registry"), review_threshold=0.95)
    setup = people_setup(root / "people")
    demo_people = humans.People.create(root / "demo-users.yaml")  # the demo's agents (second test) as well
    demo_people.tokens.update({name: USERS[name] for name in demo_people.tokens.keys() & USERS.keys()})
    write_users(setup.users_file, {**demo_people.tokens, **USERS})
    DEMO_PEOPLE.append(demo_people)
    with live_service(setup.env()) as url:
        yield url


def pending(url: str) -> int:
    return httpx.get(f"{url}/review?limit=1", headers=bearer("agent-1")).json()["pending"]


def test_an_agent_works_the_queue_with_the_keyboard(service: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (make install installs it)")
    response = httpx.post(
        f"{service}/classify", json={"tickets": [{"text": t} for t in TICKETS]}, headers=bearer("crm-backend")
    )
    flagged = [p for p in response.json()["predictions"] if p["needs_review"]]
    assert len(flagged) == len(TICKETS), response.text
    start = pending(service)
    other = next(label for label in tiny_labels() if label != flagged[1]["label"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # its own temporary profile
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 560})
            page.goto(f"{service}/ui")
            page.fill("#token", USERS["crm-backend"][1])
            page.keyboard.press("Enter")
            expect(page.locator("#signin-error")).to_contain_text("Refused")
            expect(page.locator("#work")).to_be_hidden()

            page.fill("#token", USERS["agent-1"][1])
            page.keyboard.press("Enter")
            expect(page.locator("#who")).to_have_text("agent-1 (agent)")
            expect(page.locator("#pending")).to_have_text(str(start))
            expect(page.locator("#labelled-today")).to_have_text("0")
            first = page.locator("#ticket-panel").get_attribute("data-ticket-id")
            assert first == flagged[0]["id"]  # oldest first
            expect(page.locator("#similar li").first).to_be_visible()
            expect(page.locator("#terms .chip").first).to_be_visible()
            assert "7946" not in page.locator("body").inner_text()  # PII as stored: redacted

            page.keyboard.press("a")  # accept the model's label
            expect(page.locator("#pending")).to_have_text(str(start - 1))
            expect(page.locator("#labelled-today")).to_have_text("1")
            expect(page.locator("#ticket-panel")).not_to_have_attribute("data-ticket-id", first)

            skipped = page.locator("#ticket-panel").get_attribute("data-ticket-id")
            page.keyboard.press("s")  # skip it (to the end of the list), then come back to it with "p"
            expect(page.locator("#ticket-panel")).not_to_have_attribute("data-ticket-id", skipped)
            page.keyboard.press("p")
            expect(page.locator("#ticket-panel")).to_have_attribute("data-ticket-id", skipped)
            page.keyboard.press("n")
            second = page.locator("#ticket-panel").get_attribute("data-ticket-id")
            page.keyboard.press("l")  # pick another label
            page.keyboard.type(other)
            page.keyboard.press("Enter")
            expect(page.locator("#pending")).to_have_text(str(start - 2))
            expect(page.locator("#labelled-today")).to_have_text("2")
            expect(page.locator("#message")).to_contain_text(f"Labelled {other}")
            screenshot = screenshot_path("review.png", tmp_path)
            page.screenshot(path=str(screenshot), full_page=True)

            admin = browser.new_page(viewport={"width": 1400, "height": 900})
            admin.goto(f"{service}/ui")
            admin.fill("#token", USERS["ops-admin"][1])
            admin.keyboard.press("Enter")
            expect(admin.locator("#admin-panel")).to_be_visible()
            expect(admin.locator("#audit tr").first).to_contain_text("agent-1")
            expect(admin.locator("#adjudication-count")).to_have_text("(0)")
        finally:
            browser.close()
    assert pending(service) == start - 2
    events = httpx.get(f"{service}/audit?limit=10", headers=bearer("ops-admin")).json()["events"]
    given = {(e["target"], e["details"]["label"]) for e in events if e["actor"] == "agent-1"}
    assert given == {(f"ticket/{first}", flagged[0]["label"]), (f"ticket/{second}", other)}
    assert screenshot.stat().st_size > 20_000


NEW = ["virtual_card_question"]
LAUNCH = [f"how do I get a virtual card for online shopping, question {i}" for i in range(30)]


def test_the_demos_admin_and_agents_work_the_queue_through_http(service: str, monkeypatch) -> None:
    (people,) = DEMO_PEOPLE
    url = service
    monkeypatch.setattr(humans, "DOUBLE_REVIEW", 0.5)
    monkeypatch.setattr(humans, "SLIPS", {"agent-chen": 0.5})
    pool = pd.concat(
        [tiny_frame()[["text", "label"]], pd.DataFrame({"text": LAUNCH, "label": NEW[0]})], ignore_index=True
    )
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
