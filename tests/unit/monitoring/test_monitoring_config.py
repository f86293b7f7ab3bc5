"""Prometheus config, alert rules (with their promtool unit tests), Alertmanager routing, Grafana queries."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "monitoring" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*test*.yml"))
ALERTMANAGER = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
GRAFANA = sorted((ROOT / "monitoring" / "grafana").glob("*.json"))
REQUIRED_ALERTS = {
    "TicketopsDriftDetected",
    "TicketopsReviewRateHigh",
    "TicketopsLiveAccuracyDropped",
    "TicketopsErrorRateHigh",
    "TicketopsLatencyHigh",
    "TicketopsMonitorStale",
}


def run(*command: str) -> subprocess.CompletedProcess:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed (make install installs the Debian package)")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result


def alerts() -> dict[str, dict]:
    found = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[rule["alert"]] = rule
    return found


def test_promtool_check_config():
    run("promtool", "check", "config", str(PROMETHEUS / "prometheus.yml"))


def test_promtool_check_rules():
    assert RULE_FILES
    run("promtool", "check", "rules", *map(str, RULE_FILES))


def test_promtool_unit_tests_cover_every_alert():
    assert TEST_FILES
    run("promtool", "test", "rules", *map(str, TEST_FILES))
    tested = {m for path in TEST_FILES for m in re.findall(r"alertname: (\w+)", path.read_text())}
    assert set(alerts()) <= tested, f"alerts without a promtool test: {set(alerts()) - tested}"


def test_every_recording_rule_has_a_promtool_test():
    recorded = {
        rule["record"]
        for path in RULE_FILES
        for g in yaml.safe_load(path.read_text())["groups"]
        for rule in g["rules"]
        if "record" in rule
    }
    tested = {m for path in TEST_FILES for m in re.findall(r"\b(ticketops:[a-z0-9_:]+)", path.read_text())}
    assert recorded and recorded <= tested, f"recording rules without a promtool test: {recorded - tested}"


def test_the_required_alerts_exist():
    assert set(alerts()) >= REQUIRED_ALERTS


def test_only_drift_alerts_reach_the_retraining_webhook():
    run("amtool", "check-config", str(ALERTMANAGER))
    route = yaml.safe_load(ALERTMANAGER.read_text())["route"]
    for name in alerts():
        result = run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", f"alertname={name}")
        receiver = result.stdout.strip()
        assert receiver == ("retrain" if "Drift" in name else route["receiver"]), (name, receiver)


def exported_metric_names() -> set[str]:
    """Every metric name the service, the monitor and the splitter export (counters also as _total, histograms'
    series), the monitor's review backlog on an empty prediction log included."""
    from prometheus_client import CollectorRegistry
    from sqlalchemy import create_engine

    from ticketops.monitoring.exporter import MonitorMetrics
    from ticketops.monitoring.review_metrics import ReviewBacklogCollector
    from ticketops.rollout.local.splitter import splitter_metrics
    from ticketops.serving.metrics import ServiceMetrics

    backlog, splitter = CollectorRegistry(), CollectorRegistry()
    backlog.register(ReviewBacklogCollector(create_engine("sqlite://")))
    splitter_metrics(splitter)
    service = ServiceMetrics("stable", cpu_hour_price=0.05).registry
    names: set[str] = set()
    for registry in (service, MonitorMetrics().registry, backlog, splitter):
        for family in registry.collect():
            names.add(family.name)
            names.update({f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count"})
    return names


def queried_metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bticketops_[a-z_]+\b", text))


def recorded_names() -> set[str]:
    groups = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    return {rule["record"] for g in groups for rule in g["rules"] if "record" in rule}


def test_rules_and_grafana_query_only_exported_metrics_and_recorded_series():
    exported = exported_metric_names()
    rules_text = "\n".join(path.read_text() for path in RULE_FILES)
    assert queried_metric_names(rules_text) <= exported, queried_metric_names(rules_text) - exported
    assert len(GRAFANA) == 2
    for path in GRAFANA:
        dashboard = json.loads(path.read_text())
        exprs = "\n".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
        exprs += "\n".join(a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a)  # PromQL ones
        assert queried_metric_names(exprs) <= exported, (path.name, queried_metric_names(exprs) - exported)
        recorded = set(re.findall(r"\bticketops:[a-z0-9_:]+", exprs))
        assert recorded <= recorded_names(), (path.name, recorded - recorded_names())
    titles = {p["title"] for path in GRAFANA for p in json.loads(path.read_text())["panels"]}
    for wanted in (
        "Tickets per intent (per hour)",
        "Automation rate",
        "Served model version",
        "Cost per 1,000 tickets",
    ):
        assert wanted in titles
