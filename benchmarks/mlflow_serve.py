"""The same registered model behind ``mlflow models serve``, measured the way benchmarks/serve.py measures ours.

What most teams run when they serve an MLflow model: the pyfunc flavour (modeling/pyfunc_loader.py) behind
MLflow's scoring server, one ``POST /invocations`` per ticket (``dataframe_records``), no auth, no batching
across requests. wrk drives it with the same Lua script, connections and tickets as ``ticketops serve``, so
the two are compared in one run on one machine: maximum load, one connection, and CPU-seconds per 1,000 tickets
of the server's whole process tree (MLflow's server has no CPU counter of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx
from benchmarking import tree_cpu_seconds

from ticketops.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
PATH = "/invocations"


def wait_idle(pid: int, timeout: float = 180.0, quiet_s: float = 1.5) -> float:
    """Wait until the server's processes stop using CPU: the requests wrk left in flight are computed (their CPU
    counts, up to ``connections`` tickets more than wrk saw answered), and the next phase starts on a quiet server."""
    started = time.monotonic()
    last, since = tree_cpu_seconds(pid), time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = tree_cpu_seconds(pid)
        if now - last > 0.05:  # more than 10% of a core over the last half second
            since = time.monotonic()
        last = now
        if time.monotonic() - since >= quiet_s:
            break
    return round(time.monotonic() - started, 1)


def mlflow_answered(url: str, body: str) -> None:
    """One request must come back as one prediction with a label: the server really scores tickets."""
    response = httpx.post(f"{url}{PATH}", content=body, headers={"Content-Type": "application/json"}, timeout=120)
    response.raise_for_status()
    predictions = response.json()["predictions"]
    if len(predictions) != 1 or not predictions[0].get("label"):
        raise RuntimeError(f"mlflow models serve answered {response.text[:300]}")


def serve_and_load(model_uri: str, texts: list[str], args: argparse.Namespace, work: Path) -> dict:
    """``mlflow models serve`` on ``model_uri`` (the benchmark's MLflow store, from the environment), then wrk
    at maximum load and with one connection; errors and non-2xx answers are counted, never hidden."""
    from serve import run_wrk, single_ticket

    bodies = work / "mlflow-bodies.jsonl"
    bodies.write_text("".join(json.dumps({"dataframe_records": [{"text": t}]}) + "\n" for t in texts))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {
        "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"],
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # its uvicorn
    }
    server = ManagedProcess("mlflow-models-serve", command, work / "mlflow-serve.log", env=env, cwd=ROOT).start()
    try:
        server.wait_http(f"{url}/ping", timeout=300)
        mlflow_answered(url, bodies.read_text().splitlines()[0])
        pid = server.pid
        run_wrk(url, bodies, "", args.connections, 3, pid, path=PATH)  # warm-up
        wait_idle(pid)
        print(f"  mlflow models serve, {args.connections} connections, {args.duration:.0f}s", flush=True)
        before = tree_cpu_seconds(pid)
        full = run_wrk(url, bodies, "", args.connections, args.duration, pid, path=PATH)
        wait_idle(pid)
        answered = full["requests"]
        full["cpu_seconds_per_1k_tickets"] = (
            round(1000 * (tree_cpu_seconds(pid) - before) / answered, 3) if answered else None
        )
        print(
            f"    {full['requests_per_s']} req/s, p99 {full['latency_ms']['p99']} ms, {full['errors']} errors, "
            f"{full['cpu_seconds_per_1k_tickets']} CPU-s per 1,000 tickets",
            flush=True,
        )
        single = single_ticket(url, bodies, "", max(5.0, args.duration / 3), pid, path=PATH)
        print(f"  mlflow models serve, single ticket: p50 {single['latency_ms']['p50']} ms", flush=True)
    finally:
        server.stop()
        log_tail = server.log_tail(5)
    return {"command": " ".join(command[2:]), "http_max_load": full, "single_ticket": single, "log_tail": log_tail}
