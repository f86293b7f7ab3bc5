"""Serving speed: in-process batch throughput vs HTTP throughput of the same model, latency at half load.

    .venv/bin/python benchmarks/serve.py [--model-uri models:/ticket-classifier@champion] [--duration 15]

Phases, one after the other so they never compete for the CPU:

1. in-process: the service's own batch function (``Scorer.score_batch``) over the real test tickets in
   batches of ``TICKETOPS_BATCH_MAX_SIZE``, same threads as the service: the ceiling for one replica;
2. ``ticketops serve`` (a real ``bentoml serve``) with auth on; ``wrk`` with a Lua script sends one-ticket
   requests over the varied test tickets from many connections (closed loop): maximum HTTP throughput;
3. the same at about half that rate (per-connection exponential think time): p50/p99 latency;
4. one connection, one request at a time: single-ticket latency.

Writes reports/bench/serve.json: every figure, the goals (HTTP >= 0.8x in-process, p99 <= 100 ms at half
load, single p50 <= 25 ms, zero errors) and how busy the machine was in each phase, split between this
benchmark's processes and everything else running on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Same OpenMP policy as the service (serving/service.py), set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import httpx
import numpy as np
import psutil

from ticketops.benchmarking import write_report
from ticketops.config import DEFAULT_MODEL_URI, ServiceSettings
from ticketops.fileio import read_csv
from ticketops.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_name("serve.lua")
GOALS = {"http_vs_in_process": 0.8, "p99_half_load_ms": 100.0, "p50_single_ms": 25.0}


class CpuShare:
    """Machine CPU time during a phase, split between this benchmark's processes and the rest of the machine.

    Ours = this process, its finished children (wrk) and the live process trees in ``pids`` (the server).
    """

    def __init__(self, pids: list[int] | None = None):
        self.pids = pids or []

    def _ours(self) -> float:
        me = psutil.Process()
        times = me.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                for proc in (root, *root.children(recursive=True)):
                    t = proc.cpu_times()
                    total += t.user + t.system
            except psutil.NoSuchProcess:
                continue
        return total

    def __enter__(self) -> CpuShare:
        self.start_wall = time.monotonic()
        self.start_machine = psutil.cpu_times()
        self.start_ours = self._ours()
        self.load_start = os.getloadavg()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.start_wall
        end = psutil.cpu_times()
        busy = sum(
            getattr(end, f) - getattr(self.start_machine, f) for f in ("user", "nice", "system", "irq", "softirq")
        )
        ours = self._ours() - self.start_ours
        capacity = wall * psutil.cpu_count()
        self.result = {
            "seconds": round(wall, 1),
            "machine_busy_percent": round(100 * busy / capacity, 1),
            "this_benchmark_percent": round(100 * min(ours, busy) / capacity, 1),
            "other_processes_percent": round(100 * max(busy - ours, 0.0) / capacity, 1),
            "load_average_1m_start": round(self.load_start, 2),
            "load_average_1m_end": round(os.getloadavg()[0], 2),
        }


def load_texts(path: Path) -> list[str]:
    return [t for t in read_csv(path)["text"].astype(str).tolist() if t.strip()]


def in_process(model_uri: str, texts: list[str], settings: ServiceSettings, seconds: float) -> dict:
    """Tickets/s of the service's batch function over the test tickets, batches of batch_max_size."""
    from ticketops.serving.bento_model import open_any
    from ticketops.serving.scoring import Scorer

    batch = settings.batch_max_size
    with open_any(model_uri, threads=settings.threads) as loaded:
        scorer = Scorer(loaded.predictor)
        scorer.score_batch(texts[:batch])  # warm-up
        done, started = 0, time.perf_counter()
        with CpuShare() as cpu:
            while time.perf_counter() - started < seconds or done < len(texts):
                offset = done % len(texts)
                chunk = texts[offset : offset + batch]
                scorer.score_batch(chunk)
                done += len(chunk)
            elapsed = time.perf_counter() - started
        single = []
        for text in texts[:100]:
            t0 = time.perf_counter()
            scorer.score_batch([text])
            single.append(time.perf_counter() - t0)
        info = {"version": loaded.version, "family": loaded.tags.get("model_family", "?")}
    return {
        "model": info,
        "batch_size": batch,
        "threads": settings.threads,
        "tickets": done,
        "tickets_per_s": round(done / elapsed, 1),
        "single_ticket_model_ms_p50": round(1000 * float(np.median(single)), 2),
        "cpu": cpu.result,
    }


def run_wrk(
    url: str, bodies: Path, token: str, connections: int, seconds: float, server_pid: int, delay_ms: float = 0.0
) -> dict:
    """One wrk run; ``delay_ms`` > 0 makes each connection wait an exponential think time between requests."""
    env = {**os.environ, "WRK_BODIES": str(bodies), "WRK_TOKEN": token, "WRK_DELAY_MS": f"{delay_ms:.3f}"}
    duration = f"-d{max(1, round(seconds))}s"
    command = ["wrk", "-t1", f"-c{connections}", duration, "--timeout", "10s", "-s", str(LUA), url]
    with CpuShare([server_pid]) as cpu:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=seconds + 60)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(raw["errors"].values())
    duration = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return {
        "connections": connections,
        "think_time_ms_mean": round(delay_ms, 1),
        "requests": raw["requests"],
        "errors": errors,
        "error_detail": raw["errors"],
        "requests_per_s": round(raw["requests"] / duration, 1),
        "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items()},
        "cpu": cpu.result,
    }


def server_batching(url: str) -> dict:
    """Mean tickets per model call as the server saw it (from its own /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    calls, tickets = values.get("ticketops_batch_size_count", 0), values.get("ticketops_batch_size_sum", 0)
    return {
        "model_calls": int(calls),
        "tickets": int(tickets),
        "mean_batch_size": round(tickets / calls, 1) if calls else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=os.environ.get("TICKETOPS_MODEL_URI", DEFAULT_MODEL_URI))
    parser.add_argument("--texts", type=Path, default=ROOT / "data/splits/test.csv")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per HTTP phase")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections at maximum load")
    parser.add_argument("--half-connections", type=int, default=32, help="wrk connections at half load")
    parser.add_argument("--output-name", default="serve", help="reports/bench/<name>.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (scripts/install-system-packages.sh installs it)")

    settings = ServiceSettings()
    texts = load_texts(args.texts)
    print(f"in-process: {args.model_uri}, {len(texts)} tickets, batch {settings.batch_max_size}", flush=True)
    inproc = in_process(args.model_uri, texts, settings, seconds=args.duration)
    print(f"  {inproc['tickets_per_s']} tickets/s", flush=True)

    work = Path(tempfile.mkdtemp(prefix="ticketops-bench-serve-"))
    bodies = work / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"tickets": [{"text": t}]}) + "\n" for t in texts))
    token = secrets.token_hex(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "TICKETOPS_MODEL_URI": args.model_uri,
        "TICKETOPS_API_TOKEN": token,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{work / 'predictions.db'}",
        "BENTOML_DO_NOT_TRACK": "true",
    }
    command = [sys.executable, "-m", "ticketops", "serve", "--port", str(port)]
    server = ManagedProcess("bench-serve", command, work / "serve.log", env=env, cwd=ROOT).start()
    try:
        server.wait_http(f"{url}/readyz", timeout=300)
        pid = server.pid
        run_wrk(url, bodies, token, args.connections, 3, pid)  # warm-up
        print(f"HTTP, {args.connections} connections, {args.duration:.0f}s", flush=True)
        full = run_wrk(url, bodies, token, args.connections, args.duration, pid)
        full["server"] = server_batching(url)
        print(f"  {full['requests_per_s']} req/s, p99 {full['latency_ms']['p99']} ms, {full['errors']} errors")

        single = run_wrk(url, bodies, token, 1, max(5.0, args.duration / 3), pid)
        print(f"single ticket: p50 {single['latency_ms']['p50']} ms", flush=True)

        # Half load: each connection waits an exponential think time between requests (about Poisson arrivals).
        # Think times stay under ~1 s so idle keep-alive connections are not closed by the server meanwhile.
        target = full["requests_per_s"] / 2
        connections = max(1, min(args.half_connections, int(target)))
        latency_s = single["latency_ms"]["mean"] / 1000
        think_ms = max(0.0, 1000 * (connections / target - latency_s))
        half = run_wrk(url, bodies, token, connections, args.duration, pid, delay_ms=think_ms)
        if not 0.9 * target <= half["requests_per_s"] <= 1.1 * target:  # one correction step
            think_ms = max(0.0, think_ms * half["requests_per_s"] / target)
            half = run_wrk(url, bodies, token, connections, args.duration, pid, delay_ms=think_ms)
        half["target_requests_per_s"] = round(target, 1)
        print(f"half load: {half['requests_per_s']} req/s, p99 {half['latency_ms']['p99']} ms", flush=True)
    finally:
        server.stop()
        log_tail = server.log_tail(5)
    shutil.rmtree(work, ignore_errors=True)

    ratio = full["requests_per_s"] / inproc["tickets_per_s"]
    errors = full["errors"] + half["errors"] + single["errors"]
    goals = {
        "http_vs_in_process": {"value": round(ratio, 3), "target": f">= {GOALS['http_vs_in_process']}"},
        "p99_half_load_ms": {"value": half["latency_ms"]["p99"], "target": f"<= {GOALS['p99_half_load_ms']}"},
        "p50_single_ms": {"value": single["latency_ms"]["p50"], "target": f"<= {GOALS['p50_single_ms']}"},
        "errors": {"value": errors, "target": "0"},
    }
    goals["http_vs_in_process"]["met"] = ratio >= GOALS["http_vs_in_process"]
    goals["p99_half_load_ms"]["met"] = half["latency_ms"]["p99"] <= GOALS["p99_half_load_ms"]
    goals["p50_single_ms"]["met"] = single["latency_ms"]["p50"] <= GOALS["p50_single_ms"]
    goals["errors"]["met"] = errors == 0
    report = {
        "model_uri": args.model_uri,
        "settings": {
            "threads": settings.threads,
            "batch_max_size": settings.batch_max_size,
            "batch_max_wait_ms": settings.batch_max_wait_ms,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "load_generator": "wrk -t1 + benchmarks/serve.lua (one ticket per request, test split texts, auth on)",
        },
        "in_process": inproc,
        "http_max_load": full,
        "http_half_load": half,
        "single_ticket": single,
        "goals": goals,
        "server_log_tail": log_tail,
    }
    path = write_report(args.output_name, report)
    print(json.dumps(goals, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
