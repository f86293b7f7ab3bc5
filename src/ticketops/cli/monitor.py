"""``ticketops monitor``: drift checks on a schedule over the prediction log, gauges on ``/metrics``.

Settings come from ``TICKETOPS_MONITOR_*`` (src/ticketops/config.py, MonitorSettings); options override them.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from ticketops.cli.common import fail


def monitor(
    once: Annotated[bool, typer.Option("--once", help="Run one check, print its verdict as JSON, exit.")] = False,
    model_uri: Annotated[str | None, typer.Option(help="Model whose reference sample is compared with.")] = None,
    prediction_log_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the prediction log.")] = None,
    interval: Annotated[float | None, typer.Option("--interval", min=0.1, help="Seconds between checks.")] = None,
    window: Annotated[int | None, typer.Option("--window", min=1, help="Newest tickets per check.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface for /metrics, /verdict, /healthz.")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port for /metrics, /verdict, /healthz.")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Where snapshots, reports and the verdict go.")] = None,
    push_gateway: Annotated[
        str | None,
        typer.Option("--push-gateway", help="With --once: push the gauges to this Prometheus Pushgateway URL."),
    ] = None,
) -> None:
    """Check the newest window of the prediction log for drift every interval; export the results."""
    from ticketops.config import load_params
    from ticketops.monitoring.monitor import Monitor, serve
    from ticketops.settings import MonitorSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {
        "model_uri": model_uri,
        "prediction_log_url": prediction_log_url,
        "interval_s": interval,
        "window_size": window,
        "host": host,
        "port": port,
        "state_dir": state_dir,
        "pushgateway_url": push_gateway,
    }
    settings = MonitorSettings(**{k: v for k, v in overrides.items() if v is not None})
    if settings.pushgateway_url and not once:
        fail("--push-gateway (TICKETOPS_MONITOR_PUSHGATEWAY_URL) is for --once; the monitor daemon is scraped")
    mon = Monitor(settings, load_params().monitor)
    if once:
        verdict = mon.run_once()
        if verdict is None:
            # Nothing is pushed: the gateway keeps the last good verdict, whose age raises TicketopsMonitorStale.
            fail("the drift check failed (see the log above)", code=1)
        if settings.pushgateway_url:
            try:
                mon.metrics.push(settings.pushgateway_url)
            except OSError as exc:
                fail(f"cannot push to the Pushgateway at {settings.pushgateway_url}: {exc}", code=1)
        typer.echo(json.dumps(verdict.to_dict()))
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve(mon, stop)
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc}")
