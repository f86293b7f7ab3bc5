"""The analysis service's contract with Argo over real HTTP: who may ask, what is a bad request (400, never a
verdict), what an unreachable Prometheus answers (200 inconclusive), windows that survive a restart, and the
reconciler loop that never stops the service. Verdicts on real data: tests/integration/test_argo_analysis_service.py.
"""

from __future__ import annotations

import math
import time

import httpx
import pytest
from pydantic import SecretStr

from tests.helpers.aiohttp_app import running_app
from tests.helpers.fake_service import closed_port_url
from ticketops.config import RolloutChecks
from ticketops.rollout.analysis import PHASE_CHECKS, CanaryAnalysis, CheckResult
from ticketops.rollout.argo.analysis_service import Judge, analysis_authorizer, app_from_settings, build_app, finite
from ticketops.rollout.argo.windows import Windows
from ticketops.rollout.checks import Verdict
from ticketops.rollout.promql import PromQL
from ticketops.serving.auth import AuthConfigError
from ticketops.settings import ArgoAnalysisSettings

TOKEN = "argo-analysis-token-91ce"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASK = {"canary_version": "7", "stable_version": "6", "revision": "5f8c9", "step": "w10"}


def service(state, clock=time.time, min_step_seconds: float = 0.0):
    analysis = CanaryAnalysis(PromQL(closed_port_url(), timeout=1), RolloutChecks())
    judge = Judge(analysis, Windows(state, clock=clock), min_step_seconds)
    return running_app(build_app(judge, analysis_authorizer(SecretStr(TOKEN), "127.0.0.1")))


def test_without_the_token_only_the_probes_and_metrics_answer(tmp_path):
    with service(tmp_path) as url:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = httpx.get(f"{url}/v1/checks/canary/error_rate", params=ASK, headers=headers)
            assert response.status_code == 401, (headers, response.text)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert httpx.get(f"{url}/v1/analysis/canary", params=ASK).status_code == 401
        for path in ("/livez", "/readyz", "/metrics"):
            assert httpx.get(url + path).status_code == 200, path


def test_an_open_service_only_listens_on_loopback():
    with pytest.raises(AuthConfigError, match="TICKETOPS_ANALYSIS_TOKEN"):
        analysis_authorizer(None, "0.0.0.0")
    assert not analysis_authorizer(None, "127.0.0.1").directory.configured
    assert analysis_authorizer(SecretStr(TOKEN), "0.0.0.0").directory.configured


@pytest.mark.parametrize(
    ("path", "query", "why"),
    [
        ("/v1/checks/canary/p99_guess", ASK, "unknown check"),
        ("/v1/checks/shadow/live_accuracy", ASK, "unknown check"),  # a check the phase does not run
        ("/v1/checks/blue/error_rate", ASK, "unknown phase"),
        ("/v1/analysis/blue", ASK, "unknown phase"),
        ("/v1/checks/canary/error_rate", {"canary_version": "7"}, "stable_version"),
        ("/v1/checks/canary/error_rate", {**ASK, "canary_version": '7"} or vector(1) #'}, "canary_version"),
        ("/v1/checks/canary/error_rate", {**ASK, "step": "../../etc"}, "step"),
        ("/v1/analysis/canary", {**ASK, "optional": "shadow_accuracy"}, "optional"),
    ],
)
def test_bad_arguments_are_400_naming_what_is_wrong(tmp_path, path, query, why):
    with service(tmp_path) as url:
        response = httpx.get(url + path, params=query, headers=AUTH)
    assert response.status_code == 400, response.text
    assert why in response.json()["message"]


def test_prometheus_unreachable_is_inconclusive_for_every_check_and_phase(tmp_path):
    with service(tmp_path) as url, httpx.Client(base_url=url, headers=AUTH) as http:
        for phase, checks in PHASE_CHECKS.items():
            for check in checks:
                response = http.get(f"/v1/checks/{phase}/{check}", params=ASK)
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["verdict"] == "inconclusive" and "unreachable" in body["detail"], body
                assert (body["check"], body["phase"], body["stable_version"]) == (check, phase, "6")
            whole = http.get(f"/v1/analysis/{phase}", params=ASK).json()
            assert whole["verdict"] == "inconclusive" and "unreachable" in whole["detail"], whole
        metrics = http.get("/metrics").text
    assert 'ticketops_analysis_answers_total{check="error_rate",phase="canary",verdict="inconclusive"} 1.0' in metrics


def test_windows_start_at_the_first_look_and_survive_a_restart(tmp_path):
    now = [1000.0]
    with service(tmp_path, clock=lambda: now[0]) as url:
        first = httpx.get(f"{url}/v1/checks/canary/error_rate", params=ASK, headers=AUTH).json()
        now[0] = 1030.0
        later = httpx.get(f"{url}/v1/checks/canary/review_rate", params=ASK, headers=AUTH).json()
    assert (first["window_s"], later["window_s"]) == (0.0, 30.0)  # one window per (revision, phase, step)
    now[0] = 1100.0
    with service(tmp_path, clock=lambda: now[0]) as url:  # a new process, the same state directory
        again = httpx.get(f"{url}/v1/checks/canary/error_rate", params=ASK, headers=AUTH).json()
        next_step = httpx.get(f"{url}/v1/checks/canary/error_rate", params={**ASK, "step": "w25"}, headers=AUTH)
        new_revision = httpx.get(f"{url}/v1/checks/canary/error_rate", params={**ASK, "revision": "9a"}, headers=AUTH)
    assert again["window_s"] == 100.0
    assert next_step.json()["window_s"] == 0.0 and new_revision.json()["window_s"] == 0.0


def test_windows_keep_only_the_newest_keys(tmp_path):
    now = [0.0]
    windows = Windows(tmp_path, keep=3, clock=lambda: now[0])
    for i in range(5):
        now[0] = float(i)
        windows.started(f"r{i}", "canary", "w10")
    reloaded = Windows(tmp_path, keep=3, clock=lambda: 10.0)
    assert reloaded.window("r4", "canary", "w10") == 6.0
    assert reloaded.window("r0", "canary", "w10") == 0.0  # forgotten: a fresh window


def test_a_pass_on_a_window_shorter_than_min_step_seconds_is_held_back(tmp_path):
    judge = Judge(CanaryAnalysis(PromQL(closed_port_url()), RolloutChecks()), Windows(tmp_path), 10.0)
    passed = CheckResult("error_rate", Verdict.PASS, detail="canary 0.1% vs stable 0.2%")
    held = judge._hold(passed, 4.0)
    assert held.verdict == Verdict.INCONCLUSIVE and "min_step_seconds 10" in held.detail
    assert judge._hold(passed, 12.0) is passed
    failed = CheckResult("error_rate", Verdict.FAIL)
    assert judge._hold(failed, 1.0) is failed  # a failure is never held


def test_answers_are_json_argo_can_parse():
    assert finite({"a": math.nan, "b": [math.inf, 1.5], "c": "x"}) == {"a": None, "b": [None, 1.5], "c": "x"}


def test_the_reconciler_runs_every_interval_and_a_failure_never_stops_it(tmp_path):
    calls: list[float] = []

    def reconcile():
        calls.append(time.monotonic())
        if len(calls) % 2:
            raise RuntimeError("API server away")
        return []

    settings = ArgoAnalysisSettings(
        prometheus_url=closed_port_url(),
        analysis_token=SecretStr(TOKEN),
        analysis_state_dir=tmp_path,
        argo_reconcile=True,
        argo_reconcile_interval_s=0.1,
    )
    with running_app(app_from_settings("0.0.0.0", settings, reconcile=reconcile)) as url:
        deadline = time.monotonic() + 10
        while len(calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        metrics = httpx.get(f"{url}/metrics").text
        answer = httpx.get(f"{url}/v1/checks/shadow/shadow_accuracy", params=ASK, headers=AUTH)
    assert len(calls) >= 4, calls
    assert 'ticketops_argo_reconcile_total{outcome="error"}' in metrics
    assert 'ticketops_argo_reconcile_total{outcome="ok"} 0.0' not in metrics
    assert answer.status_code == 200 and answer.json()["verdict"] == "inconclusive"
    stopped = len(calls)
    time.sleep(0.3)
    assert len(calls) == stopped  # the loop ends with the service


def test_settings_wire_the_params_and_refuse_an_open_bind(tmp_path):
    settings = ArgoAnalysisSettings(prometheus_url=closed_port_url(), analysis_state_dir=tmp_path)
    with pytest.raises(AuthConfigError):
        app_from_settings("0.0.0.0", settings)
    now = time.time()
    with running_app(app_from_settings("127.0.0.1", settings)) as url:  # no token on loopback: open, no reconciler
        body = httpx.get(f"{url}/v1/checks/canary/live_accuracy", params=ASK).json()
    assert body["verdict"] == "inconclusive"
    assert (tmp_path / "windows.json").exists() and now - 1 <= Windows(tmp_path).started("5f8c9", "canary", "w10")
