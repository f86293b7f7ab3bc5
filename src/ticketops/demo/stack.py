"""The demo's extra processes beside the local rollout stack: drift monitor, Alertmanager, Evidently UI,
MLflow UI, and a demo copy of the alert rules on a faster clock."""

from __future__ import annotations

import fcntl
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import IO

import yaml

from ticketops.rollout.local.stack import LocalStack, ProcessRecord
from ticketops.settings import DEFAULT_MODEL_URI

DEFAULT_PORTS = {
    "splitter": 3000,
    "prometheus": 9090,
    "alertmanager": 9093,
    "monitor": 9108,
    "dashboard": 8000,
    "mlflow": 5000,
    "webhook": 9095,
}
PORTS_LOCK = "ticketops-demo-ports.lock"  # in the system's temporary folder: one per machine


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def claim_default_ports(lock_dir: Path | None = None) -> IO[str] | None:
    """An exclusive lock on the usual ports for this demo's lifetime, or None when another demo holds it.

    A demo checks its ports at the start and binds them minutes later: two demos started together (two people on
    one machine) both found 3000 free and the second failed to bind it. The first demo keeps the usual ports;
    later ones take ephemeral ones. The lock goes with the process, so a crashed demo frees it.
    """
    path = (lock_dir or Path(tempfile.gettempdir())) / PORTS_LOCK
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def pick_ports(usual: bool = True) -> dict[str, int]:
    """The usual ports where they are free (``usual``: this demo holds claim_default_ports), else free ones."""
    from ticketops.processes import free_port

    return {name: port if usual and port_free(port) else free_port() for name, port in DEFAULT_PORTS.items()}


def fast_rules(source: Path, target: Path, hold: str = "10s") -> Path:
    """The project's alert rules with every ``for:`` shortened to ``hold``: the demo's time scale, same logic."""
    target.mkdir(parents=True, exist_ok=True)
    for rules in source.glob("*.yml"):
        text = re.sub(r"(^\s*for:\s*)\S+", rf"\g<1>{hold}", rules.read_text(), flags=re.MULTILINE)
        (target / rules.name).write_text(text)
    return target


def alertmanager_config(webhook_url: str, path: Path, token_file: Path) -> Path:
    """Drift alerts to the retraining webhook at once (the project's routing, demo timings), with its token."""
    config = {
        "route": {
            "receiver": "on-call",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "10s",
            "repeat_interval": "1h",
            "routes": [{"receiver": "retrain", "matchers": ['alertname =~ ".*Drift.*"'], "group_wait": "1s"}],
        },
        "receivers": [
            {
                "name": "retrain",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": False,
                        "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}},
                    }
                ],
            },
            {"name": "on-call"},
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_monitor(stack: LocalStack, port: int, interval_s: float, window: int) -> ProcessRecord:
    command = [
        sys.executable,
        "-m",
        "ticketops",
        "monitor",
        "--interval",
        str(interval_s),
        "--window",
        str(window),
        "--port",
        str(port),
        "--model-uri",
        DEFAULT_MODEL_URI,
    ]
    return stack.launch("monitor", command, port, "/healthz", 180.0)


def start_alertmanager(stack: LocalStack, port: int, config: Path) -> ProcessRecord:
    command = [
        "prometheus-alertmanager",
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--storage.path={stack.dir / 'alertmanager'}",
    ]
    return stack.launch("alertmanager", command, port, "/-/ready", 60.0)


def start_dashboard(stack: LocalStack, port: int) -> ProcessRecord:
    command = [sys.executable, "-m", "ticketops", "dashboard", "--port", str(port)]
    return stack.launch("dashboard", command, port, "/", 120.0)


def start_mlflow_ui(stack: LocalStack, port: int, tracking_uri: str) -> ProcessRecord:
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return stack.launch("mlflow", command, port, "/health", 120.0)


def webhook_token(path: Path) -> str:
    """The demo's own admin token for the webhook (0600; Alertmanager reads the same file)."""
    from ticketops.rollout.local.secrets import read_or_create_token

    return read_or_create_token(path)


def start_webhook_thread(trigger, port: int, token: str) -> None:
    """The retraining webhook in a daemon thread of this process (the demo's retrain runs in-process)."""
    import asyncio
    import threading

    from aiohttp import web
    from pydantic import SecretStr

    from ticketops.retraining.webhook import build_app, webhook_authorizer
    from ticketops.serving.auth import UserDirectory

    authorizer = webhook_authorizer(UserDirectory(admin_token=SecretStr(token)))

    async def serve_forever() -> None:
        runner = web.AppRunner(build_app(trigger, authorizer), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(serve_forever()), name="retrain-webhook", daemon=True).start()
