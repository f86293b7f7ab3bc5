"""A cascade behind the real service (BentoML's ASGI app, a tiny cascade in a real registry).

The fast stage answers in the request path and its answers never enter the batcher; unsure tickets go
through the batcher to the slow stage; every answer, metric and log row names its stage; the slow-stage
share is exported over a sliding window beside its level on the model's reference sample.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.service import AUTH, TOKEN, runtime, service_client
from tests.helpers.tiny_model import register_tiny_model, tiny_frame, tiny_registry
from ticketops.fileio import read_csv
from ticketops.modeling.classifiers import CascadeClassifier
from ticketops.registry.loading import open_model
from ticketops.serving.runtime import FAST_INLINE_CHARS

URI = "models:/ticket-classifier@champion"
WINDOW = 8


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    reg = tiny_registry(tmp_path_factory.mktemp("cascade-registry"))
    version = register_tiny_model(reg, family="cascade", fast_share=0.5)
    return reg, version


@pytest.fixture(scope="module")
def expected(registry):
    """Per fixture text, whether the registered cascade's fast stage answers it, and the cascade's answer."""
    texts = list(dict.fromkeys(tiny_frame()["text"]))
    with open_model(URI, threads=1) as model:
        cascade = model.predictor.classifier
        assert isinstance(cascade, CascadeClassifier)
        proba, answered = cascade.predict_proba_with_stage(texts)
        reference = read_csv(model.folder / "reference.csv")["text"].tolist()
        reference_share = float(np.mean(~cascade.route(cascade.fast.predict_proba(reference))))
    labels = [cascade.labels[i] for i in proba.argmax(axis=1)]
    fast = [t for t, a in zip(texts, answered, strict=True) if a]
    slow = [t for t, a in zip(texts, answered, strict=True) if not a]
    assert len(fast) >= 10 and len(slow) >= 10, "the tiny cascade must exercise both stages"
    return {
        "fast": fast,
        "slow": slow,
        "label": dict(zip(texts, labels, strict=True)),
        "confidence": dict(zip(texts, proba.max(axis=1), strict=True)),
        "reference_share": reference_share,
    }


@pytest.fixture(scope="module")
def client(registry, tmp_path_factory: pytest.TempPathFactory):
    env = {
        "TICKETOPS_MODEL_URI": URI,
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{tmp_path_factory.mktemp('log') / 'predictions.db'}",
        "TICKETOPS_SLOW_SHARE_WINDOW": str(WINDOW),
        "TICKETOPS_THREADS": "1",
        "TICKETOPS_ENCODER_BATCH_SIZE": "4",
    }
    with service_client(env) as c:
        yield c


class BatcherSpy:
    """Wraps the batcher's batch function: records every text it is given, can hold calls on a gate."""

    def __init__(self, fn):
        self.fn = fn
        self.texts: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, texts):
        self.entered.set()
        assert self.gate.wait(30)
        self.texts.extend(texts)
        return self.fn(texts)


@pytest.fixture
def spy(client):
    batcher = runtime().batcher
    original = batcher.fn
    batcher.fn = BatcherSpy(original)
    try:
        yield batcher.fn
    finally:
        batcher.fn.gate.set()
        batcher.fn = original


def classify(client, texts: list[str]):
    response = client.post(
        "/classify", json={"tickets": [{"text": t, "id": f"c-{i}"} for i, t in enumerate(texts)]}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def samples(client) -> dict[tuple[str, tuple], float]:
    """Every sample on /metrics keyed by (sample name, sorted labels)."""
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(values: dict, name: str, **labels: str) -> float:
    return sum(v for (n, lab), v in values.items() if n == name and labels.items() <= dict(lab).items())


def test_fast_answers_stay_out_of_the_batcher_and_unsure_ones_go_through_it(client, registry, expected, spy):
    _, version = registry
    texts = expected["fast"][:6] + expected["slow"][:6]
    before = samples(client)
    answers = [classify(client, [t])[0] for t in texts]  # one-ticket requests, like production traffic
    answers += classify(client, texts)  # and one request mixing both stages
    after = samples(client)

    assert sorted(spy.texts) == sorted(expected["slow"][:6] * 2)  # only unsure tickets reached the batcher
    for text, answer in zip(texts * 2, answers, strict=True):
        assert answer["label"] == expected["label"][text]
        assert answer["confidence"] == pytest.approx(expected["confidence"][text], abs=1e-5)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("ticketops_predictions_total", stage="fast", model_version=version) == 12
    assert delta("ticketops_predictions_total", stage="slow", model_version=version) == 12
    assert delta("ticketops_batch_size_sum") == 12  # tickets through the batcher: the slow ones only
    assert delta("ticketops_stage_latency_seconds_count", stage="fast") == 13  # once per request
    assert delta("ticketops_stage_latency_seconds_count", stage="slow") == delta("ticketops_batch_size_count") > 0
    assert delta("ticketops_stage_latency_seconds_count", stage="single") == 0


def test_a_sure_ticket_is_answered_while_the_slow_stage_is_busy(client, expected, spy):
    spy.gate.clear()  # the encoder is stuck on an unsure ticket
    slow_result: list = []
    worker = threading.Thread(target=lambda: slow_result.append(classify(client, [expected["slow"][0]])))
    worker.start()
    assert spy.entered.wait(10)
    started = time.monotonic()
    (answer,) = classify(client, [expected["fast"][0]])
    assert time.monotonic() - started < 5 and answer["label"] == expected["label"][expected["fast"][0]]
    assert not slow_result  # still waiting for the slow stage
    spy.gate.set()
    worker.join(30)
    assert slow_result and slow_result[0][0]["label"] == expected["label"][expected["slow"][0]]


def test_the_prediction_log_names_the_stage_of_every_ticket(client, expected):
    fast, slow = expected["fast"][:3], expected["slow"][:3]
    ids = [p["id"] for p in classify(client, fast + slow)]
    assert runtime().log.flush()
    with sqlite3.connect(runtime().log.engine.url.database) as conn:
        placeholders = ",".join("?" * len(ids))
        rows = conn.execute(
            f"select ticket_id, stage from predictions where ticket_id in ({placeholders}) order by row_id desc",
            ids,
        ).fetchall()
    stage = {}
    for ticket_id, value in rows:
        stage.setdefault(ticket_id, value)  # newest row per id (ids repeat across tests)
    assert [stage[i] for i in ids] == ["fast"] * 3 + ["slow"] * 3


def test_slow_stage_share_slides_over_the_most_recent_tickets(client, registry, expected):
    _, version = registry

    def share() -> float:
        return total(samples(client), "ticketops_slow_stage_share", model_version=version)

    classify(client, expected["fast"][:WINDOW])
    assert share() == 0.0
    classify(client, expected["slow"][: WINDOW // 2])
    assert share() == 0.5
    classify(client, expected["slow"][:WINDOW])
    assert share() == 1.0
    reference = total(samples(client), "ticketops_slow_stage_share_reference", model_version=version)
    assert reference == pytest.approx(expected["reference_share"])
    assert 0.0 < reference < 1.0


def test_stage_metrics_and_gauges_carry_the_track_and_version(client, registry):
    _, version = registry
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    for name in ("ticketops_slow_stage_share", "ticketops_slow_stage_share_reference"):
        assert [s.labels for s in families[name].samples] == [{"model_version": version, "track": "stable"}]
    stages = {s.labels["stage"] for s in families["ticketops_stage_latency_seconds"].samples}
    assert stages == {"fast", "slow"}


def test_a_request_too_long_for_the_event_loop_still_routes_each_ticket(client, expected, spy):
    padding = " thanks" * 180  # two such tickets exceed the inline budget: the fast stage runs on a thread
    texts = [expected["fast"][0] + padding, expected["fast"][1] + padding, expected["slow"][1]]
    with open_model(URI, threads=1) as model:
        cascade = model.predictor.classifier
        answered = cascade.route(cascade.fast.predict_proba(texts))
    assert sum(map(len, texts)) > FAST_INLINE_CHARS
    assert len(classify(client, texts)) == 3
    assert spy.texts == [t for t, a in zip(texts, answered, strict=True) if not a]


def test_the_slow_stage_encodes_in_mini_batches_of_the_configured_size(client, expected, spy):
    assert runtime().model.stages.cascade.slow.encoder_batch_size == 4
    # answers equal the registered cascade's (encoded in its default mini-batches) for a batch of many sizes
    texts = expected["slow"][:9]
    answers = classify(client, texts)
    assert spy.texts == texts
    for text, answer in zip(texts, answers, strict=True):
        assert answer["label"] == expected["label"][text]
        assert answer["confidence"] == pytest.approx(expected["confidence"][text], abs=1e-5)


def test_a_non_cascade_model_exports_no_slow_stage_share():
    from ticketops.serving.metrics import ServiceMetrics

    metrics = ServiceMetrics("stable")
    metrics.observe_predictions("1", ["single"], ["card_arrival"], [0.9], [False])
    text = metrics.render().decode()
    assert "ticketops_slow_stage_share{" not in text and "ticketops_slow_stage_share_reference{" not in text
