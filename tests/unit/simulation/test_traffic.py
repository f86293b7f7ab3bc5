"""Scenario traffic against a fake service on loopback: pacing, what is sent, the feedback share, how failed
requests (HTTP errors, refused connections, unknown labels) are counted, the background generator
(start, switch, stop, concurrency) and the simulation pool."""

from __future__ import annotations

import time
from collections import Counter

import pandas as pd
import pytest

from tests.helpers.fake_service import closed_port_url, fake_service
from ticketops.config import IngestParams, Params, ScenarioParams
from ticketops.settings import service_settings
from ticketops.simulation.traffic import TrafficGenerator, send_traffic, simulation_pool

SCENARIOS = ScenarioParams()
EVERYDAY = ["card_arrival", "change_pin", "exchange_rate"]


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    labels = [*EVERYDAY, *SCENARIOS.surge_labels]
    return pd.DataFrame([{"text": f"ticket {i} about {label}", "label": label} for label in labels for i in range(40)])


def send(url, pool, count=40, **kwargs):
    kwargs.setdefault("rate", 0)
    kwargs.setdefault("feedback_rate", 0.0)
    return send_traffic(url, pool, kwargs.pop("scenario", "steady"), count, scenarios=SCENARIOS, **kwargs)


def number(ticket_id: str) -> int:
    return int(ticket_id.rsplit("-", 1)[1])


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for traffic"
        time.sleep(0.01)


# --- send_traffic: a fixed number of tickets -------------------------------------------------------


def test_every_ticket_is_classified_once_in_batches_with_unique_ids(pool):
    with fake_service(label="change_pin") as (url, received):
        summary = send(url, pool, count=40, batch_size=8, token="tok-1")
    assert [len(tickets) for _, tickets in received.classify] == [8] * 5
    ids = received.classified_ids()
    assert sorted(number(i) for i in ids) == list(range(1, 41))
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 1 and ids[0].startswith("sim-")  # one run id
    texts = [t["text"] for _, tickets in received.classify for t in tickets]
    assert set(texts) <= set(pool["text"])
    assert {h["Authorization"] for h in received.headers} == {"Bearer tok-1"}
    assert (summary.sent, summary.classified, summary.failed_requests) == (40, 40, 0)
    assert summary.predicted == Counter({"change_pin": 40})
    assert summary.to_dict()["top_predicted"] == {"change_pin": 40}
    assert summary.errors == [] and summary.feedback_sent == 0 and received.feedback == []


def test_requests_are_paced_to_the_ticket_rate_never_ahead_of_it(pool):
    with fake_service() as (url, received):
        before = time.monotonic()
        summary = send(url, pool, count=40, batch_size=8, rate=100)
    assert len(received.classify) == 5
    # batch k (8 tickets each) is due 8k/100 s after the start, and never arrives earlier
    for k, (arrived, _) in enumerate(received.classify):
        assert arrived - before >= k * 0.08 - 0.002, f"batch {k} arrived {arrived - before:.3f}s after start"
    assert 0.32 <= summary.seconds < 5.0


def test_long_texts_are_cut_to_the_service_limit():
    limit = service_settings().max_text_chars
    tiny = pd.DataFrame({"text": ["x" * (limit + 500), "short text"], "label": ["card_arrival"] * 2})
    with fake_service() as (url, received):
        send(url, tiny, count=2, batch_size=2)
    lengths = sorted(len(t["text"]) for _, tickets in received.classify for t in tickets)
    assert lengths == [len("short text"), limit]


def test_injected_tickets_are_counted(pool):
    with fake_service() as (url, _):
        summary = send(url, pool, count=40, scenario="surge", mixture=0.25)
    assert summary.injected == 10
    assert summary.to_dict()["injected"] == 10 and summary.to_dict()["scenario"] == "surge"


def test_full_feedback_labels_every_answered_ticket_with_its_true_label(pool):
    truth = dict(zip(pool["text"], pool["label"], strict=True))
    with fake_service() as (url, received):
        summary = send(url, pool, count=30, batch_size=8, feedback_rate=1.0)
    items = received.feedback_items()
    assert sorted(item["id"] for item in items) == sorted(received.classified_ids())
    assert all(item["label"] == truth[item["text"]] for item in items)
    assert all(len(batch) <= 8 for batch in received.feedback)
    assert (summary.feedback_sent, summary.feedback_failed, summary.feedback_unknown_label) == (30, 0, 0)


@pytest.mark.parametrize(("feedback_rate", "every"), [(0.5, 2), (0.25, 4), (0.125, 8)])
def test_the_feedback_share_is_exact_and_spread_out(pool, feedback_rate, every):
    with fake_service() as (url, received):
        summary = send(url, pool, count=64, batch_size=8, feedback_rate=feedback_rate)
    labelled = sorted(number(item["id"]) for item in received.feedback_items())
    assert labelled == list(range(every - 1, 65, every))  # one ticket in every ``every``, evenly spaced
    assert summary.feedback_sent == 64 // every


@pytest.mark.parametrize("feedback_rate", [0.3, 0.7])
def test_the_feedback_share_is_exact_for_decimal_rates(pool, feedback_rate):
    with fake_service() as (url, _):
        summary = send(url, pool, count=100, batch_size=10, feedback_rate=feedback_rate)
    assert summary.feedback_sent == round(100 * feedback_rate)


def test_http_errors_are_counted_per_request_and_their_tickets_get_no_feedback(pool):
    with fake_service(classify_status=lambda n: 503 if n % 2 == 0 else 200) as (url, received):
        summary = send(url, pool, count=40, batch_size=8, feedback_rate=1.0)
    assert (summary.sent, summary.classified, summary.failed_requests) == (40, 24, 2)
    assert len(summary.errors) == 2 and all(e.startswith("HTTP 503: ") for e in summary.errors)
    answered = {t["id"] for n, (_, tickets) in enumerate(received.classify, 1) if n % 2 for t in tickets}
    assert {item["id"] for item in received.feedback_items()} == answered
    assert summary.feedback_sent == 24


def test_refused_connections_count_as_failed_requests():
    tiny = pd.DataFrame({"text": [f"t{i}" for i in range(10)], "label": ["card_arrival"] * 10})
    summary = send(closed_port_url(), tiny, count=10, batch_size=4, feedback_rate=1.0, timeout=2.0)
    assert (summary.sent, summary.classified, summary.failed_requests) == (10, 0, 3)
    assert summary.errors == ["ConnectError"] * 3
    assert (summary.feedback_sent, summary.feedback_failed) == (0, 0)


def test_labels_the_model_does_not_know_are_dropped_and_the_rest_is_resent(pool):
    with fake_service(unknown_labels=frozenset({"change_pin"})) as (url, received):
        summary = send(url, pool, count=60, batch_size=8, feedback_rate=1.0)
    classified = [t for _, tickets in received.classify for t in tickets]
    truth = dict(zip(pool["text"], pool["label"], strict=True))
    unknown = sum(truth[t["text"]] == "change_pin" for t in classified)
    assert unknown > 0
    assert summary.feedback_unknown_label == unknown
    assert summary.feedback_sent == 60 - unknown and summary.feedback_failed == 0
    assert "change_pin" not in {item["label"] for item in received.feedback_items()}


def test_feedback_the_service_rejects_counts_as_failed(pool):
    with fake_service(feedback_status=500) as (url, _):
        summary = send(url, pool, count=16, batch_size=8, feedback_rate=1.0)
    assert (summary.feedback_sent, summary.feedback_failed) == (0, 16)
    assert summary.failed_requests == 0


# --- TrafficGenerator: windows, background runs, concurrency ------------------------------------------


def windows(prefix: str, size: int, label: str = "card_arrival"):
    drawn = []

    def next_window() -> pd.DataFrame:
        drawn.append(len(drawn))
        return pd.DataFrame({"text": [f"{prefix} {len(drawn)}.{i}" for i in range(size)], "label": label})

    return next_window


def test_run_draws_windows_until_the_count_and_never_mixes_windows_in_a_request():
    with fake_service() as (url, received):
        summary = TrafficGenerator(url, windows("w", 3), rate=0, feedback_rate=0, batch_size=2).run(7)
    batches = [[t["text"] for t in tickets] for _, tickets in received.classify]
    # Requests run concurrently, so they may arrive in any order: compare what each window sent, not the order.
    assert all(len({text.split(".")[0] for text in batch}) == 1 for batch in batches)
    assert sorted(len(b) for b in batches) == [1, 1, 1, 2, 2]
    per_window = {}
    for batch in batches:
        window = batch[0].split(".")[0]
        per_window[window] = per_window.get(window, 0) + len(batch)
    assert per_window == {"w 1": 3, "w 2": 3, "w 3": 1}
    assert summary.sent == summary.classified == 7


def test_an_empty_window_ends_the_run():
    empty = pd.DataFrame({"text": [], "label": []})
    with fake_service() as (url, received):
        summary = TrafficGenerator(url, lambda: empty, rate=0).run(5)
    assert summary.sent == 0 and received.classify == []


def test_a_background_run_is_paced_switches_after_the_current_window_and_stops():
    with fake_service() as (url, received):
        generator = TrafficGenerator(url, windows("alpha", 4), rate=50, feedback_rate=0, token="t")
        before = time.monotonic()
        generator.start()
        wait_until(lambda: len(received.classify) >= 6)
        generator.switch(windows("beta", 4))
        wait_until(lambda: any(ts[0]["text"].startswith("beta") for _, ts in received.classify[-3:]))
        time.sleep(0.1)
        summary = generator.stop()
        assert not generator._thread.is_alive()
        count_at_stop = len(received.classify)
        time.sleep(0.1)
        assert len(received.classify) == count_at_stop  # nothing is sent after stop() returned
    tickets = sorted((t for _, ts in received.classify for t in ts), key=lambda t: number(t["id"]))
    texts = [t["text"] for t in tickets]
    alphas = [t for t in texts if t.startswith("alpha")]
    assert alphas and len(alphas) % 4 == 0  # the window that was running when switched is finished
    assert texts[: len(alphas)] == alphas and all(t.startswith("beta") for t in texts[len(alphas) :])
    assert len(texts) > len(alphas)
    for k, (arrived, _) in enumerate(sorted(received.classify, key=lambda r: number(r[1][0]["id"]))):
        assert arrived - before >= k / 50 - 0.002  # one ticket every 20 ms, never ahead
    assert summary.sent == summary.classified == len(texts)
    assert summary.seconds >= (len(texts) - 1) / 50


def test_a_slow_service_never_has_more_than_concurrency_requests_in_flight():
    with fake_service(delay=0.1) as (url, received):
        summary = TrafficGenerator(url, windows("w", 10), rate=0, feedback_rate=0, concurrency=3).run(12)
    assert received.max_in_flight == 3
    assert summary.classified == 12 and summary.seconds >= 0.4  # 12 requests, 3 at a time, 0.1 s each


def test_background_failures_and_feedback_are_counted():
    with fake_service(classify_status=lambda n: 500 if n % 3 == 0 else 200) as (url, received):
        generator = TrafficGenerator(url, windows("w", 5), rate=200, feedback_rate=0.5, concurrency=4)
        generator.start()
        wait_until(lambda: len(received.classify) >= 12)
        summary = generator.stop()
    calls = len(received.classify)
    assert summary.sent == calls
    assert summary.failed_requests == calls // 3 and summary.classified == calls - calls // 3
    assert all(e.startswith("HTTP 500: ") for e in summary.errors)
    answered = {t["id"] for n, (_, ts) in enumerate(received.classify, 1) if n % 3 for t in ts}
    labelled = {item["id"] for item in received.feedback_items()}
    assert labelled == {i for i in answered if number(i) % 2 == 1}
    assert summary.feedback_sent == len(labelled)


# --- the pool --------------------------------------------------------------------------------------


def write_seed(root, rows) -> Params:
    seed = root / "data" / "seed" / "tiny" / "train.csv"
    seed.parent.mkdir(parents=True)
    pd.DataFrame(rows, columns=["body", "intent"]).to_csv(seed, index=False)
    ingest = IngestParams(seed_path="data/seed/tiny/train.csv", seed_text_column="body", seed_label_column="intent")
    return Params(ingest=ingest)


SEED = [("card late", "card_arrival"), ("new pin", "change_pin"), ("rate?", "exchange_rate"), ("close", "x")]


def test_without_split_files_the_pool_is_every_seed_ticket(tmp_path):
    params = write_seed(tmp_path, SEED)
    pool = simulation_pool(tmp_path, params)
    assert list(pool.columns) == ["text", "label"]
    assert list(zip(pool["text"], pool["label"], strict=True)) == SEED


def test_the_pool_leaves_out_what_the_model_was_trained_or_calibrated_on(tmp_path):
    params = write_seed(tmp_path, SEED)
    splits = tmp_path / "data" / "splits"
    splits.mkdir(parents=True)
    pd.DataFrame({"text": ["card late"], "label": ["card_arrival"]}).to_csv(splits / "train.csv", index=False)
    pd.DataFrame({"text": ["rate?"], "label": ["exchange_rate"]}).to_csv(splits / "validation.csv", index=False)
    pd.DataFrame({"text": ["new pin"], "label": ["change_pin"]}).to_csv(splits / "test.csv", index=False)
    pool = simulation_pool(tmp_path, params)
    assert pool["text"].tolist() == ["new pin", "close"]  # test split and held-out tickets stay
    assert pool.index.tolist() == [0, 1]
