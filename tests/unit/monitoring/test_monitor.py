"""The monitor over a real prediction log and a real registry: verdicts, files, workspace, gauges, endpoints."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from typer.testing import CliRunner

from tests.helpers.drift_model import register_drift_model
from tests.helpers.tiny_model import tiny_registry
from tests.unit.monitoring.conftest import scored, traffic
from ticketops.cli import app
from ticketops.config import load_params
from ticketops.monitoring.exporter import PUSH_JOB, MonitorMetrics
from ticketops.monitoring.monitor import Monitor, serve
from ticketops.monitoring.store import LATEST
from ticketops.processes import ManagedProcess, free_port
from ticketops.settings import MonitorSettings


def log_window(url: str, window, version: str, start: float) -> None:
    """Write a scored window into the prediction log as the service would (one row per ticket)."""
    from ticketops.serving.log_schema import metadata, predictions
    from ticketops.serving.prediction_log import make_engine

    engine = make_engine(url)
    metadata.create_all(engine)
    f = window.frame
    rows = [
        {
            "ticket_id": f"t{start}-{i}",
            "text": f.at[i, "text"],
            "label": f.at[i, "predicted"],
            "confidence": float(f.at[i, "confidence"]),
            "needs_review": bool(f.at[i, "needs_review"]),
            "model_version": version,
            "stage": "single",
            "latency_ms": 2.0,
            "created_at": start + i * 0.01,
            "true_label": f.at[i, "true_label"],
            "feedback_at": start + 1 if f.at[i, "true_label"] else None,
        }
        for i in range(len(f))
    ]
    with engine.begin() as connection:
        connection.execute(insert(predictions), rows)
    engine.dispose()


@pytest.fixture(scope="module")
def registered(drift_model, tmp_path_factory):
    """A throw-away MLflow store with the drift model as @champion (the environment is restored afterwards)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_TRACKING_URI", "TICKETOPS_ARTIFACT_ROOT", "HF_HUB_OFFLINE"):
            patch.setenv(name, "")  # recorded (set or not), so leaving the context restores it
            patch.delenv(name)
        registry = tiny_registry(tmp_path_factory.mktemp("registry"))
        yield registry, register_drift_model(drift_model)


def test_monitor_checks_the_newest_window_and_keeps_everything(drift_model, reference, registered, tmp_path):
    _, version = registered
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    settings = MonitorSettings(prediction_log_url=url, window_size=250, state_dir=tmp_path / "monitor", interval_s=1)
    metrics = MonitorMetrics()
    monitor = Monitor(settings, load_params().monitor, metrics)

    empty = monitor.run_once()
    assert empty is not None and not empty.drift_detected and empty.window["size"] == 0

    now = time.time()
    log_window(url, scored(reference, traffic(drift_model, "steady", 250, 11)), version, now - 60)
    log_window(url, scored(reference, traffic(drift_model, "steady", 40, 12)), "999", now - 50)  # another version
    steady = monitor.run_once()
    assert steady is not None and steady.window["size"] == 250, steady.to_dict()
    assert not steady.drift_detected, steady.to_dict()

    log_window(url, scored(reference, traffic(drift_model, "surge", 250, 13, mixture=0.4)), version, now - 30)
    drifted = monitor.run_once()
    assert drifted is not None and drifted.drift_detected and "prediction" in drifted.drifted

    state = settings.resolved_state_dir()
    windows = sorted((state / "windows").iterdir())
    assert len(windows) == 3
    assert (windows[-1] / "snapshot.json").exists() and (windows[-1] / "report.html").exists()
    assert json.loads((state / LATEST).read_text())["drift_detected"] is True

    workspace, project = monitor._workspace_project()
    assert len(workspace.list_runs(project.id)) == 2  # the empty window has no snapshot
    exposition = metrics.exposition().decode()
    assert 'ticketops_drift_detected{signal="overall"} 1.0' in exposition
    assert 'ticketops_monitor_runs_total{result="verdict"} 2.0' in exposition
    assert 'ticketops_monitor_runs_total{result="no_data"} 1.0' in exposition
    assert (
        f'ticketops_monitor_reference_info{{model_uri="models:/ticket-classifier@champion",model_version="{version}"}}'
        in (exposition)
    )


def test_monitor_serves_metrics_verdict_and_health(registered, tmp_path):
    settings = MonitorSettings(
        prediction_log_url=f"sqlite:///{tmp_path / 'none.db'}",
        state_dir=tmp_path / "monitor",
        port=free_port(),
        interval_s=30,
    )
    monitor = Monitor(settings, load_params().monitor)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(monitor, stop), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{settings.port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/verdict").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert httpx.get(f"{base}/healthz").text == "ok\n"
        assert httpx.get(f"{base}/verdict").json()["drift_detected"] is False
        assert "ticketops_monitor_last_run_timestamp_seconds" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/nothing").status_code == 404
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_drift_cli_json_contract(drift_model, tmp_path):
    current = tmp_path / "current.csv"
    traffic(drift_model, "new-intent", 200, 14, mixture=0.4)[["text", "label"]].to_csv(current, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["drift", "--current", str(current), "--model-uri", str(drift_model.folder), "--json"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout.strip().splitlines()[-1])
    assert verdict["drift_detected"] is True
    for signal in ("text", "embedding", "prediction", "confidence", "review_rate", "live_accuracy"):
        assert verdict[signal]["status"] in {"drift", "ok", "not_enough_data"}
    assert verdict["window"]["size"] == 200

    reference = tmp_path / "reference.csv"
    traffic(drift_model, "steady", 200, 15)[["text", "label"]].to_csv(reference, index=False)
    steady = tmp_path / "steady.csv"
    traffic(drift_model, "steady", 200, 16)[["text"]].to_csv(steady, index=False)
    args = ["drift", "-c", str(steady), "-r", str(reference), "--model-uri", str(drift_model.folder), "--json"]
    result = runner.invoke(app, [*args, "--fail-on-drift", "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["drift_detected"] is False
    assert (tmp_path / "r.html").exists()


def test_drift_cli_without_reference_uses_the_champion(drift_model, registered, tmp_path):
    current = tmp_path / "current.csv"
    traffic(drift_model, "surge", 150, 17, mixture=0.5)[["text"]].to_csv(current, index=False)
    result = CliRunner().invoke(app, ["drift", "--current", str(current), "--json"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout.strip().splitlines()[-1])
    assert verdict["drift_detected"] is True
    assert verdict["reference"]["model_version"] == registered[1]


def test_drift_cli_refuses_a_csv_without_text(tmp_path, drift_model):
    bad = tmp_path / "bad.csv"
    bad.write_text("body\nhello\n")
    result = CliRunner().invoke(app, ["drift", "--current", str(bad), "--model-uri", str(drift_model.folder)])
    assert result.exit_code == 2
    assert "no `text` column" in result.output


def test_monitor_once_pushes_its_gauges_to_a_real_pushgateway(registered, tmp_path):
    """The CronJob's path: `monitor --once --push-gateway` leaves the verdict where Prometheus can scrape it."""
    port = free_port()
    gateway = ManagedProcess(
        "pushgateway",
        ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}"],
        tmp_path / "pushgateway.log",
    ).start()
    args = [
        "monitor",
        "--once",
        "--prediction-log-url",
        f"sqlite:///{tmp_path / 'none.db'}",
        "--state-dir",
        str(tmp_path / "monitor"),
        "--push-gateway",
        f"http://127.0.0.1:{port}",
    ]
    runner = CliRunner()
    try:
        gateway.wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
        before = time.time()
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.strip().splitlines()[-1])["drift_detected"] is False
        pushed = {
            (sample.name, sample.labels.get("signal")): sample
            for family in text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
            for sample in family.samples
            if sample.labels.get("job") == PUSH_JOB
        }
        assert pushed[("ticketops_monitor_last_success_timestamp_seconds", None)].value >= before
        assert pushed[("ticketops_drift_detected", "overall")].value == 0
    finally:
        gateway.stop()
    refused = runner.invoke(app, args)  # the gateway is gone: a clear error, non-zero exit
    assert refused.exit_code == 1 and "cannot push to the Pushgateway" in refused.output
    daemon = runner.invoke(app, ["monitor", "--push-gateway", "http://127.0.0.1:1"])
    assert daemon.exit_code == 2 and "is for --once" in daemon.output
