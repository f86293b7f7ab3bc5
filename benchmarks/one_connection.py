"""Single-ticket latency as each request saw it: one keep-alive connection, one request at a time.

wrk is the right tool for load, not for this figure: before it reports, wrk "corrects" its latency histogram for
coordinated omission (``stats_correct`` in wrk.c) by adding, for every request slower than the mean interval
between a connection's requests, phantom samples at that latency minus 1, 2, 3 … intervals. With one closed-loop
connection and a bimodal service (a cascade: ~0.5 ms on the fast stage, ~60 ms on the encoder) the phantoms
outnumber the real fast answers and the "p50" becomes ~20 ms that no request took. This client times every
request itself (``time.perf_counter`` around send and read, Python's ``http.client``) and keeps every sample;
it includes its own overhead (~0.1 ms), so it can only overstate the server's latency.
"""

from __future__ import annotations

import http.client
import itertools
import random
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np


def percentiles_ms(samples_s: list[float]) -> dict[str, float]:
    """mean, p50, p90, p99 and max of ``samples_s`` (seconds) in milliseconds."""
    values = np.asarray(samples_s) * 1000.0
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "mean": round(float(values.mean()), 2),
        "p50": round(float(p50), 2),
        "p90": round(float(p90), 2),
        "p99": round(float(p99), 2),
        "max": round(float(values.max()), 2),
    }


def connect(host: str, port: int) -> http.client.HTTPConnection:
    """A connection with Nagle's algorithm off, as wrk's: a request never waits for the previous one's ACK."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def one_connection(url: str, bodies: Path, token: str, seconds: float, path: str = "/classify") -> dict:
    """Send the request bodies of ``bodies`` (one JSON body per line, from a random start, in order, wrapping)
    back to back on one connection for ``seconds``; every request's latency, errors counted (non-2xx, broken
    connections: the connection is reopened and the run goes on)."""
    lines = [line for line in bodies.read_text().splitlines() if line.strip()]
    start = random.Random().randrange(len(lines))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    parts = urlsplit(url)
    connection = connect(parts.hostname, parts.port)
    latencies: list[float] = []
    errors = {"status": 0, "connection": 0}
    began = time.perf_counter()
    try:
        for body in itertools.islice(itertools.cycle(lines), start, None):
            if time.perf_counter() - began >= seconds:
                break
            sent = time.perf_counter()
            try:
                connection.request("POST", path, body=body.encode(), headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors["connection"] += 1
                connection.close()
                connection = connect(parts.hostname, parts.port)
                continue
            latencies.append(time.perf_counter() - sent)
            if not 200 <= response.status < 300:
                errors["status"] += 1
    finally:
        connection.close()
    duration = time.perf_counter() - began
    if not latencies:
        raise RuntimeError(f"no request answered on one connection to {url}{path}: {errors}")
    return {
        "connections": 1,
        "client": "benchmarks/one_connection.py (every request timed, no coordinated-omission correction)",
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_detail": errors,
        "requests_per_s": round(len(latencies) / duration, 1),
        "latency_ms": percentiles_ms(latencies),
    }
