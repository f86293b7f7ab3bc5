"""Soak: a real ``ticketops serve`` for ten minutes at 80% of its measured capacity.

    .venv/bin/python benchmarks/soak.py [--duration 600] [--load 0.8] [--model-uri URI]

1. Capacity: closed loop, ``--clients`` concurrent one-ticket requests for ``--capacity-s`` seconds.
2. Soak: an open loop (Poisson arrivals) at ``--load`` x capacity for ``--duration`` seconds; per window of
   ``--window-s``: requests, errors, p50/p99 latency, and the server's resident memory (the process tree).
3. Shutdown (SIGTERM) and the books: every ticket answered 200 must have exactly one prediction-log row.

Every ticket carries a fresh opaque id, so the log can be checked row for row. By default the model is the
test suite's tiny tf-idf model in a throw-away registry (the service's own code path; the model is not the
subject); ``--model-uri`` with ``MLFLOW_TRACKING_URI`` soaks a registered model instead.
Writes reports/bench/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psutil
from benchmarking import write_report

from ticketops.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "soak-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEXTS = [
    "I still have not received my new card",
    "why was I charged twice for the same payment?",
    "how do I change my PIN",
    "my transfer to a friend is still pending",
    "the app will not let me top up with my card",
    "I want to close my account",
]


class Books:
    """What the client saw: answered ids, errors, latencies per window."""

    def __init__(self) -> None:
        self.answered: list[str] = []
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()  # "HTTP 503", "ReadTimeout": what went wrong, not only how often
        self.latencies: list[float] = []


async def one(client: httpx.AsyncClient, books: Books) -> None:
    ticket_id = uuid.uuid4().hex
    body = {"tickets": [{"id": ticket_id, "text": random.choice(TEXTS)}]}
    started = time.perf_counter()
    try:
        response = await client.post("/classify", json=body)
        kind = None if response.status_code == 200 else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        kind = type(exc).__name__
    books.latencies.append(time.perf_counter() - started)
    if kind is None:
        books.answered.append(ticket_id)
    else:
        books.errors += 1
        books.error_kinds[kind] += 1


async def capacity(url: str, clients: int, seconds: float) -> float:
    books = Books()
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(
        base_url=url, headers=AUTH, timeout=30, limits=httpx.Limits(max_connections=clients)
    ) as c:

        async def loop() -> None:
            while time.monotonic() < deadline:
                await one(c, books)

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(clients)))
    return len(books.answered) / (time.monotonic() - started)


def rss_mb(pid: int) -> float:
    try:
        process = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return float("nan")


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] * 1000 if len(values) >= 2 else float("nan")


async def soak(url: str, rate: float, seconds: float, window_s: float, pid: int, total: Books) -> list[dict]:
    windows: list[dict] = []
    tasks: set[asyncio.Task] = set()
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30, limits=httpx.Limits(max_connections=256)) as c:
        started = time.monotonic()
        next_window = started + window_s
        books = Books()
        arrival = started
        while (now := time.monotonic()) < started + seconds:
            arrival += random.expovariate(rate)
            await asyncio.sleep(max(0.0, arrival - now))
            task = asyncio.create_task(one(c, books))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if time.monotonic() >= next_window:
                windows.append(
                    {
                        "t_s": round(time.monotonic() - started),
                        "answered": len(books.answered),
                        "errors": books.errors,
                        "error_kinds": dict(books.error_kinds),
                        "p50_ms": round(quantile(books.latencies, 0.5), 1),
                        "p99_ms": round(quantile(books.latencies, 0.99), 1),
                        "rss_mb": round(rss_mb(pid), 1),
                    }
                )
                total.answered += books.answered
                total.errors += books.errors
                total.error_kinds += books.error_kinds
                total.latencies += books.latencies
                books = Books()
                next_window += window_s
        await asyncio.gather(*tasks)
    total.answered += books.answered
    total.errors += books.errors
    total.error_kinds += books.error_kinds
    total.latencies += books.latencies
    return windows


def tiny_model(work: Path) -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from tests.helpers.tiny_model import register_tiny_model, tiny_registry

    registry = tiny_registry(work / "registry")
    register_tiny_model(registry)
    return registry.env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--load", type=float, default=0.8)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--capacity-s", type=float, default=20.0)
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--model-uri", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ticketops-soak-"))
    env = {} if args.model_uri else tiny_model(work)
    db = work / "predictions.db"
    port = free_port()
    env |= {
        "TICKETOPS_MODEL_URI": args.model_uri or "models:/ticket-classifier@champion",
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{db}",
        "TICKETOPS_PREDICTION_LOG_SPOOL_DIR": str(work / "spool"),
        "TICKETOPS_ROOT": str(ROOT),
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [sys.executable, "-m", "ticketops", "serve", "--port", str(port)]
    server = ManagedProcess("soak-serve", command, work / "serve.log", env=env, cwd=ROOT).start()
    url = f"http://127.0.0.1:{port}"
    total = Books()
    try:
        server.wait_http(f"{url}/readyz", timeout=300)
        measured = asyncio.run(capacity(url, args.clients, args.capacity_s))
        rss_start = rss_mb(server.pid)
        rate = args.load * measured
        started = time.monotonic()
        windows = asyncio.run(soak(url, rate, args.duration, args.window_s, server.pid, total))
        elapsed = time.monotonic() - started
        rss_end = rss_mb(server.pid)
    finally:
        server.stop(timeout=60)  # SIGTERM: the log's queue is flushed
    with sqlite3.connect(db) as conn:
        counts = dict(conn.execute("select ticket_id, count(*) from predictions group by ticket_id").fetchall())
    capacity_ids = set(counts) - set(total.answered)  # rows of the capacity phase
    soak_rows = {i: n for i, n in counts.items() if i not in capacity_ids}
    result = {
        "model_uri": args.model_uri or "tiny tf-idf (tests/helpers/tiny_model.py)",
        "capacity_tickets_per_s": round(measured, 1),
        "target_tickets_per_s": round(rate, 1),
        "duration_s": round(elapsed, 1),
        "achieved_tickets_per_s": round(len(total.answered) / elapsed, 1),
        "answered": len(total.answered),
        "errors": total.errors,
        "error_kinds": dict(total.error_kinds),
        "p50_ms": round(quantile(total.latencies, 0.5), 1),
        "p99_ms": round(quantile(total.latencies, 0.99), 1),
        "p99_ms_worst_window": max((w["p99_ms"] for w in windows), default=None),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(rss_end, 1),
        "rss_growth_mb": round(rss_end - rss_start, 1),
        "log_rows_for_answered": sum(soak_rows.values()),
        "answered_without_row": len(set(total.answered) - set(soak_rows)),
        "answered_with_several_rows": sum(1 for n in soak_rows.values() if n > 1),
        "rows_equal_answered": sum(soak_rows.values()) == len(total.answered) == len(set(soak_rows)),
        "windows": windows,
    }
    print(write_report("soak", result))


if __name__ == "__main__":
    main()
