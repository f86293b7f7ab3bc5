"""The whole watch on loopback: `ticketops serve` + `ticketops monitor` + a real Prometheus with the project's
config and alert rules, traffic from `ticketops simulate`. Steady traffic must leave the drift alert quiet;
new-intent traffic must make it fire, as seen by PromQL.

The rules run time-compressed (every ``for:`` x 1/200: 10 minutes become 3 s); promtool's unit tests
(tests/unit/monitoring/test_monitoring_config.py) check the real durations.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.drift_model import register_drift_model, shared_drift_model
from tests.helpers.prometheus import compress_rules, render_config, start_prometheus, wait_for
from tests.helpers.tiny_model import tiny_registry
from ticketops.processes import ManagedProcess, free_port
from ticketops.rollout.promql import PromQL

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DRIFT_ALERT = 'ALERTS{alertname="TicketopsDriftDetected"}'
DRIFT_FIRING = 'ALERTS{alertname="TicketopsDriftDetected", alertstate="firing"}'


def ticketops(*args: str) -> list[str]:
    return [sys.executable, "-m", "ticketops", *args]


def simulate(url: str, pool, scenario: str, env: dict[str, str], **options: str) -> None:
    extra = [arg for key, value in options.items() for arg in (f"--{key.replace('_', '-')}", value)]
    command = ticketops(
        "simulate", "--scenario", scenario, "--url", url, "--pool", str(pool), "--rate", "0", "--json", *extra
    )
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"failed_requests": 0' in result.stdout, result.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("watch")
    saved = dict(os.environ)
    processes: list[ManagedProcess] = []
    try:
        registry = tiny_registry(root / "registry")
        model = shared_drift_model()
        version = register_drift_model(model)
        pool = root / "pool.csv"
        model.pool.to_csv(pool, index=False)
        env = {
            **registry.env,
            "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{root / 'predictions.db'}",
            "TICKETOPS_MONITOR_STATE_DIR": str(root / "monitor"),
            "BENTOML_HOME": str(root / "bentoml"),
        }
        service_port, monitor_port, prometheus_port = free_port(), free_port(), free_port()
        service = ManagedProcess("service", ticketops("serve", "--port", str(service_port)), root / "service.log", env)
        processes.append(service.start())
        monitor = ManagedProcess(
            "monitor",
            ticketops("monitor", "--port", str(monitor_port), "--interval", "2", "--window", "200"),
            root / "monitor.log",
            env,
        )
        processes.append(monitor.start())
        service.wait_http(f"http://127.0.0.1:{service_port}/readyz", timeout=180)
        monitor.wait_http(f"http://127.0.0.1:{monitor_port}/healthz", timeout=120)
        config = render_config(
            root / "prometheus.yml",
            {"ticketops": f"127.0.0.1:{service_port}", "ticketops-monitor": f"127.0.0.1:{monitor_port}"},
            compress_rules(root / "rules", scale=1 / 200),
        )
        processes.append(start_prometheus(root / "prometheus", config, prometheus_port))
        yield {
            "prom": PromQL(f"http://127.0.0.1:{prometheus_port}"),
            "url": f"http://127.0.0.1:{service_port}",
            "pool": pool,
            "env": {**os.environ, **env},
            "version": version,
            "logs": root,
        }
    finally:
        for process in reversed(processes):
            process.stop()
        os.environ.clear()
        os.environ.update(saved)


def test_drift_alert_quiet_on_steady_traffic_then_fires_on_new_intents(stack):
    prom: PromQL = stack["prom"]
    wait_for(prom, 'up{job=~"ticketops|ticketops-monitor"} == 1', lambda s: len(s) == 2, 60, "both targets up")

    simulate(stack["url"], stack["pool"], "steady", stack["env"], count="200", feedback_rate="0.6", seed="1")
    # The monitor judged a full steady window with every signal ...
    wait_for(prom, "ticketops_drift_window_size >= 200", bool, 90, "a full steady window checked")
    judged = wait_for(prom, "ticketops_drift_enough_data == 1", lambda s: len(s) == 6, 30, "every signal judged")
    assert {s.labels["signal"] for s in judged} >= {"text", "embedding", "prediction", "confidence"}
    # ... found nothing, and after several evaluations (the compressed `for:` is 3 s) no drift alert exists.
    overall = prom.scalar('ticketops_drift_detected{signal="overall"}')
    assert overall == 0, prom.query("ticketops_drift_score")
    wait_for(prom, 'ticketops_monitor_runs_total{result="verdict"} >= 3', bool, 60, "more steady checks")
    assert prom.query(DRIFT_ALERT) == [], prom.query("ticketops_drift_detected")
    served = prom.query(f'sum(ticketops_predictions_total{{model_version="{stack["version"]}"}})')
    assert served and served[0].value >= 200  # the service's own metrics are scraped too

    simulate(stack["url"], stack["pool"], "new-intent", stack["env"], count="200", mixture="0.4", seed="2")
    # The signals cross their thresholds on different checks while the window fills with the new traffic (the
    # text classifier often first): wait for the set to hold one that reads the model's answers or embeddings.
    by_answers = {"prediction", "confidence", "embedding", "review_rate"}
    firing = wait_for(
        prom,
        DRIFT_FIRING,
        lambda series: bool({s.labels["signal"] for s in series} & by_answers),
        90,
        "the drift alert firing on new-intent traffic, from a signal beyond the text",
    )
    assert all(s.labels["action"] == "retrain" for s in firing)
