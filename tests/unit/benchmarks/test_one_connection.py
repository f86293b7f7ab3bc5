"""benchmarks/one_connection.py: every request timed as it happened, errors counted, not hidden."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load_module():
    spec = importlib.util.spec_from_file_location("one_connection", ROOT / "benchmarks" / "one_connection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the service
    disable_nagle_algorithm = True  # as uvicorn does: headers and body are two writes

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(body["sleep_ms"] / 1000)
        status = 500 if body.get("fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_bimodal_server_keeps_its_fast_median(server, tmp_path):
    """Three fast answers for one slow one: the median is a fast answer (wrk's correction would move it)."""
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"sleep_ms": ms}) + "\n" for ms in (0, 0, 0, 60)))
    result = load_module().one_connection(server, bodies, "", seconds=1.5)
    assert result["errors"] == 0
    assert result["requests"] >= 12
    assert result["latency_ms"]["p50"] < 20 <= 60 <= result["latency_ms"]["p99"]


def test_non_2xx_answers_are_counted_as_errors(server, tmp_path):
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text(json.dumps({"sleep_ms": 0, "fail": True}) + "\n")
    result = load_module().one_connection(server, bodies, "token", seconds=0.3)
    assert result["error_detail"]["status"] == result["requests"] > 0
