"""The in-cluster shadow mirror over real HTTP, with two small stand-ins for the stable and canary Services.

The mirror answers the Gateway's copies at once, asks both tracks (marked as shadow traffic, with the client's
token), pairs their answers and, on a mirrored /feedback, counts who was right: the series the shadow checks
read. When both tracks answer with the same model version it records nothing and asks again only after
``recheck_s``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.helpers.aiohttp_app import running_app
from tests.helpers.fake_service import closed_port_url, fake_service
from ticketops.rollout.argo.shadow_mirror import ShadowMirror, build_app
from ticketops.serving.access import service_authorizer
from ticketops.serving.auth import UserDirectory
from ticketops.settings import SHADOW_HEADER

TOKEN = "client-token-2a7f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def mirror_of(stable: str, canary: str, token: str | None = TOKEN, **options):
    registry = CollectorRegistry()
    mirror = ShadowMirror(stable, canary, registry, **options)
    directory = UserDirectory(admin_token=SecretStr(token) if token else None)
    with running_app(build_app(mirror, service_authorizer(directory), registry, timeout_s=5)) as url:
        yield url


@pytest.fixture(scope="module")
def http():
    with httpx.Client(headers=AUTH, timeout=10) as client:
        yield client


def sample(http: httpx.Client, url: str, name: str, **labels: str) -> float:
    """One series of the mirror's /metrics (0 when absent)."""
    for family in text_string_to_metric_families(http.get(f"{url}/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.05)


def classify(http: httpx.Client, url: str, ids: list[str]) -> httpx.Response:
    tickets = [{"id": i, "text": f"where is my card {i}"} for i in ids]
    return http.post(f"{url}/classify", json={"tickets": tickets})


def test_mirrored_tickets_are_paired_and_labels_count_who_was_right(http):
    with (
        fake_service(label="card_arrival", model_version="6") as (stable, stable_got),
        fake_service(label="lost_or_stolen_card", model_version="7") as (canary, canary_got),
        mirror_of(stable, canary) as url,
    ):
        started = time.monotonic()
        answers = [classify(http, url, [f"t{i}", f"u{i}"]) for i in range(5)]
        assert time.monotonic() - started < 5
        assert all(a.status_code == 202 and a.json()["mirrored"] for a in answers), [a.text for a in answers]
        wait_until(lambda: sample(http, url, "ticketops_shadow_pairs_total", agree="false") == 10)
        assert sample(http, url, "ticketops_shadow_pairs_total", challenger_label="lost_or_stolen_card") == 10
        for got in (stable_got, canary_got):  # both tracks were asked, as shadow traffic, with the client's token
            assert sorted(got.classified_ids()) == sorted([f"t{i}" for i in range(5)] + [f"u{i}" for i in range(5)])
            assert all(h.get(SHADOW_HEADER) == "1" for h in got.headers)
            assert all(h.get("Authorization") == AUTH["Authorization"] for h in got.headers)
        items = [{"id": f"t{i}", "label": "card_arrival"} for i in range(5)] + [{"id": "never-mirrored", "label": "x"}]
        assert http.post(f"{url}/feedback", json={"items": items}).status_code == 202
        right = {"stable_correct": "true", "challenger_correct": "false", "true_label": "card_arrival"}
        wait_until(lambda: sample(http, url, "ticketops_shadow_labelled_total", **right) == 5)
        assert sample(http, url, "ticketops_shadow_labelled_total") == 5  # the unknown ticket counts for nothing
        assert not stable_got.feedback and not canary_got.feedback  # the real label went to the service itself


def test_at_rest_both_tracks_on_one_version_record_nothing_and_are_asked_again_only_later(http):
    with (
        fake_service(model_version="6") as (stable, stable_got),
        fake_service(model_version="6") as (canary, canary_got),
        mirror_of(stable, canary, recheck_s=1.0) as url,
    ):
        classify(http, url, ["a0"])
        wait_until(lambda: sample(http, url, "ticketops_shadow_mirror_same_version") == 1)
        skipped = [classify(http, url, [f"a{i}"]).json()["mirrored"] for i in range(1, 6)]
        assert skipped == [False] * 5
        assert sample(http, url, "ticketops_shadow_skipped_total", reason="same_version") == 5
        assert (len(stable_got.classify), len(canary_got.classify)) == (1, 1)  # no double load at rest
        time.sleep(1.1)
        assert classify(http, url, ["b0"]).json()["mirrored"]  # the re-check
        wait_until(lambda: len(canary_got.classify) == 2)
        assert sample(http, url, "ticketops_shadow_pairs_total") == 0


def test_a_slow_challenger_is_bounded_in_flight_and_never_slows_the_answer(http):
    with (
        fake_service(model_version="6") as (stable, _),
        fake_service(model_version="7", delay=1.0) as (canary, canary_got),
        mirror_of(stable, canary, max_in_flight=2) as url,
    ):
        started = time.monotonic()
        mirrored = [classify(http, url, [f"s{i}"]).json()["mirrored"] for i in range(6)]
        assert time.monotonic() - started < 1.0  # answered before the challenger answered even one
        assert mirrored == [True, True, False, False, False, False]
        assert sample(http, url, "ticketops_shadow_skipped_total", reason="busy") == 4
        wait_until(lambda: sample(http, url, "ticketops_shadow_pairs_total") == 2)
        assert canary_got.max_in_flight == 2


def test_a_track_that_fails_or_is_away_pairs_nothing(http):
    with (
        fake_service(model_version="6") as (stable, _),
        fake_service(model_version="7", classify_status=lambda n: 503) as (canary, _),
        mirror_of(stable, canary) as url,
        mirror_of(stable, closed_port_url()) as away,
    ):
        classify(http, url, ["f0"])
        classify(http, away, ["f1"])
        for base in (url, away):
            wait_until(lambda b=base: sample(http, b, "ticketops_shadow_skipped_total", reason="failed") == 1)
            assert sample(http, base, "ticketops_shadow_pairs_total") == 0


def test_copies_without_a_known_token_are_refused_and_count_nothing(http):
    with (
        fake_service(model_version="6") as (stable, stable_got),
        fake_service(model_version="7") as (canary, _),
        mirror_of(stable, canary) as url,
    ):
        assert httpx.post(f"{url}/classify", json={"tickets": [{"id": "x", "text": "hi"}]}).status_code == 401
        forged = {"items": [{"id": "x", "label": "card_arrival"}]}
        assert httpx.post(f"{url}/feedback", json=forged, headers={"Authorization": "Bearer no"}).status_code == 401
        for path in ("/livez", "/readyz", "/metrics"):
            assert httpx.get(url + path).status_code == 200, path
        assert not stable_got.classify
