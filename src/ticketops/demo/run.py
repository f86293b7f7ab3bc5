"""The demo, phase by phase: train, serve, steady traffic, new-intent drift, alert, people at the review queue
(demo/humans.py), retraining with their labels, a canary that is promoted, then a bad challenger rolled back."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from ticketops.demo import humans
from ticketops.demo.result import DemoResult
from ticketops.demo.stack import (
    alertmanager_config,
    claim_default_ports,
    fast_rules,
    pick_ports,
    start_alertmanager,
    start_dashboard,
    start_mlflow_ui,
    start_monitor,
    start_webhook_thread,
    webhook_token,
)
from ticketops.demo.timeline import record as record_timeline
from ticketops.demo.workspace import create_workspace, dvc_executable, enter_workspace, git_commit
from ticketops.processes import pid_alive, wait_for_work, wait_until
from ticketops.registry.ref import ModelRef
from ticketops.settings import MODEL_NAME
from ticketops.simulation.traffic import TrafficGenerator

PHASES = 10


class Demo:
    def __init__(self, source: Path, workspace: Path, log, keep_running: bool = True):
        self.source = source
        self.ws = workspace
        self.log = log
        self.keep_running = keep_running
        self.ports_lock = claim_default_ports()  # held until this process ends
        self.ports = pick_ports(usual=self.ports_lock is not None)
        self.result = DemoResult()
        self.traffic: TrafficGenerator | None = None
        self.stack = None
        self.trigger = None
        self.monitor_pid: int | None = None
        self.retrain_summary: dict | None = None
        self.steady_failed = 0
        self.started = time.monotonic()

    # --- helpers -----------------------------------------------------------------------------

    def phase(self, number: int, title: str) -> None:
        elapsed = time.monotonic() - self.started
        self.log(f"\n[bold cyan][{number}/{PHASES}] {title}[/]  [dim](+{elapsed:.0f}s)[/]")

    def run_cmd(self, cmd: list[str], echo: bool = True) -> str:
        """Run ``cmd`` in the workspace; with ``echo`` its output streams to stderr (DVC's progress)."""
        from ticketops.processes import run_streaming

        return run_streaming(cmd, self.ws, sys.stderr.write if echo else None)

    def scenario_windows(self, scenario: str, mixture: float | None = None):
        from ticketops.config import load_params
        from ticketops.simulation.scenarios import scenario_window
        from ticketops.simulation.traffic import simulation_pool

        params = load_params()
        pool = simulation_pool(self.ws, params)
        rng = np.random.default_rng(7)
        return lambda: scenario_window(pool, scenario, 200, rng, params.scenarios, mixture=mixture)

    # --- phases ------------------------------------------------------------------------------

    def setup(self) -> None:
        from ticketops.config import load_params

        self.phase(1, f"workspace {self.ws} (a copy of this checkout; the new intents start unknown)")
        new_intents = list(load_params(self.source / "params.yaml").scenarios.new_intent_labels)
        create_workspace(self.source, self.ws, humans.demo_params(new_intents))
        enter_workspace(self.ws, self.ports)
        self.people = humans.prepare_workspace(self.ws, new_intents, self.log)

    def train(self) -> None:
        self.phase(2, "train, evaluate and register the first champion (dvc repro)")
        self.run_cmd([dvc_executable(), "repro"])
        self.commit("first champion")
        registration = json.loads((self.ws / "models" / "registration.json").read_text())
        if "champion" not in registration["aliases"]:
            raise RuntimeError(f"v{registration['version']} did not become @champion: {registration['gate']['reason']}")
        self.log(f"  v{registration['version']} is @champion: {registration['gate']['reason']}")

    def commit(self, message: str) -> None:
        git_commit(self.ws, message)

    def serve(self) -> None:
        from ticketops.registry import store
        from ticketops.rollout.backend import STABLE
        from ticketops.rollout.local.splitter import Split, save_split
        from ticketops.rollout.local.stack import LocalStack
        from ticketops.settings import CHAMPION, RolloutSettings

        self.phase(3, "serve the champion: Prometheus, Alertmanager, bentoml serve, splitter, monitor, dashboards")
        settings = RolloutSettings()
        self.stack = stack = LocalStack(settings.resolved_state_dir(), settings.prometheus_url, settings.splitter_port)
        stack.down()
        self.trigger = humans.retrain_trigger(self.on_drift_alert, self.people)
        token_file = stack.dir / "retrain-webhook.token"
        start_webhook_thread(self.trigger, self.ports["webhook"], webhook_token(token_file))
        webhook = f"http://127.0.0.1:{self.ports['webhook']}/alerts"
        start_alertmanager(
            stack,
            self.ports["alertmanager"],
            alertmanager_config(webhook, stack.dir / "alertmanager.yml", token_file),
        )
        rules = fast_rules(self.ws / "monitoring" / "prometheus" / "rules", stack.dir / "rules")
        monitor_scrape = {
            "job_name": "ticketops-monitor",
            "static_configs": [{"targets": [f"127.0.0.1:{self.ports['monitor']}"]}],
        }
        stack.start_prometheus([monitor_scrape], rules, f"127.0.0.1:{self.ports['alertmanager']}")
        champion = store.alias_version(store.client(), MODEL_NAME, CHAMPION)
        pinned = str(ModelRef.version_of(MODEL_NAME, champion.version))
        stable = stack.start_service(STABLE, pinned, str(champion.version), STABLE)
        stack.write_targets()
        save_split(stack.split_path, Split(stable=stable.url))
        stack.start_splitter(stable.url)
        self.monitor_pid = start_monitor(stack, self.ports["monitor"], interval_s=10, window=300).pid
        start_dashboard(stack, self.ports["dashboard"])
        start_mlflow_ui(stack, self.ports["mlflow"], os.environ["MLFLOW_TRACKING_URI"])
        self.result.links = {
            "service": stack.splitter_url,
            "mlflow": f"http://127.0.0.1:{self.ports['mlflow']}",
            "prometheus": settings.prometheus_url,
            "alertmanager": f"http://127.0.0.1:{self.ports['alertmanager']}",
            "evidently": f"http://127.0.0.1:{self.ports['dashboard']}",
            "monitor": f"http://127.0.0.1:{self.ports['monitor']}/verdict",
        }
        self.log(f"  v{champion.version} serving at {stack.splitter_url} (stable track)")

    def on_drift_alert(self, names: list[str]) -> str:
        """Alertmanager → webhook → this: export feedback, dvc repro, gate. Once per demo."""
        from ticketops.retraining.pipeline import retrain
        from ticketops.settings import RolloutSettings, service_settings

        if self.retrain_summary is not None:
            return "ignored: the demo retrains once"
        self.log(f"  alert {', '.join(names)} reached the retraining webhook: exporting feedback, dvc repro")
        result = retrain(
            self.ws, service_settings().prediction_log_url, RolloutSettings().resolved_state_dir(), sys.stderr.write
        )
        self.commit(f"feedback batch {result.export.path.name if result.export.path else '(none)'}")
        self.retrain_summary = {
            "feedback_batch": result.export.path.name if result.export.path else None,
            "feedback_rows": result.export.rows,
            "registration": result.registration,
        }
        return json.dumps(self.retrain_summary)

    def steady(self) -> None:
        from ticketops.config import load_params
        from ticketops.simulation.traffic import send_traffic, simulation_pool

        self.phase(4, "steady traffic: the everyday mix of tickets, agents label 30%")
        params = load_params()
        summary = send_traffic(
            self.stack.splitter_url,
            simulation_pool(self.ws, params),
            "steady",
            400,
            80.0,
            params.scenarios,
            feedback_rate=0.3,
            seed=1,
        )
        self.steady_failed += summary.failed_requests
        self.log(f"  {summary.classified} tickets classified, {summary.failed_requests} failed requests")
        verdict = self.next_verdict(after=time.time())
        self.log(
            f"  monitor window of {verdict['window'].get('size')} tickets: drift detected = {verdict['drift_detected']}"
        )

    def next_verdict(self, after: float) -> dict:
        """The monitor's first verdict checked after ``after``, waited for while the monitor runs: its first check
        loads mpnet and scores the reference, minutes beside a CPU hog (a fixed 90 s failed a hogged demo)."""
        url = self.result.links["monitor"]

        def fresh():
            try:
                verdict = httpx.get(url, timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return None
            return verdict if verdict.get("checked_at", 0) >= after else None

        def monitor_running() -> bool:
            return self.monitor_pid is not None and pid_alive(self.monitor_pid)

        return wait_for_work("the monitor's next check", monitor_running, fresh, self.log, cap_s=900, every=2.0)

    def drift(self) -> None:
        self.phase(5, "a product launch: 30% of tickets are about virtual cards, intents the model never saw")
        self.traffic = TrafficGenerator(
            self.stack.splitter_url, self.scenario_windows("new-intent", 0.3), rate=40, feedback_rate=0.6
        ).start()
        started = time.monotonic()
        wait_until("the drift alert to reach the retraining webhook", lambda: self.trigger.state.triggered, timeout=600)
        self.log(f"  drift alert fired and reached the webhook {time.monotonic() - started:.0f}s after the launch")

    def retrained(self) -> dict:
        self.phase(7, "retraining on agents' labels: a new DVC data version, dvc repro, the promotion gate")
        state = self.trigger.state

        def finished() -> object:
            return not state.running and (self.retrain_summary or state.last_error)

        wait_for_work("retraining", lambda: state.running, finished, self.log, cap_s=4 * 3600)
        if state.last_error:
            raise RuntimeError(f"retraining failed: {state.last_error}")
        summary = self.retrain_summary
        gate = summary["registration"]["gate"]
        self.log(
            f"  feedback batch {summary['feedback_batch']} ({summary['feedback_rows']} tickets) → "
            f"v{summary['registration']['version']}: gate {'passed' if gate['passed'] else 'failed'} ({gate['reason']})"
        )
        return summary

    def rollout(self, number: int, title: str, name: str) -> dict:
        from ticketops.rollout.factory import make_controller

        self.phase(number, title)
        controller = make_controller("local", log=self.log)
        report = controller.run(controller.start()).as_dict()
        self.log(f"  {report['result']}: {report['reason']}")
        scenario = {
            "name": name,
            "result": report["result"],
            "stable_version": report["stable_version"],
            "canary_version": report["canary_version"],
            "reason": report["reason"],
            "duration_s": report["duration_s"],
            "steps": report["steps"],
        }
        self.result.scenarios.append(scenario)
        return scenario

    def bad_challenger(self) -> None:
        from ticketops.registry import store
        from ticketops.settings import CHALLENGER

        self.phase(9, "a bad challenger: an experiment trained on 3% of the data, forced past the gate")
        self.traffic.switch(self.scenario_windows("steady"))
        self.run_cmd([dvc_executable(), "exp", "run", "-S", "train.sample_fraction=0.03"], echo=False)
        registration = json.loads((self.ws / "models" / "registration.json").read_text())
        self.run_cmd(["git", "checkout", "--", "."], echo=False)
        self.run_cmd([dvc_executable(), "checkout", "-q"], echo=False)
        version = str(registration["version"])
        self.log(f"  v{version} registered; the gate refused it: {registration['gate']['reason']}")
        client = store.client()
        store.set_alias(client, MODEL_NAME, CHALLENGER, version)
        humans.record_forced_challenger(f"{MODEL_NAME}@{CHALLENGER}", version, registration["gate"])
        store.tag_version(client, MODEL_NAME, version, {"forced_challenger": "ticketops demo: exercising the canary"})
        self.log(f"  @challenger forced to v{version} to show the canary catching what the gate would have")

    def run(self) -> DemoResult:
        self.setup()
        self.train()
        self.serve()
        self.steady()
        self.drift()
        humans.people_phase(self)
        summary = self.retrained()
        if "challenger" in summary["registration"]["aliases"]:
            self.rollout(8, "canary rollout of the retrained model (10% → 25% → 50% → promote)", "new-intent-retrain")
        else:
            self.result.scenarios.append(
                {
                    "name": "new-intent-retrain",
                    "result": "gate_failed",
                    "reason": summary["registration"]["gate"]["reason"],
                }
            )
        self.bad_challenger()
        self.rollout(10, "canary rollout of the bad challenger", "bad-challenger")
        stats = self.traffic.stop()
        self.result.failed_requests = stats.failed_requests + self.steady_failed
        self.result.extra["audit"] = humans.audit_summary(self.people.since)
        self.result.links["timeline"] = str(record_timeline(self.source / "reports" / "demo", self.started))
        return self.result

    def shutdown(self) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        if self.stack is not None and not self.keep_running:
            self.stack.down()
