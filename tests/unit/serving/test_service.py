"""The HTTP contract of serving/service.py through BentoML's ASGI app, on a real tiny model in a real registry.

Covers ARCHITECTURE.md's contract: /classify and /feedback shapes, every bad input (4xx with a JSON error
naming the field and never echoing the text, and the service keeps serving), 429 and 504, auth on every
route the app exposes, metrics, redaction in the prediction log, feedback join and live accuracy,
and readiness failing (never falling back) on a corrupt artifact or a missing alias.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Mount

from tests.helpers.service import AUTH, TOKEN, runtime, service_client
from tests.helpers.tiny_model import register_tiny_model, tiny_labels, tiny_registry
from ticketops.registry import store as mlflow_registry
from ticketops.serving.access import ROUTE_POLICY, service_authorizer
from ticketops.serving.auth import PUBLIC, UserDirectory

MARKER = "zebracorn-7731"  # appears in bad inputs; must never come back in a response
LIMITS = {
    "TICKETOPS_MAX_TICKETS": "4",
    "TICKETOPS_MAX_TEXT_CHARS": "200",
    "TICKETOPS_MAX_BODY_BYTES": "4096",
    "TICKETOPS_MAX_CONCURRENCY": "2",
    "TICKETOPS_REQUEST_TIMEOUT_S": "1.5",
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    reg = tiny_registry(tmp_path_factory.mktemp("registry"))
    version = register_tiny_model(reg)
    return reg, version


@pytest.fixture(scope="module")
def log_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("log") / "predictions.db"


@pytest.fixture(scope="module")
def client(registry, log_db: Path):
    env = {
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{log_db}",
        "TICKETOPS_TRACK": "canary",
        **LIMITS,
    }
    with service_client(env) as c:
        yield c


def classify(client, tickets, **kwargs):
    return client.post("/classify", json={"tickets": tickets}, headers=AUTH, **kwargs)


def assert_error(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["message"]
    assert field in [problem["field"] for problem in body.get("fields", [])], body
    assert MARKER not in response.text
    return body


def metrics(client) -> dict[str, list]:
    text = client.get("/metrics").text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


# --- the contract --------------------------------------------------------------------------------


def test_classify_returns_the_served_version_and_one_prediction_per_ticket(client, registry) -> None:
    _, version = registry
    response = classify(client, [{"text": "my card has not arrived yet", "id": "t-1"}, {"text": "exchange rate?"}])
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == version
    first, second = body["predictions"]
    assert first["id"] == "t-1"
    assert second["id"]  # generated so feedback can refer to it
    for prediction in body["predictions"]:
        assert prediction["label"] in tiny_labels()
        assert 0.0 <= prediction["confidence"] <= 1.0
        assert isinstance(prediction["needs_review"], bool)


def test_probes_and_metrics_are_public_and_report_the_model(client, registry) -> None:
    _, version = registry
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    info = metrics(client)["ticketops_model_info"]
    assert [s.labels for s in info if s.value == 1] == [
        {"model_version": version, "alias": "champion", "data_md5": "tiny", "family": "tfidf", "track": "canary"}
    ]


def test_the_loaded_model_is_out_of_the_cyclic_collectors_reach(client) -> None:
    """A full collection must not walk the model's objects on every pass (it held the event loop ~0.2-0.5 s)."""
    import gc

    model = runtime().model
    assert gc.get_freeze_count() > 0
    assert all(obj is not model.scorer for obj in gc.get_objects())  # frozen objects are in no generation


# --- bad input ------------------------------------------------------------------------------------


BAD_INPUTS = [
    # (name, raw body, status, field named in the error)
    ("malformed JSON", b'{"tickets": [{"text": "' + MARKER.encode() + b'"', 400, "body"),
    ("invalid UTF-8", b'{"tickets": [{"text": "caf\xe9 ' + MARKER.encode() + b'"}]}', 400, "body"),
    ("empty body", b"", 400, "body"),
    ("not an object", b'["' + MARKER.encode() + b'"]', 422, "body"),
    ("missing tickets", b'{"items": []}', 422, "tickets"),
    ("no tickets", b'{"tickets": []}', 422, "tickets"),
    ("text not a string", b'{"tickets": [{"text": 42}]}', 422, "tickets.0.text"),
    ("empty text", b'{"tickets": [{"text": ""}]}', 422, "tickets.0.text"),
    ("whitespace text", b'{"tickets": [{"text": "  \\n "}]}', 422, "tickets.0.text"),
    ("null byte", b'{"tickets": [{"text": "a\\u0000' + MARKER.encode() + b'"}]}', 422, "tickets.0.text"),
    ("unknown field", b'{"tickets": [{"text": "hi", "' + MARKER.encode() + b'": 1}]}', 422, "tickets.0"),
    ("unknown top-level key", b'{"tickets": [{"text": "hi"}], "' + MARKER.encode() + b'": 1}', 422, "body"),
    ("zero-width text", '{"tickets": [{"text": "\u200b\u200d\ufeff\u2060"}]}'.encode(), 400, "tickets.0.text"),
    ("duplicate ids", b'{"tickets": [{"text": "a", "id": "t1"}, {"text": "b", "id": "t1"}]}', 400, "tickets.1.id"),
    ("lone surrogate", b'{"tickets": [{"text": "\\ud800 ' + MARKER.encode() + b'"}]}', 400, "body"),
]


@pytest.mark.parametrize(("name", "body", "status", "field"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gets_a_4xx_naming_the_field_without_echoing_the_text(client, name, body, status, field) -> None:
    response = client.post("/classify", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert_error(response, status, field)
    assert classify(client, [{"text": "still serving?"}]).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_not_declared_json_gets_415(client, content_type: str) -> None:
    """A cross-site form or text/plain post (no CORS preflight) never reaches the model."""
    body = b'{"tickets": [{"text": "' + MARKER.encode() + b'"}]}'
    for route in ("/classify", "/feedback"):
        response = client.post(route, content=body, headers={**AUTH, "Content-Type": content_type})
        assert_error(response, 415, "Content-Type")
    ok = client.post("/classify", content=body, headers={**AUTH, "Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_feedback_with_an_id_twice_or_invisible_text_gets_400(client) -> None:
    twice = {"items": [{"id": "f1", "label": "x"}, {"id": "f1", "label": "y"}]}
    assert_error(client.post("/feedback", json=twice, headers=AUTH), 400, "items.1.id")
    blank = {"items": [{"id": "f2", "text": "\u200b\u200c", "label": "x"}]}
    assert_error(client.post("/feedback", json=blank, headers=AUTH), 400, "items.0.text")


def test_oversized_text_too_many_tickets_and_big_bodies_get_413(client) -> None:
    long_text = MARKER + "x" * 250
    assert_error(classify(client, [{"text": "fine"}, {"text": long_text}]), 413, "tickets.1.text")
    assert_error(classify(client, [{"text": f"t{i}"} for i in range(5)]), 413, "tickets")
    big = b'{"tickets": [{"text": "' + MARKER.encode() + b"y" * 5000 + b'"}]}'
    declared = client.post("/classify", content=big, headers=AUTH)
    assert_error(declared, 413, "body")

    def chunked():  # no Content-Length: the limit holds while streaming
        yield big[:3000]
        yield big[3000:]

    assert_error(client.post("/classify", content=chunked(), headers=AUTH), 413, "body")
    assert classify(client, [{"text": "still serving?"}]).status_code == 200


def test_wrong_method_and_unknown_route_are_json_errors(client) -> None:
    response = client.get("/classify", headers=AUTH)
    assert response.status_code == 405
    assert response.json()["error"] == "http_error"
    assert client.get("/nope", headers=AUTH).status_code == 404


def test_over_the_concurrency_limit_gets_429_and_a_stuck_request_504(client) -> None:
    rt = runtime()
    gate = threading.Event()
    blocker = rt.batcher.executor.submit(gate.wait, 30)  # the model thread is stuck
    statuses: list[int] = []
    try:
        threads = [
            threading.Thread(target=lambda: statuses.append(classify(client, [{"text": "waiting"}]).status_code))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # both are in flight now (limit 2)
        over = classify(client, [{"text": "one too many"}])
        assert over.status_code == 429
        assert over.json()["error"] == "too_many_requests"
        for thread in threads:
            thread.join(10)
        assert statuses == [504, 504]  # TICKETOPS_REQUEST_TIMEOUT_S=1.5
    finally:
        gate.set()
        blocker.result(10)
    assert classify(client, [{"text": "served again"}]).status_code == 200
    counts = {(s.labels["route"], s.labels["status"]) for s in metrics(client)["ticketops_requests"]}
    assert {("/classify", "429"), ("/classify", "504")} <= counts


# --- auth -----------------------------------------------------------------------------------------


def exposed_routes(app) -> dict[str, set[str]]:
    """Every path the ASGI app answers, mounted apps included, with its methods."""
    found: dict[str, set[str]] = {}
    for route in app.routes:
        sub = getattr(getattr(route, "app", None), "routes", None)
        if isinstance(route, Mount) and sub is not None:
            for inner in sub:
                found[route.path + inner.path] = set(getattr(inner, "methods", None) or {"GET"})
        else:
            found[route.path] = set(getattr(route, "methods", None) or {"GET"})
    return found


def test_the_api_token_alone_is_one_admin_and_every_route_is_enforced(client) -> None:
    """TICKETOPS_API_TOKEN without a users file: the token opens every route; the roles are test_roles.py's."""
    routes = exposed_routes(client.app)
    assert {"/classify", "/feedback", "/metrics", "/livez", "/readyz"} <= set(routes)
    policy_paths = {key.rpartition(" ")[2] for key in ROUTE_POLICY}
    missing = set(routes) - policy_paths
    assert not missing, f"routes without an auth decision in ROUTE_POLICY: {sorted(missing)}"
    authorizer = service_authorizer(UserDirectory())
    for path, methods in routes.items():
        method = "POST" if "POST" in methods else "GET"
        url = path if path != "/static_content" else "/static_content/index.html"
        anonymous = client.request(method, url)
        wrong = client.request(method, url, headers={"Authorization": "Bearer wrong-token"})
        right = client.request(method, url, headers=AUTH)
        assert right.status_code != 403, path
        if authorizer.allowed(method, path) == PUBLIC:
            assert anonymous.status_code != 401, path
        else:
            assert anonymous.status_code == 401, path
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
            assert wrong.status_code == 401, path
            assert right.status_code != 401, path


def test_token_scheme_and_value_must_match_exactly(client) -> None:
    for header in (TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer "):
        response = client.post("/classify", json={"tickets": [{"text": "hi"}]}, headers={"Authorization": header})
        assert response.status_code == 401, header
    assert classify(client, [{"text": "hi"}]).status_code == 200


# --- feedback -------------------------------------------------------------------------------------


def test_feedback_joins_the_logged_prediction_and_sets_live_accuracy(client, registry) -> None:
    _, version = registry
    predictions = classify(client, [{"text": "my card has not arrived yet"}, {"text": "what is the exchange rate"}])
    first, second = predictions.json()["predictions"]
    wrong_label = next(label for label in tiny_labels() if label != second["label"])
    response = client.post(
        "/feedback",
        json={
            "items": [
                {"id": first["id"], "text": "my card has not arrived yet", "label": first["label"]},
                {"id": second["id"], "label": wrong_label},
            ]
        },
        headers=AUTH,
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 2 and response.json()["matched"] == 2
    families = metrics(client)
    feedback = {"true": 0.0, "false": 0.0}
    for s in families["ticketops_feedback"]:  # one series per true label
        if s.name.endswith("_total") and s.labels["model_version"] == version:
            feedback[s.labels["correct"]] += s.value
    assert feedback["true"] >= 1 and feedback["false"] >= 1
    with sqlite3.connect(runtime().log.engine.url.database) as conn:
        labelled = conn.execute(
            "select label = true_label from predictions where true_label is not null and model_version = ?",
            (version,),
        ).fetchall()
    expected = sum(flag for (flag,) in labelled) / len(labelled)
    live = [s.value for s in families["ticketops_live_accuracy"] if s.labels["model_version"] == version]
    assert live == [pytest.approx(expected)]
    # KPI series: labels per true intent, and how long flagged tickets waited for theirs.
    by_intent = {
        (s.labels["true_label"], s.labels["correct"]): s.value
        for s in families["ticketops_feedback"]
        if s.name.endswith("_total") and s.labels["model_version"] == version and s.value
    }
    assert by_intent[(first["label"], "true")] >= 1 and by_intent[(wrong_label, "false")] >= 1
    waits = [
        s.value
        for s in families["ticketops_review_wait_seconds"]
        if s.name.endswith("_count") and s.labels["model_version"] == version
    ]
    assert waits and waits[0] >= first["needs_review"] + second["needs_review"]


def test_feedback_with_an_unknown_label_is_rejected_with_400(client) -> None:
    predictions = classify(client, [{"text": "card not working"}, {"text": "card lost"}]).json()["predictions"]
    tid, other = (p["id"] for p in predictions)
    response = client.post(
        "/feedback",
        json={"items": [{"id": tid, "label": tiny_labels()[0]}, {"id": other, "label": MARKER}]},
        headers=AUTH,
    )
    body = assert_error(response, 400, "items.1.label")
    assert body["error"] == "unknown_label"
    too_long = {"id": tid, "text": MARKER * 20, "label": tiny_labels()[0]}
    assert_error(client.post("/feedback", json={"items": [too_long]}, headers=AUTH), 413, "items.0.text")
    empty = {"id": tid, "text": " ", "label": tiny_labels()[0]}
    assert_error(client.post("/feedback", json={"items": [empty]}, headers=AUTH), 422, "items.0.text")


# --- metrics --------------------------------------------------------------------------------------

REQUIRED_METRICS = {
    "ticketops_requests": {"route", "status", "track"},
    "ticketops_request_latency_seconds": {"route", "track"},
    "ticketops_batch_size": {"track"},
    "ticketops_predictions": {"label", "model_version", "stage", "track"},
    "ticketops_prediction_confidence": {"model_version", "track"},
    "ticketops_needs_review": {"model_version", "track"},
    "ticketops_feedback": {"model_version", "correct", "track"},
    "ticketops_live_accuracy": {"model_version", "track"},
    "ticketops_model_info": {"model_version", "alias", "data_md5", "family", "track"},
    "ticketops_prediction_log_dropped": {"reason", "track"},
    "ticketops_stage_latency_seconds": {"stage", "track"},
}


def classify_requests(client) -> tuple[float, float]:
    """(requests, latency observations) of /classify as canary analysis reads them."""
    families = metrics(client)
    count = sum(s.value for s in families["ticketops_requests"] if s.labels.get("route") == "/classify")
    latency = sum(
        s.value
        for s in families["ticketops_request_latency_seconds"]
        if s.name.endswith("_count") and s.labels.get("route") == "/classify"
    )
    return count, latency


def test_refused_requests_count_apart_from_what_canary_analysis_judges(client) -> None:
    """A flood of cheap 401s must not make up a canary's traffic, dilute its error rate or lower its p99."""
    before = classify_requests(client)
    for _ in range(30):
        assert client.post("/classify", json={"tickets": [{"text": "hi"}]}).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert client.post("/classify", json={"tickets": [{"text": "hi"}]}, headers=wrong).status_code == 401
    assert classify_requests(client) == before
    assert classify(client, [{"text": "my card is lost"}]).status_code == 200
    assert classify_requests(client) == (before[0] + 1, before[1] + 1)
    rejected = [s for s in metrics(client)["ticketops_auth_rejected"] if s.labels.get("route") == "/classify"]
    assert sum(s.value for s in rejected if s.labels["status"] == "401") >= 60


def test_metrics_expose_every_required_family_with_its_labels(client) -> None:
    classify(client, [{"text": "top up failed"}])
    tid = classify(client, [{"text": "top up failed"}]).json()["predictions"][0]["id"]
    client.post("/feedback", json={"items": [{"id": tid, "label": tiny_labels()[0]}]}, headers=AUTH)
    families = metrics(client)
    for name, labels in REQUIRED_METRICS.items():
        assert name in families, name
        sample_labels = {key for s in families[name] for key in s.labels} - {"le"}
        assert labels <= sample_labels, (name, sample_labels)
        assert all(s.labels.get("track") == "canary" for s in families[name]), name
    # Every intent the model can predict has a series from the start (canary analysis reads which ones exist).
    declared = {s.labels["label"] for s in families["ticketops_predictions"] if s.name.endswith("_total")}
    assert declared == set(tiny_labels())


# --- redaction ------------------------------------------------------------------------------------

PII = {
    "email": "harriet.quimby@example.org",
    "card": "4111 1111 1111 1111",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "phone": "+44 20 7946 0958",
    "digits": "5566778",
}


def test_pii_never_reaches_the_log_store_or_the_log(registry, tmp_path: Path, caplog) -> None:
    db = tmp_path / "pii.db"
    env = {
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{db}",
        "TICKETOPS_ID_HASH_KEY": "ab" * 32,
    }
    caplog.set_level("DEBUG")
    with service_client(env) as c:
        tickets = [{"text": f"my card is blocked, {kind}: {value}", "id": kind} for kind, value in PII.items()]
        assert classify(c, tickets[:4]).status_code == 200
        assert classify(c, tickets[4:]).status_code == 200
        bad = c.post("/classify", json={"tickets": [{"text": PII["card"] + "\u0000"}]}, headers=AUTH)
        assert bad.status_code == 422 and PII["card"] not in bad.text
        # an id that is itself PII: echoed to the caller, stored as a keyed hash, found again by /feedback
        unsafe_id = "customer " + PII["email"]
        answer = classify(c, [{"text": "zero\u200bwidth card 4111\u200b1111\u200b1111\u200b1111", "id": unsafe_id}])
        assert answer.json()["predictions"][0]["id"] == unsafe_id
        label = answer.json()["predictions"][0]["label"]
        feedback = c.post("/feedback", json={"items": [{"id": unsafe_id, "label": label}]}, headers=AUTH)
        assert feedback.status_code == 200 and feedback.json()["results"][0]["id"] == unsafe_id
    # the service has shut down: the queue is flushed and the database closed
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("select ticket_id, text from predictions").fetchall())
    hashed = [ticket_id for ticket_id in stored if ticket_id.startswith("h_")]
    assert len(hashed) == 1 and stored[hashed[0]] == "zerowidth card [CARD]"
    del stored[hashed[0]]
    assert set(stored) == set(PII)
    placeholders = {"email": "[EMAIL]", "card": "[CARD]", "iban": "[IBAN]", "phone": "[PHONE]", "digits": "[NUMBER]"}
    for kind, placeholder in placeholders.items():
        assert placeholder in stored[kind]
    files = b"".join(path.read_bytes() for path in tmp_path.glob("pii.db*"))
    for value in PII.values():
        assert value.encode() not in files
        assert value.replace(" ", "").encode() not in files
        assert value not in caplog.text


# --- readiness --------------------------------------------------------------------------------------


def wait_for_log(caplog, needle: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in caplog.text:
            return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not logged; log:\n{caplog.text[-2000:]}")


def test_ready_and_answering_without_the_log_database_the_rows_wait_in_the_spool(registry, tmp_path: Path) -> None:
    from ticketops.processes import free_port

    env = {
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        # nothing listens there: the database is down for the whole life of the replica
        "TICKETOPS_PREDICTION_LOG_URL": f"postgresql+psycopg://ticketops@127.0.0.1:{free_port()}/log?connect_timeout=1",
        "TICKETOPS_PREDICTION_LOG_SPOOL_DIR": str(tmp_path / "spool"),
    }
    with service_client(env, ready=False) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").status_code == 200
        response = classify(client, [{"text": "my card is lost"}, {"text": "refund please"}])
        assert response.status_code == 200
        assert client.get("/review", headers=AUTH).status_code == 503  # needs the database, says so
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            backlog = [s.value for s in metrics(client)["ticketops_prediction_log_spool_rows"]]
            if backlog == [2]:
                break
            time.sleep(0.2)
        assert backlog == [2]
    assert sum(1 for _ in (tmp_path / "spool").glob("*.jsonl")) >= 1  # kept on disk for the next start


def test_a_corrupt_artifact_keeps_readyz_failing_and_never_falls_back(tmp_path: Path, caplog) -> None:
    reg = tiny_registry(tmp_path / "registry")
    register_tiny_model(reg, alias=None)  # an intact older version that must not be served instead
    version = register_tiny_model(reg, alias="champion")
    model_id = mlflow_registry.client().get_model_version("ticket-classifier", version).source.removeprefix("models:/")
    (weights,) = (tmp_path / "registry" / "mlartifacts").rglob(f"{model_id}/**/head.safetensors")
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")  # the registered artifact, after registration
    env = {
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{tmp_path / 'p.db'}",
    }
    caplog.set_level("INFO")
    with service_client(env, ready=False) as c:
        wait_for_log(caplog, "ChecksumMismatch")
        assert c.get("/livez").status_code == 200
        assert c.get("/readyz").status_code == 503
        response = c.post("/classify", json={"tickets": [{"text": "hi"}]}, headers=AUTH)
        assert response.status_code == 503
        assert response.json()["error"] == "not_ready"
        ready = [s.value for s in metrics(c)["ticketops_ready"]]
        assert ready == [0.0]
    assert "head.safetensors" in caplog.text


def test_a_missing_alias_keeps_readyz_failing_with_the_reason_logged(tmp_path: Path, caplog) -> None:
    reg = tiny_registry(tmp_path / "registry")
    register_tiny_model(reg, alias=None)
    env = {
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{tmp_path / 'p.db'}",
    }
    caplog.set_level("INFO")
    with service_client(env, ready=False) as c:
        wait_for_log(caplog, "ModelNotFound")
        assert c.get("/readyz").status_code == 503
        failures = {
            s.labels["reason"]: s.value
            for s in metrics(c)["ticketops_model_load_failures"]
            if s.name.endswith("_total")
        }
        assert failures.get("ModelNotFound", 0) >= 1
    assert "has no alias @champion" in caplog.text
