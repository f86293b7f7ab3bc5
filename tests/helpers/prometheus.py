"""Run the project's Prometheus configuration in a test: ports templated, intervals and ``for:`` compressed.

``render_config`` keeps monitoring/prometheus/prometheus.yml as it is except for what a test must change:
targets (free ports), scrape/evaluation interval (1 s), the rule files (a copy whose ``for:`` durations are
scaled down, so a 10-minute persistence becomes a few seconds) and the Alertmanager (none).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from ticketops.processes import ManagedProcess
from ticketops.rollout.promql import PrometheusUnavailable, PromQL, Sample

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "monitoring" / "prometheus" / "prometheus.yml"
RULES = ROOT / "monitoring" / "prometheus" / "rules"
UNITS = {"s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> float:
    return sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", duration))


def compress_rules(dst: Path, scale: float) -> Path:
    """Copy the rule files with every ``for:`` multiplied by ``scale`` (at least 1 s); returns the folder."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(RULES.glob("*.yml")):
        content = yaml.safe_load(path.read_text())
        for group in content["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = f"{max(1, round(seconds(rule['for']) * scale))}s"
        (dst / path.name).write_text(yaml.safe_dump(content, sort_keys=False))
    return dst


def render_config(dst: Path, targets: Mapping[str, str], rules_dir: Path, interval: str = "1s") -> Path:
    """The project's config with ``targets`` ({job_name: host:port}) and test intervals, written to ``dst``."""
    config = yaml.safe_load(CONFIG.read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str(rules_dir / "*.yml")]
    config.pop("alerting", None)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    missing = set(targets) - set(jobs)
    if missing:
        raise KeyError(f"no scrape job named {sorted(missing)} in {CONFIG}")
    for name, target in targets.items():
        for static in jobs[name]["static_configs"]:
            static["targets"] = [target]
    dst.write_text(yaml.safe_dump(config, sort_keys=False))
    return dst


def start_prometheus(workdir: Path, config: Path, port: int) -> ManagedProcess:
    process = ManagedProcess(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        workdir / "prometheus.log",
    ).start()
    process.wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60)
    return process


def wait_for(prom: PromQL, expr: str, ok: Callable[[list[Sample]], bool], timeout: float, what: str) -> list[Sample]:
    """Poll ``expr`` until ``ok(samples)``; fail with the last answer after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: list[Sample] | str = "never queried"
    while time.monotonic() < deadline:
        try:
            last = prom.query(expr)
            if ok(last):
                return last
        except PrometheusUnavailable as exc:
            last = str(exc)
        time.sleep(0.5)
    raise AssertionError(f"{what}: {expr} still {last!r} after {timeout:.0f}s")
