"""Controller decisions (the state machine) with a scripted analysis, an in-memory backend and a real
MLflow registry: failures roll back, inconclusive pauses and never promotes, passes step and promote."""

from __future__ import annotations

import os

import pytest

from tests.helpers.tiny_model import register_tiny_model, tiny_registry
from ticketops.config import RolloutParams
from ticketops.registry.store import alias_version, client
from ticketops.rollout.analysis import Analysis, CheckResult, Verdict
from ticketops.rollout.controller import RolloutController, RolloutError
from ticketops.rollout.events import EventLog
from ticketops.rollout.state import Phase


class MemoryBackend:
    name = "memory"

    def __init__(self):
        self.state = None
        self.weights: list[int] = []
        self.canary = None
        self.stable = "v1"
        self.ready = True

    def deploy_canary(self, model_uri, version):
        self.canary = version

    def set_weight(self, canary_percent):
        self.weights.append(canary_percent)

    def promote(self, model_uri, version):
        self.stable, self.canary = version, None

    def rollback(self):
        self.canary = None
        self.weights.append(0)

    def canary_ready(self):
        return self.ready and self.canary is not None

    def load_state(self):
        return self.state.model_copy() if self.state else None

    def save_state(self, state):
        self.state = state.model_copy()


class ScriptedAnalysis:
    def __init__(self, verdicts):
        self.verdicts = list(verdicts)

    def run(self, window_s, canary_version, stable_version):
        verdict = self.verdicts.pop(0)
        return Analysis(verdict, [CheckResult("scripted", verdict, detail=f"scripted {verdict}")], window_s)


@pytest.fixture(scope="module")
def module_registry(tmp_path_factory):
    saved = dict(os.environ)  # tiny_registry points os.environ at the throw-away store
    try:
        reg = tiny_registry(tmp_path_factory.mktemp("registry"))
        register_tiny_model(reg, alias="champion")
        register_tiny_model(reg, alias="challenger", sample_fraction=0.5)
        yield reg
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def registry(module_registry, monkeypatch):
    """Every test starts from champion v1 and challenger v2."""
    for key, value in module_registry.env.items():
        monkeypatch.setenv(key, value)
    mlflow_client = client()
    mlflow_client.set_registered_model_alias("ticket-classifier", "champion", "1")
    mlflow_client.set_registered_model_alias("ticket-classifier", "challenger", "2")
    return module_registry


def controller(backend, verdicts, tmp_path, **params):
    defaults = {
        "steps": (10, 50, 100),
        "analysis_interval_s": 0.01,
        "min_step_seconds": 0,
        "max_failures": 2,
        "max_inconclusive": 3,
    }
    return RolloutController(
        backend,
        ScriptedAnalysis(verdicts),
        client(),
        RolloutParams(**{**defaults, **params}),
        EventLog(tmp_path / "events.jsonl"),
        "ticket-classifier",
        sleep=lambda _: None,
        log=lambda _: None,
    )


def test_passing_steps_promote_and_move_champion(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.PASS, Verdict.PASS], tmp_path)
    report = ctl.run(ctl.start())
    assert report.state.phase == Phase.PROMOTED
    assert backend.weights == [10, 50]  # 100 means promotion, not a step to analyse
    mlflow_client = client()
    assert str(alias_version(mlflow_client, "ticket-classifier", "champion").version) == "2"
    assert alias_version(mlflow_client, "ticket-classifier", "challenger") is None
    tags = mlflow_client.get_model_version("ticket-classifier", "2").tags
    assert tags["rollout_result"] == "promoted"
    assert any(k.startswith("rollout.") and k.endswith(".promoted") for k in tags)
    events = [e.event for e in EventLog(tmp_path / "events.jsonl").read()]
    assert events == ["started", "analysis", "step", "analysis", "promoted"]


def test_repeated_failures_roll_back_and_clear_challenger(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.FAIL, Verdict.FAIL], tmp_path)
    report = ctl.run(ctl.start())
    assert report.state.phase == Phase.ROLLED_BACK
    assert backend.weights[-1] == 0 and backend.canary is None
    assert str(alias_version(client(), "ticket-classifier", "champion").version) == "1"
    assert alias_version(client(), "ticket-classifier", "challenger") is None
    assert "2 failed analyses" in report.state.reason


def test_inconclusive_pauses_and_never_promotes(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.INCONCLUSIVE] * 3, tmp_path)
    state = ctl.start()
    ctl.tick(state)
    assert state.phase == Phase.PAUSED and state.weight == 10
    ctl.tick(state)
    ctl.tick(state)
    assert state.phase == Phase.ROLLED_BACK  # gave up after max_inconclusive, never promoted
    assert str(alias_version(client(), "ticket-classifier", "champion").version) == "1"


def test_dead_canary_rolls_back_at_once(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [], tmp_path)
    state = ctl.start()
    backend.ready = False
    ctl.tick(state)
    assert state.phase == Phase.ROLLED_BACK and "canary not ready" in state.reason


def test_restarted_controller_resumes_at_the_recorded_step(registry, tmp_path):
    backend = MemoryBackend()
    first = controller(backend, [Verdict.PASS], tmp_path)
    state = first.start()
    first.tick(state)  # → step 2 (50%)
    assert backend.load_state().weight == 50
    second = controller(backend, [Verdict.PASS], tmp_path)
    resumed = second.resume()
    assert resumed.step_index == 1 and backend.weights[-1] == 50
    assert second.run(resumed).state.phase == Phase.PROMOTED


def test_a_second_rollout_cannot_start_while_one_runs(registry, tmp_path):
    backend = MemoryBackend()
    controller(backend, [], tmp_path).start()
    with pytest.raises(RolloutError, match="still running"):
        controller(backend, [], tmp_path).start()


class RetrainDuringAnalysis(ScriptedAnalysis):
    """A retrain that registers a newer version and points @challenger at it while the canary is judged."""

    def __init__(self, verdicts, mlflow_client):
        super().__init__(verdicts)
        self.client = mlflow_client
        self.newer: str | None = None

    def run(self, window_s, canary_version, stable_version):
        if self.newer is None:
            v2 = self.client.get_model_version("ticket-classifier", "2")
            self.newer = str(self.client.create_model_version("ticket-classifier", v2.source, v2.run_id).version)
            self.client.set_registered_model_alias("ticket-classifier", "challenger", self.newer)
        return super().run(window_s, canary_version, stable_version)


@pytest.mark.parametrize(
    "verdicts", [[Verdict.FAIL, Verdict.FAIL], [Verdict.PASS, Verdict.PASS]], ids=["rollback", "promote"]
)
def test_alias_moves_are_compare_and_set_a_newer_challenger_is_left_and_recorded(registry, tmp_path, verdicts):
    backend = MemoryBackend()
    ctl = controller(backend, [], tmp_path)
    analysis = RetrainDuringAnalysis(verdicts, client())
    ctl.analysis = analysis
    report = ctl.run(ctl.start())
    assert report.state.phase in (Phase.ROLLED_BACK, Phase.PROMOTED)
    assert str(alias_version(client(), "ticket-classifier", "challenger").version) == analysis.newer
    assert f"@challenger left on v{analysis.newer}" in report.state.reason
    champion = "2" if report.state.phase == Phase.PROMOTED else "1"
    assert str(alias_version(client(), "ticket-classifier", "champion").version) == champion


def test_champion_moved_by_someone_else_is_not_overwritten_by_a_promotion(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.PASS, Verdict.PASS], tmp_path)
    state = ctl.start()
    client().delete_registered_model_alias("ticket-classifier", "champion")  # an operator retired it meanwhile
    report = ctl.run(state)
    assert report.state.phase == Phase.PROMOTED
    assert alias_version(client(), "ticket-classifier", "champion") is None
    assert "@champion left unset" in report.state.reason


def test_an_ungated_challenger_is_refused_unless_an_admin_forces_it(registry, tmp_path):
    mlflow_client = client()
    mlflow_client.set_model_version_tag("ticket-classifier", "2", "gate_passed", "false")
    try:
        with pytest.raises(RolloutError, match="did not pass the promotion gate"):
            controller(MemoryBackend(), [], tmp_path).start()
        backend = MemoryBackend()
        ctl = controller(backend, [Verdict.FAIL, Verdict.FAIL], tmp_path)
        state = ctl.start(force_ungated=True)
        assert backend.canary is not None
        started = [e for e in ctl.events.read() if e.event == "started"]
        assert "FORCED past a failed promotion gate" in started[-1].reason
        ctl.run(state)
    finally:
        mlflow_client.set_model_version_tag("ticket-classifier", "2", "gate_passed", "true")
