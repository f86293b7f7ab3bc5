"""``ticketops monitor``: the drift check on a schedule over the prediction log.

Each run reads the newest window, checks it against the champion's reference, keeps the Evidently snapshot and
HTML report, adds the snapshot to the Evidently UI workspace, writes the latest verdict, and updates the gauges
served on ``/metrics`` (``/verdict`` serves the latest verdict as JSON, ``/healthz`` says the process is up).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from ticketops.config import MonitorParams
from ticketops.monitoring.check import check_drift
from ticketops.monitoring.exporter import MonitorMetrics
from ticketops.monitoring.log_reader import read_log_window, window_span
from ticketops.monitoring.reference import LOCAL, ReferenceCache
from ticketops.monitoring.review_metrics import ReviewBacklogCollector
from ticketops.monitoring.signals import DriftVerdict
from ticketops.monitoring.store import latest_verdict, save_window
from ticketops.monitoring.windows import with_embeddings
from ticketops.settings import MonitorSettings

logger = logging.getLogger(__name__)


class Monitor:
    """One monitor: settings, calibration, the loaded reference, gauges and the Evidently workspace."""

    def __init__(self, settings: MonitorSettings, params: MonitorParams, metrics: MonitorMetrics | None = None):
        self.settings = settings
        self.params = params
        self.metrics = metrics or MonitorMetrics()
        self.references = ReferenceCache(settings.model_uri, settings.threads)
        self.state_dir = settings.resolved_state_dir()
        self._workspace = None
        self._project = None
        self._lock = threading.Lock()
        self._decisions = None  # DriftAudit: drift starting and ending, in the audit trail

    def _workspace_project(self):
        from ticketops.monitoring.dashboard import ensure_project, open_workspace

        if self._workspace is None:
            self._workspace = open_workspace(self.settings.resolved_workspace())
            self._project = ensure_project(self._workspace, self.settings.project)
        return self._workspace, self._project

    def run_once(self) -> DriftVerdict | None:
        """One check; never raises (a failed check is counted, logged and retried at the next interval)."""
        with self._lock:
            started = time.perf_counter()
            try:
                verdict = self._check()
                self.metrics.runs.labels("verdict" if verdict.window.get("size") else "no_data").inc()
                self.metrics.last_success.set(time.time())
                return verdict
            except Exception:
                logger.exception("drift check failed")
                self.metrics.runs.labels("error").inc()
                return None
            finally:
                self.metrics.duration.observe(time.perf_counter() - started)
                self.metrics.last_run.set(time.time())

    def _check(self) -> DriftVerdict:
        s = self.settings
        reference = self.references.get()
        self.metrics.set_reference(reference.version, reference.uri)
        version = reference.version if s.only_model_version and reference.version != LOCAL else None
        window = read_log_window(s.prediction_log_url, s.window_size, s.window_max_age_s, version)
        if len(window) >= self.params.embedding.min_current:
            window = with_embeddings(window, reference.embedder, self.params.embedding.max_current)
        span = window_span(window)
        checked = datetime.fromtimestamp(span["end"] or time.time(), tz=UTC)
        result = check_drift(
            reference.window,
            window,
            self.params,
            window_info={**span, "model_version": version or "any", "source": "prediction_log"},
            reference_info={"model_uri": reference.uri, "model_version": reference.version},
            tags=["monitor", f"model-v{reference.version}"],
            metadata={"model_version": reference.version, "model_uri": reference.uri},
            timestamp=checked,
        )
        verdict = result.verdict
        folder = save_window(self.state_dir, verdict, result.snapshot, keep=self.settings.keep_windows)
        if result.snapshot is not None:
            workspace, project = self._workspace_project()
            from ticketops.monitoring.dashboard import add_window

            add_window(workspace, project, result.snapshot, name=folder.name)
        self.metrics.record(verdict)
        self._audit(verdict)
        logger.info(
            "window of %d tickets: drift %s%s",
            len(window),
            verdict.drift_detected,
            f" ({', '.join(verdict.drifted)})" if verdict.drifted else "",
        )
        return verdict

    def _audit(self, verdict: DriftVerdict) -> None:
        from ticketops.audit import AuditTrail
        from ticketops.monitoring.decisions import DriftAudit

        if self._decisions is None:
            self._decisions = DriftAudit(AuditTrail(self.settings.prediction_log_url))
        self._decisions.observe(verdict)

    def latest(self) -> DriftVerdict | None:
        return latest_verdict(self.state_dir)


def _handler(monitor: Monitor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, monitor.metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/livez"):
                self._send(200, b"ok\n", "text/plain")
            elif path == "/verdict":
                verdict = monitor.latest()
                if verdict is None:
                    self._send(404, b'{"error": "no check has run yet"}\n', "application/json")
                else:
                    self._send(200, json.dumps(verdict.to_dict()).encode(), "application/json")
            else:
                self._send(404, b'{"error": "not found"}\n', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes every second would flood the log
            logger.debug(format, *args)

    return Handler


def serve(monitor: Monitor, stop: threading.Event) -> None:
    """Serve the HTTP endpoints and check every ``interval_s`` until ``stop`` is set.

    The daemon's ``/metrics`` also carries the review backlog, read from the prediction log at each scrape.
    """
    from ticketops.serving.prediction_log import make_engine

    s = monitor.settings
    engine = make_engine(s.prediction_log_url)
    backlog = ReviewBacklogCollector(engine)
    monitor.metrics.registry.register(backlog)
    server = ThreadingHTTPServer((s.host, s.port), _handler(monitor))
    thread = threading.Thread(target=server.serve_forever, name="monitor-http", daemon=True)
    thread.start()
    logger.info(
        "monitor on http://%s:%d (every %.0fs, window %d)", s.host, server.server_port, s.interval_s, s.window_size
    )
    try:
        while not stop.is_set():
            monitor.run_once()
            stop.wait(s.interval_s)
    finally:
        server.shutdown()
        server.server_close()
        monitor.metrics.registry.unregister(backlog)
        engine.dispose()
