"""Fault tests of the rollout on the local backend: real `bentoml serve` processes, the splitter and a real
Prometheus on loopback, a tiny registered model pair, one-ticket traffic from a background thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from tests.helpers.tiny_model import register_tiny_model, tiny_frame, tiny_registry
from ticketops.config import LatencyCheck, RateCheck, RolloutChecks, RolloutParams, ShadowParams
from ticketops.processes import free_port
from ticketops.registry.store import alias_version, client
from ticketops.rollout.analysis import CanaryAnalysis
from ticketops.rollout.controller import RolloutController
from ticketops.rollout.events import EventLog
from ticketops.rollout.local.backend import LocalBackend
from ticketops.rollout.local.stack import LocalStack
from ticketops.rollout.promql import PromQL
from ticketops.rollout.state import Phase

pytestmark = pytest.mark.integration
MODEL = "ticket-classifier"


class Traffic:
    """One-ticket /classify requests at a steady rate; counts every request a client saw fail."""

    def __init__(self, url: str, rate: float = 40.0):
        self.url, self.rate = url, rate
        self.texts = tiny_frame()["text"].tolist()
        self.sent = self.failed = 0
        self.running = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            i = 0
            while not self.stopped.is_set():
                if not self.running.wait(0.1):
                    continue
                text = self.texts[i % len(self.texts)]
                i += 1
                try:
                    ok = (
                        http.post(f"{self.url}/classify", json={"tickets": [{"text": text, "id": f"t{i}"}]}).status_code
                        == 200
                    )
                except httpx.HTTPError:
                    ok = False
                self.sent += 1
                self.failed += 0 if ok else 1
                time.sleep(1.0 / self.rate)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("rollout")
    registry = tiny_registry(root)  # points os.environ (and so the child processes) at a throw-away store
    register_tiny_model(registry, alias="champion")
    register_tiny_model(registry, alias=None, sample_fraction=0.8)
    stack = LocalStack(root / "state", f"http://127.0.0.1:{free_port()}", free_port())
    try:
        stack.up(f"models:/{MODEL}/1", "1")
        traffic = Traffic(stack.splitter_url)
        yield stack, traffic
        traffic.stopped.set()
    finally:
        stack.down()
        os.environ.clear()
        os.environ.update(saved)


def make_controller(stack: LocalStack, steps=(50, 100)) -> RolloutController:
    """Fault tests of the machinery: no feedback flows here, so no accuracy evidence (waived, as params allow)
    and no shadow phase (its paired accuracy needs labels; tests/integration/test_live_accuracy_attribution.py
    runs it); effects large enough that a tiny stack gathers their samples in seconds."""
    params = RolloutParams(
        steps=steps,
        analysis_interval_s=2,
        min_step_seconds=3,
        max_failures=2,
        max_step_seconds=120,
        require_accuracy_evidence=False,
        shadow=ShadowParams(enabled=False),
        checks=RolloutChecks(
            min_count=10,
            min_feedback=1000,
            error_rate=RateCheck(effect=0.3, baseline=0.01),
            latency=LatencyCheck(effect=0.4, baseline=0.01),
            review_rate=RateCheck(effect=0.5, baseline=0.3),
        ),
    )
    return RolloutController(
        LocalBackend(stack),
        CanaryAnalysis(PromQL(stack.prometheus_url), params.checks),
        client(),
        params,
        EventLog(stack.dir / "events.jsonl"),
        MODEL,
        log=lambda _: None,
    )


def reset_aliases() -> None:
    mlflow_client = client()
    mlflow_client.set_registered_model_alias(MODEL, "champion", "1")
    mlflow_client.set_registered_model_alias(MODEL, "challenger", "2")


def test_canary_killed_mid_step_rolls_back_without_failed_requests(stack):
    local, traffic = stack
    reset_aliases()
    traffic.running.set()
    ctl = make_controller(local)
    state = ctl.start()
    time.sleep(3)
    failed_before = traffic.failed
    os.killpg(local.record("canary").pid, signal.SIGKILL)
    time.sleep(1)
    ctl.tick(state)
    assert state.phase == Phase.ROLLED_BACK and "canary not ready" in state.reason
    assert local.current_split().canary is None
    assert str(alias_version(client(), MODEL, "champion").version) == "1"
    assert alias_version(client(), MODEL, "challenger") is None
    time.sleep(1)
    assert traffic.failed == failed_before == 0  # the splitter retried the dead canary's requests on stable


def test_prometheus_down_pauses_and_never_promotes(stack):
    local, traffic = stack
    reset_aliases()
    traffic.running.set()
    ctl = make_controller(local)
    state = ctl.start()
    time.sleep(4)
    local.stop("prometheus")
    try:
        for _ in range(3):
            ctl.tick(state)
        assert state.phase == Phase.PAUSED and state.weight == 50
        assert "unreachable" in EventLog(local.dir / "events.jsonl").read(state.rollout_id)[-1].reason
        assert str(alias_version(client(), MODEL, "champion").version) == "1"
    finally:
        local.start_prometheus()
        ctl.abort("test cleanup")


def test_canary_without_traffic_is_inconclusive(stack):
    local, traffic = stack
    reset_aliases()
    traffic.running.clear()
    ctl = make_controller(local)
    state = ctl.start()
    time.sleep(4)
    ctl.tick(state)
    try:
        assert state.phase == Phase.PAUSED
        assert "requests, need 10 each" in EventLog(local.dir / "events.jsonl").read(state.rollout_id)[-1].reason
    finally:
        ctl.abort("test cleanup")
        traffic.running.set()


def test_restarted_controller_resumes_and_promotes(stack):
    local, traffic = stack
    reset_aliases()
    traffic.running.set()
    first = make_controller(local, steps=(25, 50, 100))
    state = first.start()
    deadline = time.monotonic() + 60
    while state.weight != 50 and time.monotonic() < deadline:  # until Prometheus has two scrapes of the canary
        time.sleep(2)
        first.tick(state)
    assert state.weight == 50, EventLog(local.dir / "events.jsonl").read(state.rollout_id)[-1]
    del first  # the controller process "dies"; traffic keeps flowing through the splitter
    second = make_controller(local, steps=(25, 50, 100))
    resumed = second.resume()
    assert (resumed.rollout_id, resumed.weight) == (state.rollout_id, 50)
    report = second.run(resumed)
    assert report.state.phase == Phase.PROMOTED, report.as_dict()
    assert str(alias_version(client(), MODEL, "champion").version) == "2"
    assert local.record("stable").version == "2" and local.record("canary") is None
    assert traffic.failed == 0
