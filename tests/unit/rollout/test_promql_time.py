"""One look at a window evaluates every query at the same instant, however late each reaches Prometheus."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from ticketops.config import load_params
from ticketops.rollout.analysis import CanaryAnalysis
from ticketops.rollout.check_names import SHADOW
from ticketops.rollout.promql import PromQL

EMPTY = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()


@contextmanager
def slow_prometheus(delay_s: float) -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """A query API that answers every query with no series after ``delay_s``, and records each query's params."""
    asked: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(parse_qs(urlparse(self.path).query))
            time.sleep(delay_s)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(EMPTY)))
            self.end_headers()
            self.wfile.write(EMPTY)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_every_query_of_a_look_is_evaluated_at_the_moment_of_the_look() -> None:
    with slow_prometheus(0.05) as (url, asked):
        prom = PromQL(url)
        before = time.time()
        analysis = CanaryAnalysis(prom, load_params().rollout.checks).run(60, "2", "1", SHADOW)
        prom.close()
    assert len(asked) >= 10, asked  # errors, latency, reviews, pairs: each several queries, 0.05 s apart or more
    times = {params["time"][0] for params in asked}
    assert len(times) == 1, times  # one instant, not the arrival of each query
    assert before <= float(times.pop()) <= before + 0.5
    assert analysis.window_s == 60


def test_a_plain_query_is_evaluated_when_it_arrives_and_a_pinned_copy_shares_the_pool() -> None:
    with slow_prometheus(0.0) as (url, asked):
        prom = PromQL(url)
        prom.query("up")
        pinned = prom.at(1_700_000_000.25)
        pinned.query("up")
        assert pinned.http is prom.http and prom.evaluation_time is None
        prom.close()
        pinned.query("up")  # the shared pool is made again, not left closed under the copy
        prom.close()
    assert "time" not in asked[0] and asked[1]["time"] == asked[2]["time"] == ["1700000000.250"]
