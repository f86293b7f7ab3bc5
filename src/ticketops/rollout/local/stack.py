"""The local stack: Prometheus, the stable and canary ``bentoml serve`` processes and the splitter.

Processes run detached (own session) with pid files, so the rollout controller can stop and be restarted
without taking traffic down, and a later ``ticketops`` call finds them again. Prometheus discovers the
service processes from a file (``file_sd``) that carries the ``track`` label the canary analysis queries.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

from ticketops.fileio import atomic_write, read_json, write_json
from ticketops.processes import ManagedProcess, ProcessFailed, free_port, pid_alive, stop_pid
from ticketops.rollout.backend import CANARY, STABLE
from ticketops.rollout.local.secrets import read_or_choose_port, read_or_create_token
from ticketops.rollout.local.splitter import Split, save_split
from ticketops.settings import project_root

PROMETHEUS_BIN = "prometheus"
SPLITTER_TOKEN = "splitter.token"  # the splitter's admin token, 0600 in the stack folder


@dataclass
class ProcessRecord:
    name: str
    pid: int
    port: int
    log: str
    model_uri: str = ""
    version: str = ""
    admin_port: int = 0  # the splitter's admin API (loopback)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalStack:
    """Everything under ``<state_dir>/local``: process records, the split, Prometheus' targets and data."""

    def __init__(self, state_dir: Path, prometheus_url: str, splitter_port: int, env: dict[str, str] | None = None):
        self.dir = Path(state_dir) / "local"
        self.prometheus_url = prometheus_url
        self.splitter_port = splitter_port
        self.env = {
            "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{self.dir / 'predictions.db'}",
            **(env or {}),
        }

    # --- records -------------------------------------------------------------------------------

    @property
    def records_path(self) -> Path:
        return self.dir / "processes.json"

    @property
    def split_path(self) -> Path:
        return self.dir / "split.json"

    @property
    def targets_path(self) -> Path:
        return self.dir / "prometheus" / "targets.json"

    def records(self) -> dict[str, ProcessRecord]:
        if not self.records_path.exists():
            return {}
        return {name: ProcessRecord(**rec) for name, rec in read_json(self.records_path).items()}

    def _save_records(self, records: dict[str, ProcessRecord]) -> None:
        write_json(self.records_path, {name: asdict(rec) for name, rec in records.items()})

    def record(self, name: str) -> ProcessRecord | None:
        rec = self.records().get(name)
        return rec if rec and pid_alive(rec.pid) else None

    # --- processes ---------------------------------------------------------------------------

    def launch(
        self,
        name: str,
        command: list[str],
        port: int,
        health: str,
        timeout: float,
        health_port: int | None = None,
        **meta,
    ) -> ProcessRecord:
        log = self.dir / "logs" / f"{name}.log"
        process = ManagedProcess(name, command, log, env=self.env, cwd=project_root()).start()
        try:
            process.wait_http(f"http://127.0.0.1:{health_port or port}{health}", timeout=timeout)
        except ProcessFailed:
            process.stop()
            raise
        record = ProcessRecord(name, process.pid, port, str(log), **meta)
        records = self.records()
        records[name] = record
        self._save_records(records)
        return record

    def rename(self, name: str, new_name: str) -> None:
        """Keep a process running under another name (the old stable while its successor loads)."""
        records = self.records()
        if name in records:
            records[new_name] = records.pop(name)
            self._save_records(records)

    def stop(self, name: str) -> None:
        records = self.records()
        record = records.pop(name, None)
        if record is not None:
            stop_pid(record.pid)
            self._save_records(records)

    def start_service(
        self, name: str, model_uri: str, version: str, track: str, timeout: float = 600.0
    ) -> ProcessRecord:
        """``ticketops serve`` on a free port, ready only once its model is verified and loaded.

        A process that exits fails at once (``wait_http``); ``timeout`` only bounds a load that hangs. An mpnet
        cascade loads, calibrates its encoder runtimes and checks its fast stage in ~20 s on a quiet machine and
        several times that beside a CPU hog, so the bound is generous."""
        port = free_port()
        command = [sys.executable, "-m", "ticketops", "serve", "--model-uri", model_uri, "--port", str(port)]
        self.env["TICKETOPS_TRACK"] = track
        try:
            return self.launch(name, command, port, "/readyz", timeout, model_uri=model_uri, version=version)
        finally:
            self.env.pop("TICKETOPS_TRACK", None)

    def admin_token(self) -> str:
        """The splitter's admin token (made once, 0600): only this stack's controller can change the split."""
        return read_or_create_token(self.dir / SPLITTER_TOKEN)

    @property
    def admin_port(self) -> int:
        """The splitter's admin port on loopback (chosen once, kept with the stack so Prometheus finds it)."""
        return read_or_choose_port(self.dir / "splitter.admin-port")

    def start_splitter(self, stable_url: str) -> ProcessRecord:
        if not self.split_path.exists():
            save_split(self.split_path, Split(stable=stable_url))
        self.admin_token()
        command = [
            sys.executable,
            "-m",
            "ticketops.rollout.local.splitter",
            "--split-file",
            str(self.split_path),
            "--token-file",
            str(self.dir / SPLITTER_TOKEN),
            "--port",
            str(self.splitter_port),
            "--admin-port",
            str(self.admin_port),
        ]
        return self.launch(
            "splitter",
            command,
            self.splitter_port,
            "/-/healthz",
            30.0,
            health_port=self.admin_port,
            admin_port=self.admin_port,
        )

    def start_prometheus(
        self, extra_scrape: list[dict] | None = None, rules_dir: Path | None = None, alertmanager: str | None = None
    ) -> ProcessRecord:
        """Prometheus on loopback: 2 s scrapes, the project's alert rules (or ``rules_dir``'s), Alertmanager."""
        port = urlparse(self.prometheus_url).port or 9090
        config = self.dir / "prometheus" / "prometheus.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        if not self.targets_path.exists():
            self.write_targets()
        settings = self.prometheus_config(extra_scrape or [], rules_dir, alertmanager)
        config.write_text(yaml.safe_dump(settings, sort_keys=False))
        command = [
            PROMETHEUS_BIN,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'prometheus' / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=2d",
        ]
        return self.launch("prometheus", command, port, "/-/ready", 60.0)

    def prometheus_config(self, extra_scrape: list[dict], rules_dir: Path | None, alertmanager: str | None) -> dict:
        rules = rules_dir or project_root() / "monitoring" / "prometheus" / "rules"
        alerting = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]} if alertmanager else {}
        return {
            "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
            **({"alerting": alerting} if alerting else {}),
            "rule_files": [str(rules / "*.yml")] if rules.exists() else [],
            "scrape_configs": [
                {
                    # Series carry the model_version that answered (for feedback: whose prediction was judged);
                    # without honor_labels the receiving replica's target label would overwrite it (as honorLabels
                    # on the PodMonitor).
                    "job_name": "ticketops",
                    "honor_labels": True,
                    "file_sd_configs": [{"files": [str(self.targets_path)], "refresh_interval": "1s"}],
                },
                {
                    "job_name": "ticketops-splitter",
                    "metrics_path": "/-/metrics",
                    "static_configs": [{"targets": [f"127.0.0.1:{self.admin_port}"]}],
                },
                *extra_scrape,
            ],
        }

    def write_targets(self) -> None:
        """Prometheus' view of the service processes, labelled by track and the version the process serves
        (``served_version``: never ``model_version``, which the series carry themselves)."""
        groups = []
        for name in (STABLE, CANARY):
            rec = self.record(name)
            if rec is not None:
                groups.append(
                    {"targets": [f"127.0.0.1:{rec.port}"], "labels": {"track": name, "served_version": rec.version}}
                )
        self.targets_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.targets_path, lambda tmp: tmp.write_text(json.dumps(groups, indent=2)))

    # --- traffic -----------------------------------------------------------------------------

    @property
    def splitter_url(self) -> str:
        return f"http://127.0.0.1:{self.splitter_port}"

    @property
    def splitter_admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def _admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token()}"}

    def set_split(self, split: Split) -> None:
        """Tell the running splitter (it also persists the split) — takes effect on the next request."""
        response = httpx.put(
            f"{self.splitter_admin_url}/-/split", json=split.model_dump(), headers=self._admin_headers(), timeout=5.0
        )
        response.raise_for_status()

    def current_split(self) -> Split:
        response = httpx.get(f"{self.splitter_admin_url}/-/split", headers=self._admin_headers(), timeout=5.0)
        response.raise_for_status()
        return Split.model_validate(response.json())

    # --- whole stack -------------------------------------------------------------------------

    def up(self, model_uri: str, version: str) -> None:
        """Prometheus, stable on ``model_uri`` and the splitter; what is already running is kept."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.record("prometheus") is None:
            self.start_prometheus()
        stable = self.record(STABLE) or self.start_service(STABLE, model_uri, version, STABLE)
        self.write_targets()
        if self.record("splitter") is None:
            save_split(self.split_path, Split(stable=stable.url))
            self.start_splitter(stable.url)

    def down(self) -> None:
        for name in ("splitter", CANARY, STABLE, *[n for n in self.records() if n not in ("splitter", CANARY, STABLE)]):
            self.stop(name)
        self.split_path.unlink(missing_ok=True)

    def status(self) -> dict[str, dict]:
        return {name: {**asdict(rec), "alive": pid_alive(rec.pid)} for name, rec in self.records().items()}
