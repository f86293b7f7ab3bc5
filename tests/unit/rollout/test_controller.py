"""Controller decisions (the state machine) with a scripted analysis, an in-memory backend and a real
MLflow registry: failures roll back, inconclusive pauses and never promotes, passes step and promote; the
shadow phase comes first, promotion needs accuracy evidence, an undecided phase halts at its maximum time."""

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
    supports_shadow = True

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

    def set_shadow(self):
        self.weights.append("shadow")

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
    """Each verdict of the script is one analysis; a passing one in the shadow phase carries a passing paired
    accuracy test (the evidence promotion needs) unless ``evidence`` is False."""

    def __init__(self, verdicts, evidence: bool = True):
        self.verdicts = list(verdicts)
        self.evidence = evidence
        self.phases: list[str] = []

    def run(self, window_s, canary_version, stable_version, phase="canary", optional=frozenset()):
        verdict = self.verdicts.pop(0)
        self.phases.append(phase)
        checks = [CheckResult("scripted", verdict, detail=f"scripted {verdict}")]
        if phase == "shadow" and verdict == Verdict.PASS and self.evidence:
            checks.append(CheckResult("shadow_accuracy", Verdict.PASS, detail="paired accuracy holds"))
        return Analysis(verdict, checks, window_s, phase=phase)


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


def controller(backend, verdicts, tmp_path, evidence=True, **params):
    defaults = {
        "steps": (10, 50, 100),
        "analysis_interval_s": 0.01,
        "min_step_seconds": 0,
        "max_failures": 2,
        "max_step_seconds": 3600,
    }
    return RolloutController(
        backend,
        ScriptedAnalysis(verdicts, evidence),
        client(),
        RolloutParams(**{**defaults, **params}),
        EventLog(tmp_path / "events.jsonl"),
        "ticket-classifier",
        sleep=lambda _: None,
        log=lambda _: None,
    )


def test_passing_steps_promote_and_move_champion(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.PASS] * 3, tmp_path)
    report = ctl.run(ctl.start())
    assert report.state.phase == Phase.PROMOTED
    assert backend.weights == ["shadow", 10, 50]  # shadow first; 100 means promotion, not a step to analyse
    assert ctl.analysis.phases == ["shadow", "canary", "canary"]
    assert report.state.accuracy_evidence == "shadow_accuracy at step 1"
    mlflow_client = client()
    assert str(alias_version(mlflow_client, "ticket-classifier", "champion").version) == "2"
    assert alias_version(mlflow_client, "ticket-classifier", "challenger") is None
    tags = mlflow_client.get_model_version("ticket-classifier", "2").tags
    assert tags["rollout_result"] == "promoted"
    assert any(k.startswith("rollout.") and k.endswith(".promoted") for k in tags)
    events = [e.event for e in EventLog(tmp_path / "events.jsonl").read()]
    assert events == ["started", "analysis", "step", "analysis", "step", "analysis", "promoted"]


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
    for _ in range(3):
        ctl.tick(state)
    assert state.phase == Phase.PAUSED and state.weight == 0 and not state.halted  # still collecting
    assert str(alias_version(client(), "ticket-classifier", "champion").version) == "1"


def test_undecided_at_the_maximum_time_halts_and_resume_goes_on(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(
        backend, [Verdict.INCONCLUSIVE, Verdict.PASS, Verdict.PASS, Verdict.PASS], tmp_path, max_step_seconds=0.001
    )
    report = ctl.run(ctl.start())
    assert report.state.phase == Phase.PAUSED and report.state.halted
    assert report.as_dict()["result"] == "paused" and "max_step_seconds" in report.state.reason
    assert str(alias_version(client(), "ticket-classifier", "champion").version) == "1"
    events = [e.event for e in EventLog(tmp_path / "events.jsonl").read()]
    assert events[-1] == "halted"
    again = controller(backend, [Verdict.PASS] * 3, tmp_path, max_step_seconds=3600)
    assert again.run(again.resume()).state.phase == Phase.PROMOTED


def test_no_accuracy_evidence_never_promotes(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.PASS] * 4, tmp_path, evidence=False, max_step_seconds=3600)
    state = ctl.start()
    for _ in range(4):
        ctl.tick(state)
    assert state.phase == Phase.PAUSED and state.weight == 50 and "accuracy evidence" in state.reason
    assert str(alias_version(client(), "ticket-classifier", "champion").version) == "1"


def test_params_may_waive_accuracy_evidence(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [Verdict.PASS] * 3, tmp_path, evidence=False, require_accuracy_evidence=False)
    assert ctl.run(ctl.start()).state.phase == Phase.PROMOTED


def test_backend_without_mirroring_starts_at_the_first_weight(registry, tmp_path):
    backend = MemoryBackend()
    backend.supports_shadow = False
    ctl = controller(backend, [Verdict.PASS] * 2, tmp_path, require_accuracy_evidence=False)
    assert ctl.run(ctl.start()).state.phase == Phase.PROMOTED and backend.weights == [10, 50]


def test_dead_canary_rolls_back_at_once(registry, tmp_path):
    backend = MemoryBackend()
    ctl = controller(backend, [], tmp_path)
    state = ctl.start()
    backend.ready = False
    ctl.tick(state)
    assert state.phase == Phase.ROLLED_BACK and "canary not ready" in state.reason


def test_restarted_controller_resumes_at_the_recorded_step(registry, tmp_path):
    backend = MemoryBackend()
    first = controller(backend, [Verdict.PASS, Verdict.PASS], tmp_path)
    state = first.start()
    first.tick(state)  # shadow → step 2 (10%)
    first.tick(state)  # → step 3 (50%)
    assert backend.load_state().weight == 50
    second = controller(backend, [Verdict.PASS], tmp_path)
    resumed = second.resume()
    assert resumed.step_index == 2 and backend.weights[-1] == 50
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

    def run(self, window_s, canary_version, stable_version, *phase, **optional):
        if self.newer is None:
            v2 = self.client.get_model_version("ticket-classifier", "2")
            self.newer = str(self.client.create_model_version("ticket-classifier", v2.source, v2.run_id).version)
            self.client.set_registered_model_alias("ticket-classifier", "challenger", self.newer)
        return super().run(window_s, canary_version, stable_version, *phase, **optional)


@pytest.mark.parametrize(
    "verdicts",
    [[Verdict.FAIL, Verdict.FAIL], [Verdict.PASS] * 3],
    ids=["rollback", "promote"],  # shadow, 10, 50
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
    ctl = controller(backend, [Verdict.PASS] * 3, tmp_path)
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
