"""Schemathesis against a live ``ticketops serve``: its OpenAPI document, positive and negative examples on
every operation, bounded (examples per operation and a deadline) so the run stays within seconds.

Every response must be documented (status, content type, body schema) and none may be a 5xx. The same
module checks the document lists the contract routes with their real schemas.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.helpers.tiny_model import register_tiny_model, tiny_registry
from ticketops.processes import ManagedProcess, free_port

pytestmark = pytest.mark.integration

TOKEN = "fuzz-token-91c2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 25  # per operation and mode: ~10 operations, a few seconds each on a busy machine
STATS: dict[str, int] = {"requests": 0, "operations": 0}


@pytest.fixture(scope="module", autouse=True)
def report_stats():
    """The run's size for the README (pytest -s shows it)."""
    started = time.monotonic()
    yield
    runs, seconds = STATS["operations"], time.monotonic() - started
    print(f"\nfuzz: {STATS['requests']} requests over {runs} operation x mode runs in {seconds:.0f}s")


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fuzz")
    registry = tiny_registry(root / "registry")
    register_tiny_model(registry)
    port = free_port()
    env = {
        **registry.env,
        "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{root / 'predictions.db'}",
        "TICKETOPS_MAX_TICKETS": "8",
        "TICKETOPS_MAX_TEXT_CHARS": "300",
        "TICKETOPS_CATALOGUE_PATH": str(root / "catalogue.json"),
        "TICKETOPS_ROOT": str(REPO),
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [sys.executable, "-m", "ticketops", "serve", "--port", str(port)]
    process = ManagedProcess("ticketops-fuzz", command, root / "serve.log", env=env, cwd=REPO).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/readyz", timeout=180)
        yield url
    finally:
        process.stop(timeout=30)


@pytest.fixture(scope="module")
def api_schema(live_service: str):
    schema = schemathesis.openapi.from_url(f"{live_service}/docs.json", headers=AUTH)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        with_security_parameters=False,  # the token is always sent: auth has its own tests (test_roles.py)
    )
    schema.config.update(base_url=live_service)
    # Over-long texts and too many tickets are invalid by the document (maxLength, maxItems) and answered 413.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


def test_document_lists_the_contract_with_real_schemas(live_service: str) -> None:
    document = httpx.get(f"{live_service}/docs.json", headers=AUTH, timeout=10).json()
    for path in ("/classify", "/feedback", "/review", "/audit"):
        assert path in document["paths"], path
    classify = document["paths"]["/classify"]["post"]
    request_ref = classify["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref.endswith("/ClassifyRequest")
    assert classify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ClassifyResponse")
    ticket = document["components"]["schemas"]["Ticket"]
    assert ticket["properties"]["text"]["maxLength"] == 300  # this replica's limit
    assert {"400", "401", "413", "415", "422"} <= set(classify["responses"])


def _operations() -> list[tuple[str, str]]:
    """Every documented operation (the document is built the way the service builds it)."""
    from ticketops.serving.openapi import openapi_document
    from ticketops.settings import ServiceSettings

    paths = openapi_document(ServiceSettings())["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def _has_inputs(operation) -> bool:
    """Negative examples need something to break: a body or a parameter."""
    definition = operation.definition.raw
    return "requestBody" in definition or bool(definition.get("parameters"))


# Driven with Hypothesis directly rather than ``schemathesis.pytest.from_fixture``, whose lazy subtests do
# not run under pytest 9.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), _operations())
def test_fuzz_no_5xx_and_every_response_matches_the_document(api_schema, method: str, path: str, mode) -> None:
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
        pytest.skip("no body or parameters to make invalid")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        # Schema-valid requests may still be refused with 400 on purpose (an id twice, an unknown label, a
        # text with nothing visible): what JSON Schema cannot say is checked by the service, so
        # positive_data_acceptance does not apply. Every other check does, 5xx and response schemas included.
        case.call_and_validate(headers=AUTH, timeout=20, excluded_checks=[positive_data_acceptance])
        STATS["requests"] += 1

    run()
    STATS["operations"] += 1
