"""Every panel of both generated dashboards shows data from the real system.

A real Prometheus loads the project's rules (recording and alerting) and scrapes two real `bentoml serve`
replicas (stable v1, canary v2, as the local rollout runs them), the traffic splitter in front of them (30% to
the canary) and `ticketops monitor`; `ticketops simulate` sends steady traffic with agents' feedback. Then each
panel's targets are evaluated through Prometheus' HTTP API exactly as the dashboard JSON states them
(tests/helpers/dashboards.py): a panel without series, with the wrong query type, or a table without the
columns it names fails the test.

The model is the drift tests' tf-idf model (tests/helpers/drift_model.py) with a review threshold that flags a
quarter of the tickets: the tiny fixture model's reference sample is below the drift signals' minimum (the drift
panels need scores), and the review-queue panels need flagged tickets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers.dashboards import PanelChecker
from tests.helpers.drift_model import register_drift_model, shared_drift_model, with_review_share
from tests.helpers.prometheus import RULES, render_config, start_prometheus, wait_for
from tests.helpers.tiny_model import tiny_registry
from ticketops.demo.timeline import RangeReader, collect
from ticketops.monitoring.grafana.export import DASHBOARDS
from ticketops.processes import ManagedProcess, free_port
from ticketops.rollout.local.splitter import Split, save_split
from ticketops.rollout.promql import PromQL

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "monitoring" / "grafana"
CANARY_WEIGHT = 30
WINDOW = 200  # the monitor's window: every drift signal judges it (live accuracy needs enough labels in it)


def ticketops(*args: str) -> list[str]:
    return [sys.executable, "-m", "ticketops", *args]


def prometheus_config(root: Path, ports: dict[str, int]) -> Path:
    """The project's prometheus.yml with test ports and 1 s intervals, the canary replica and the splitter."""
    config_path = render_config(
        root / "prometheus.yml",
        {"ticketops": f"127.0.0.1:{ports['stable']}", "ticketops-monitor": f"127.0.0.1:{ports['monitor']}"},
        RULES,
    )
    config = yaml.safe_load(config_path.read_text())
    service = next(job for job in config["scrape_configs"] if job["job_name"] == "ticketops")
    service["static_configs"].append({"targets": [f"127.0.0.1:{ports['canary']}"], "labels": {"track": "canary"}})
    config["scrape_configs"].append(
        {
            "job_name": "ticketops-splitter",
            "metrics_path": "/-/metrics",
            "static_configs": [{"targets": [f"127.0.0.1:{ports['splitter_admin']}"]}],  # metrics: admin port
        }
    )
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_path


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    root = tmp_path_factory.mktemp("dashboards")
    saved = dict(os.environ)
    processes: list[ManagedProcess] = []
    try:
        registry = tiny_registry(root / "registry")
        model = with_review_share(shared_drift_model(), 0.25, root / "model")  # a review queue to measure
        stable_version = register_drift_model(model)
        canary_version = register_drift_model(model, alias=None)
        pool = root / "pool.csv"
        model.pool.to_csv(pool, index=False)
        env = {
            **registry.env,
            "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{root / 'predictions.db'}",
            "TICKETOPS_MONITOR_STATE_DIR": str(root / "monitor"),
            "BENTOML_HOME": str(root / "bentoml"),
        }
        names = ("stable", "canary", "splitter", "splitter_admin", "monitor", "prometheus")
        ports = {name: free_port() for name in names}
        replicas = {
            track: {"TICKETOPS_TRACK": track, "TICKETOPS_MODEL_URI": f"models:/ticket-classifier/{version}"}
            for track, version in (("stable", stable_version), ("canary", canary_version))
        }
        for track, extra in replicas.items():
            command = ticketops("serve", "--port", str(ports[track]))
            processes.append(ManagedProcess(track, command, root / f"{track}.log", {**env, **extra}).start())
        monitor = ManagedProcess(
            "monitor",
            ticketops("monitor", "--port", str(ports["monitor"]), "--interval", "2", "--window", str(WINDOW)),
            root / "monitor.log",
            env,
        )
        processes.append(monitor.start())
        split = root / "split.json"
        urls = {track: f"http://127.0.0.1:{ports[track]}" for track in replicas}
        save_split(split, Split(stable=urls["stable"], canary=urls["canary"], weight=CANARY_WEIGHT))
        # the splitter only forwards to the stack's own replicas (processes.json beside the split) and keeps
        # its admin API (and /-/metrics) on a loopback port of its own, behind a token
        (root / "processes.json").write_text(json.dumps({track: {"port": ports[track]} for track in replicas}))
        (root / "splitter.token").write_text("dashboards-test-admin-token")
        splitter_command = [
            *(sys.executable, "-m", "ticketops.rollout.local.splitter", "--split-file", str(split)),
            *("--token-file", str(root / "splitter.token"), "--port", str(ports["splitter"])),
            *("--admin-port", str(ports["splitter_admin"])),
        ]
        splitter = ManagedProcess("splitter", splitter_command, root / "split.log")
        processes.append(splitter.start())
        processes.append(start_prometheus(root / "prometheus", prometheus_config(root, ports), ports["prometheus"]))
        for process, track in zip(processes, replicas, strict=False):
            process.wait_http(f"{urls[track]}/readyz", timeout=180)
        monitor.wait_http(f"http://127.0.0.1:{ports['monitor']}/healthz", timeout=120)
        splitter.wait_http(f"http://127.0.0.1:{ports['splitter_admin']}/-/healthz", timeout=60)
        yield {
            "prom": PromQL(f"http://127.0.0.1:{ports['prometheus']}"),
            "prometheus_url": f"http://127.0.0.1:{ports['prometheus']}",
            "url": f"http://127.0.0.1:{ports['splitter']}",
            "pool": pool,
            "env": {**os.environ, **env},
            "logs": root,
        }
    finally:
        for process in reversed(processes):
            process.stop()
        os.environ.clear()
        os.environ.update(saved)


def simulate(url: str, pool: Path, env: dict[str, str], count: int, rate: float) -> dict:
    """Steady traffic at ``rate`` tickets/s: spread over several scrapes, as rate() and histograms need."""
    command = ticketops(
        "simulate", "--scenario", "steady", "--url", url, "--pool", str(pool), "--rate", str(rate),
        "--count", str(count), "--feedback-rate", "0.6", "--seed", "3", "--json",
    )  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failed_requests"] == 0, summary
    return summary


def test_every_panel_of_both_dashboards_returns_the_series_it_shows(system):
    prom: PromQL = system["prom"]
    started = time.time()
    wait_for(prom, "up == 1", lambda s: len(s) == 4, 60, "stable, canary, splitter and monitor scraped")
    simulate(system["url"], system["pool"], system["env"], 300, rate=40)  # 70% (about 210) reach stable v1
    # The monitor judged a full window with every signal, and both tracks' traffic reached the KPI rules.
    wait_for(prom, f"ticketops_drift_window_size >= {WINDOW}", bool, 90, "a full window checked")
    wait_for(prom, "ticketops_drift_enough_data == 1", lambda s: len(s) >= 6, 30, "every drift signal judged")
    wait_for(prom, "ticketops:cost_per_1k_tickets:rate5m", lambda s: len(s) == 2, 30, "cost on both tracks")
    time.sleep(3)  # a few more scrapes and rule evaluations, so the last range-query steps see the newest series

    boards = {name: json.loads((GRAFANA / name).read_text()) for name in DASHBOARDS}
    checker = PanelChecker(system["prometheus_url"], start=started)
    try:
        problems = [p for board in boards.values() for p in checker.problems(board)]
        assert problems == [], "\n".join(problems)
        panels = sum(1 for board in boards.values() for p in board["panels"] if p["type"] != "row")
        assert panels >= 25  # both dashboards were really walked

        # The checker itself fails what it should: no data, the Time/Value table, a column no query returns.
        broken = {
            "title": "broken",
            "panels": [
                {"type": "timeseries", "title": "nothing", "targets": [{"refId": "A", "expr": "ticketops_nope"}]},
                {
                    "type": "table",
                    "title": "range table",
                    "targets": [{"refId": "A", "expr": "ticketops_model_info", "range": True}],
                    "transformations": [{"id": "organize", "options": {"indexByName": {"version": 0}}}],
                },
            ],
        }
        found = checker.problems(broken)
        assert any("nothing: A: no series" in p for p in found), found
        assert any("needs an instant query" in p for p in found) and any("format=table" in p for p in found), found
        assert any("column 'version' is in no row" in p for p in found), found
    finally:
        checker.close()

    # The demo's timeline reads the same Prometheus: every panel of the picture has data here too (no rollout ran,
    # so the canary weight is the splitter's fixed 30%).
    reader = RangeReader(system["prometheus_url"], started, time.time(), step=2.0)
    picture = collect(reader)
    assert picture.drift_signal and len(picture.drift) == 2
    for name in ("traffic", "backlog", "canary_weight", "accuracy"):
        assert any(s.values for s in getattr(picture, name)), name
    assert {s.label for s in picture.traffic} == {"stable", "canary"}
    assert max(picture.canary_weight[0].values) == CANARY_WEIGHT

    # The CPU figure is the replicas' own: both tracks report CPU per 1,000 tickets, and a plausible one.
    per_1k = prom.by_label("ticketops:cpu_seconds_per_1k_tickets:rate5m", "track")
    assert set(per_1k) == {"stable", "canary"} and all(0 < v < 1000 for v in per_1k.values()), per_1k
