"""Serving speed: a cascade and its slow model alone, each in-process and over HTTP, in one run.

    .venv/bin/python benchmarks/serve.py [--model-uri URI] [--duration 15] [--connections 128] [--fast-stage]

Models: by default a cascade is trained by the pipeline's own code (``train.model: cascade``, the rest of
params.yaml as is) on data/splits/*.csv with the embed stage's cached embeddings, its routing threshold
chosen on validation; its slow stage is packaged as a model of its own (the "slow model alone"). Both get
the review threshold and reference sample the evaluate stage would give them and are registered in a
throw-away MLflow store (the project's mlflow.db is never written). ``--model-uri`` measures a registered
model instead (copied out of the project's registry, read only); if it is a cascade, its slow stage alone
is measured beside it; ``--fast-stage`` adds its tf-idf stage alone, the ceiling of the HTTP path.

Phases per model, one after the other so they never compete for the CPU:

1. in-process: the service's own batch function (``Scorer.score_batch``) over the real test tickets in
   batches of ``TICKETOPS_BATCH_MAX_SIZE``, same threads as the service: the ceiling for one replica. The
   first pass over the whole test split gives the model's accuracy (and, for a cascade, tickets per stage);
2. ``ticketops serve`` (a real ``bentoml serve``) with auth on; ``wrk`` with a Lua script sends one-ticket
   requests over the varied test tickets from many connections (closed loop): maximum HTTP throughput;
3. one connection, one request at a time: single-ticket latency, every request timed by benchmarks/one_connection.py
   (wrk's figure, which adds coordinated-omission phantoms, is kept beside it);
4. the same as 2 at about half the maximum rate (per-connection exponential think time): p50/p99 latency;
5. the same registered model behind ``mlflow models serve`` (benchmarks/mlflow_serve.py; ``--no-mlflow-serve``
   skips it): maximum load and one connection with the same wrk script and tickets, side by side.

Writes reports/bench/serve.json: every figure, per model the serving goals (HTTP >= 0.8x in-process, p99 <= 100
ms at half load, single p50 <= 25 ms, zero errors), for the cascade its own goals (>= 1,000 tickets/s over HTTP,
zero errors, p99 <= 100 ms at half that load, test accuracy within train.cascade.accuracy_tolerance of the slow
model alone), what the server counted (tickets per stage, batches, the slow-stage share) and how busy the
machine was in each phase, split between this benchmark's processes and everything else on the machine, and
per model family throughput beside CPU-seconds per 1,000 tickets (``cost_per_family``): in-process from this
process's CPU time, over HTTP from the server's own ``ticketops_process_cpu_seconds_total`` (the serving worker,
the counter the ticketops:cpu_seconds_per_1k_tickets:rate5m recording rule divides), drained phases only.
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
import mlflow_serve
import numpy as np
import psutil
from benchmarking import tree_cpu_seconds, write_report
from one_connection import one_connection

from ticketops.config import Params, load_params
from ticketops.fileio import read_csv
from ticketops.processes import ManagedProcess, free_port
from ticketops.registry.ref import ModelRef
from ticketops.settings import MODEL_NAME, ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_name("serve.lua")
GOALS = {"http_vs_in_process": 0.8, "p99_half_load_ms": 100.0, "p50_single_ms": 25.0}
CASCADE_GOALS = {"http_tickets_per_s": 1000.0, "p99_half_load_ms": 100.0}
# Issue 15, for the model measured first (the default model as `dvc repro` registers it, with --model-uri).
DEFAULT_MODEL_GOALS = {
    "http_tickets_per_s": 1000.0,
    "p50_single_ms": 10.0,
    "p99_single_ms": 40.0,
    "p99_half_load_ms": 100.0,
}
BENCH_MODEL = f"{MODEL_NAME}-bench"


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
        return total + sum(tree_cpu_seconds(pid) for pid in self.pids)

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


def load_test(path: Path) -> tuple[list[str], list[str]]:
    """Texts and true labels of the test split (rows with blank text dropped)."""
    frame = read_csv(path)
    frame = frame[frame["text"].astype(str).str.strip() != ""]
    return frame["text"].astype(str).tolist(), frame["label"].astype(str).tolist()


def in_process(model_uri: str, texts: list[str], labels: list[str], settings: ServiceSettings, seconds: float) -> dict:
    """Tickets/s of the service's batch function over the test tickets, batches of batch_max_size; the first
    pass over every ticket also gives the model's accuracy on the test split (and, for a cascade, its stages)."""
    from ticketops.modeling.predictor import set_encoder_batch_size
    from ticketops.registry.bento import open_any
    from ticketops.serving.scoring import Scorer

    batch = settings.batch_max_size
    with open_any(model_uri, threads=settings.threads) as loaded:
        set_encoder_batch_size(loaded.predictor, settings.encoder_batch_size)  # as the service does
        scorer = Scorer(loaded.predictor)
        scorer.score_batch(texts[:batch])  # warm-up
        first_pass = []
        done, started, cpu_started = 0, time.perf_counter(), time.process_time()
        with CpuShare() as cpu:
            while time.perf_counter() - started < seconds or done < len(texts):
                offset = done % len(texts)
                chunk = texts[offset : offset + batch]
                scores = scorer.score_batch(chunk)
                if done < len(texts):
                    first_pass.extend(scores)
                done += len(chunk)
            elapsed = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started  # this process: the model's threads included
        single = []
        for text in texts[:100]:
            t0 = time.perf_counter()
            scorer.score_batch([text])
            single.append(time.perf_counter() - t0)
        info = {"version": loaded.version, "family": loaded.tags.get("model_family", "?")}
    first_pass = first_pass[: len(texts)]
    accuracy = float(np.mean([s.label == y for s, y in zip(first_pass, labels, strict=True)]))
    stages = {stage: sum(s.stage == stage for s in first_pass) for stage in sorted({s.stage for s in first_pass})}
    return {
        "model": info,
        "test_accuracy": round(accuracy, 5),
        "test_tickets": len(texts),
        "test_tickets_by_stage": stages,
        "batch_size": batch,
        "threads": settings.threads,
        "tickets": done,
        "tickets_per_s": round(done / elapsed, 1),
        "cpu_seconds_per_1k_tickets": round(1000 * cpu_seconds / done, 3),
        "single_ticket_model_ms_p50": round(1000 * float(np.median(single)), 2),
        "cpu": cpu.result,
    }


def run_wrk(
    url: str,
    bodies: Path,
    token: str,
    connections: int,
    seconds: float,
    server_pid: int,
    delay_ms: float = 0.0,
    path: str = "/classify",
) -> dict:
    """One wrk run; ``delay_ms`` > 0 makes each connection wait an exponential think time between requests."""
    env = {
        **os.environ,
        "WRK_BODIES": str(bodies),
        "WRK_TOKEN": token,
        "WRK_DELAY_MS": f"{delay_ms:.3f}",
        "WRK_PATH": path,
    }
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


def single_ticket(url: str, bodies: Path, token: str, seconds: float, server_pid: int, path: str = "/classify") -> dict:
    """One connection, one request at a time, every request timed (benchmarks/one_connection.py); wrk's own
    figure for the same phase is kept beside it under ``wrk_co_corrected`` (see that module for why they differ)."""
    with CpuShare([server_pid]) as cpu:
        single = one_connection(url, bodies, token, seconds, path)
    single["cpu"] = cpu.result
    wrk = run_wrk(url, bodies, token, 1, seconds, server_pid, path=path)
    single["wrk_co_corrected"] = {k: wrk[k] for k in ("requests", "errors", "requests_per_s", "latency_ms")}
    return single


def server_stats(url: str) -> dict:
    """What the server itself counted (its /metrics): model calls and tickets through the batcher, tickets per
    stage, and for a cascade the sliding slow-stage share next to its level on the reference sample."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    values = {s.name: s.value for s in samples if not s.labels.keys() - {"track"}}
    calls, tickets = values.get("ticketops_batch_size_count", 0), values.get("ticketops_batch_size_sum", 0)
    by_stage: dict[str, int] = {}
    for sample in samples:
        if sample.name == "ticketops_predictions_total":
            by_stage[sample.labels["stage"]] = by_stage.get(sample.labels["stage"], 0) + int(sample.value)
    gauges = {s.name: s.value for s in samples if s.name.startswith("ticketops_slow_stage_share")}
    return {
        "model_calls": int(calls),
        "tickets_through_batcher": int(tickets),
        "mean_batch_size": round(tickets / calls, 1) if calls else None,
        "tickets_by_stage": by_stage,
        **{name.removeprefix("ticketops_"): round(value, 4) for name, value in gauges.items()},
    }


def server_cpu(url: str) -> tuple[float, float]:
    """(CPU seconds of the serving worker, tickets classified) from the server's own /metrics: the counter
    behind the ticketops:cpu_seconds_per_1k_tickets:rate5m recording rule, read the same way."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    cpu = sum(s.value for s in samples if s.name == "ticketops_process_cpu_seconds_total")
    tickets = sum(s.value for s in samples if s.name == "ticketops_predictions_total")
    return cpu, tickets


def cpu_per_1k(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """CPU-seconds per 1,000 tickets between two server_cpu readings (None when no ticket was classified)."""
    tickets = after[1] - before[1]
    return round(1000 * (after[0] - before[0]) / tickets, 3) if tickets > 0 else None


def classify_count(url: str) -> float:
    """Requests the server has answered on /classify so far (its own counter)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "ticketops_requests_total" and s.labels.get("route") == "/classify"
    )


def wait_drained(url: str, timeout: float = 180.0, quiet_s: float = 1.5) -> float:
    """Wait until the server has answered every request wrk left in flight when it stopped (the server still
    computes them), so the next phase does not queue behind the previous one's backlog. Returns the seconds."""
    started = time.monotonic()
    last, since = classify_count(url), time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = classify_count(url)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return round(time.monotonic() - started, 1)


def serve_and_load(model_uri: str, texts: list[str], args: argparse.Namespace, work: Path) -> dict:
    """A real ``ticketops serve`` with auth on, driven by wrk: maximum load, single ticket, about half load."""
    bodies = work / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"tickets": [{"text": t}]}) + "\n" for t in texts))
    token = secrets.token_hex(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "TICKETOPS_MODEL_URI": model_uri,
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
        wait_drained(url)
        print(f"  HTTP, {args.connections} connections, {args.duration:.0f}s", flush=True)
        cpu_before = server_cpu(url)
        full = run_wrk(url, bodies, token, args.connections, args.duration, pid)
        full["server"] = server_stats(url)
        full["drain_seconds_after"] = wait_drained(url)
        full["cpu_seconds_per_1k_tickets"] = cpu_per_1k(cpu_before, server_cpu(url))
        print(
            f"    {full['requests_per_s']} req/s, p99 {full['latency_ms']['p99']} ms, {full['errors']} errors, "
            f"{full['cpu_seconds_per_1k_tickets']} CPU-s per 1,000 tickets"
        )
        if full["requests_per_s"] <= 0:
            raise RuntimeError(f"no request answered at maximum load: {full}")

        single = single_ticket(url, bodies, token, max(5.0, args.duration / 3), pid)
        wait_drained(url)
        print(
            f"  single ticket: p50 {single['latency_ms']['p50']} ms, p99 {single['latency_ms']['p99']} ms "
            f"(wrk's corrected p50 {single['wrk_co_corrected']['latency_ms']['p50']} ms)",
            flush=True,
        )

        # Half load: each connection waits an exponential think time between requests (about Poisson arrivals).
        # Think times stay under ~1 s so idle keep-alive connections are not closed by the server meanwhile.
        target = full["requests_per_s"] / 2
        connections = max(1, min(args.half_connections, int(target)))
        latency_s = single["latency_ms"]["mean"] / 1000
        think_ms = max(0.0, 1000 * (connections / target - latency_s))
        cpu_before = server_cpu(url)
        half = run_wrk(url, bodies, token, connections, args.duration, pid, delay_ms=think_ms)
        wait_drained(url)
        if not 0.9 * target <= half["requests_per_s"] <= 1.1 * target:  # one correction step
            think_ms = max(0.0, think_ms * half["requests_per_s"] / target)
            cpu_before = server_cpu(url)
            half = run_wrk(url, bodies, token, connections, args.duration, pid, delay_ms=think_ms)
            wait_drained(url)
        half["cpu_seconds_per_1k_tickets"] = cpu_per_1k(cpu_before, server_cpu(url))
        half["target_requests_per_s"] = round(target, 1)
        print(f"  half load: {half['requests_per_s']} req/s, p99 {half['latency_ms']['p99']} ms", flush=True)
        server_after = server_stats(url)
    finally:
        server.stop()
        log_tail = server.log_tail(5)
    return {
        "http_max_load": full,
        "http_half_load": half,
        "single_ticket": single,
        "server_totals": server_after,
        "server_log_tail": log_tail,
    }


def serving_goals(inproc: dict, http: dict) -> dict:
    """Issue 3's goals for one served model."""
    full, half, single = http["http_max_load"], http["http_half_load"], http["single_ticket"]
    ratio = full["requests_per_s"] / inproc["tickets_per_s"]
    errors = full["errors"] + half["errors"] + single["errors"]
    return {
        "http_vs_in_process": {
            "value": round(ratio, 3),
            "target": f">= {GOALS['http_vs_in_process']}",
            "met": ratio >= GOALS["http_vs_in_process"],
        },
        "p99_half_load_ms": {
            "value": half["latency_ms"]["p99"],
            "target": f"<= {GOALS['p99_half_load_ms']}",
            "met": half["latency_ms"]["p99"] <= GOALS["p99_half_load_ms"],
        },
        "p50_single_ms": {
            "value": single["latency_ms"]["p50"],
            "target": f"<= {GOALS['p50_single_ms']}",
            "met": single["latency_ms"]["p50"] <= GOALS["p50_single_ms"],
        },
        "errors": {"value": errors, "target": "0", "met": errors == 0},
    }


def default_model_goals(model: dict) -> dict:
    """Issue 15's goals for the default model: one ticket per request over HTTP, 0 errors, single-connection
    p50 and p99, p99 at about half the measured capacity."""
    full, half, single = model["http_max_load"], model["http_half_load"], model["single_ticket"]
    errors = full["errors"] + half["errors"] + single["errors"]
    figures = {
        "http_tickets_per_s": (full["requests_per_s"], ">="),
        "p50_single_ms": (single["latency_ms"]["p50"], "<="),
        "p99_single_ms": (single["latency_ms"]["p99"], "<="),
        "p99_half_load_ms": (half["latency_ms"]["p99"], "<="),
    }
    goals = {
        name: {
            "value": value,
            "target": f"{sense} {DEFAULT_MODEL_GOALS[name]}",
            "met": value >= DEFAULT_MODEL_GOALS[name] if sense == ">=" else value <= DEFAULT_MODEL_GOALS[name],
        }
        for name, (value, sense) in figures.items()
    }
    goals["errors"] = {"value": errors, "target": "0", "met": errors == 0}
    return goals


def cascade_goals(cascade: dict, slow: dict, tolerance: float) -> dict:
    """Issue 6's goals: HTTP tickets/s, zero errors, p99 at half load, accuracy within tolerance of the slow model."""
    full, half = cascade["http_max_load"], cascade["http_half_load"]
    errors = full["errors"] + half["errors"] + cascade["single_ticket"]["errors"]
    gap = slow["in_process"]["test_accuracy"] - cascade["in_process"]["test_accuracy"]
    return {
        "http_tickets_per_s": {
            "value": full["requests_per_s"],
            "target": f">= {CASCADE_GOALS['http_tickets_per_s']}",
            "met": full["requests_per_s"] >= CASCADE_GOALS["http_tickets_per_s"],
        },
        "p99_half_load_ms": {
            "value": half["latency_ms"]["p99"],
            "target": f"<= {CASCADE_GOALS['p99_half_load_ms']}",
            "met": half["latency_ms"]["p99"] <= CASCADE_GOALS["p99_half_load_ms"],
        },
        "errors": {"value": errors, "target": "0", "met": errors == 0},
        "accuracy_gap_to_slow_model": {
            "value": round(gap, 5),
            "target": f"<= {tolerance} (train.cascade.accuracy_tolerance)",
            "met": gap <= tolerance + 1e-12,
        },
        "throughput_vs_slow_model": {
            "value": round(full["requests_per_s"] / max(slow["http_max_load"]["requests_per_s"], 1e-9), 2),
            "target": "reported",
        },
    }


def prepare_models(args: argparse.Namespace, root: Path, params: Params) -> dict[str, str]:
    """The models to measure, registered in a throw-away MLflow store under ``root`` (the project's registry
    is only read): a cascade and its slow stage alone, or the one ``--model-uri`` if it is not a cascade."""
    import bench_models

    from ticketops.modeling.classifiers import CascadeClassifier

    data = bench_models.PipelineData.load(ROOT, params)
    if args.model_uri:
        print(f"copying {args.model_uri} out of the project registry (read only)", flush=True)
        given, classifier = bench_models.fetch_registered(args.model_uri, root / "given")
    else:
        print("training a cascade on data/splits with the pipeline's code (train.model=cascade)", flush=True)
        classifier = bench_models.train_cascade(data, params)
        given = bench_models.package(classifier, data, params, root / "cascade")
    os.environ.update(
        {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "TICKETOPS_ARTIFACT_ROOT": str(root / "artifacts")}
    )
    family = classifier.family
    version = bench_models.register(given, BENCH_MODEL, family, family)
    models = {family: str(ModelRef.version_of(BENCH_MODEL, version))}
    if isinstance(classifier, CascadeClassifier):
        stages = [(CascadeClassifier.SLOW, classifier.slow)]
        if args.fast_stage:
            stages.append((CascadeClassifier.FAST, classifier.fast))
        for part, stage in stages:
            saved = given / part if args.model_uri else None
            folder = bench_models.package(stage, data, params, root / part, saved=saved)
            version = bench_models.register(folder, BENCH_MODEL, stage.family, f"{part} stage alone")
            models[f"{part}_stage_alone"] = str(ModelRef.version_of(BENCH_MODEL, version))
        print(f"  cascade threshold {classifier.threshold:.3f}; registered {models}", flush=True)
    return models


def cost_per_family(results: dict[str, dict]) -> dict[str, dict]:
    """Throughput beside CPU-seconds per 1,000 tickets, per model family (in-process, HTTP full and half load)."""
    table = {}
    for name, r in results.items():
        full, half = r["http_max_load"], r["http_half_load"]
        table[name] = {
            "family": r["in_process"]["model"]["family"],
            "in_process": {k: r["in_process"][k] for k in ("tickets_per_s", "cpu_seconds_per_1k_tickets")},
            "http_max_load": {"tickets_per_s": full["requests_per_s"], **_cpu(full)},
            "http_half_load": {"tickets_per_s": half["requests_per_s"], **_cpu(half)},
        }
        if "mlflow_models_serve" in r:
            theirs = r["mlflow_models_serve"]["http_max_load"]
            table[name]["mlflow_models_serve_max_load"] = {"tickets_per_s": theirs["requests_per_s"], **_cpu(theirs)}
    return table


def _cpu(phase: dict) -> dict:
    return {"cpu_seconds_per_1k_tickets": phase["cpu_seconds_per_1k_tickets"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", help="measure this registered model (default: train a cascade, see above)")
    parser.add_argument("--texts", type=Path, default=ROOT / "data/splits/test.csv")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per HTTP phase")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections at maximum load")
    parser.add_argument("--half-connections", type=int, default=32, help="wrk connections at half load")
    parser.add_argument("--output-name", default="serve", help="reports/bench/<name>.json")
    parser.add_argument(
        "--fast-stage",
        action="store_true",
        help="also measure a cascade's tf-idf stage alone: the ceiling of the HTTP path with the cheapest model",
    )
    parser.add_argument(
        "--mlflow-serve",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure each model behind `mlflow models serve` (benchmarks/mlflow_serve.py)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (scripts/install-system-packages.sh installs it)")

    settings = ServiceSettings()
    params = load_params(ROOT / "params.yaml")  # read once: the pipeline's parameters when the run started
    texts, labels = load_test(args.texts)
    root = Path(tempfile.mkdtemp(prefix="ticketops-bench-serve-"))
    results: dict[str, dict] = {}
    try:
        models = prepare_models(args, root, params)
        for name, uri in models.items():
            print(f"{name} ({uri}): in-process, {len(texts)} test tickets, batch {settings.batch_max_size}", flush=True)
            inproc = in_process(uri, texts, labels, settings, seconds=args.duration)
            print(
                f"  {inproc['tickets_per_s']} tickets/s, {inproc['cpu_seconds_per_1k_tickets']} CPU-s per 1,000 "
                f"tickets, test accuracy {inproc['test_accuracy']:.4f}",
                flush=True,
            )
            work = root / f"serve-{name}"
            work.mkdir()
            http = serve_and_load(uri, texts, args, work)
            results[name] = {"model_uri": uri, "in_process": inproc, **http, "goals": serving_goals(inproc, http)}
            if args.mlflow_serve:
                results[name]["mlflow_models_serve"] = mlflow_serve.serve_and_load(uri, texts, args, work)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    report = {
        "model_uri": args.model_uri or "cascade trained on data/splits by the pipeline's code (throw-away registry)",
        "settings": {
            "threads": settings.threads,
            "batch_max_size": settings.batch_max_size,
            "batch_max_wait_ms": settings.batch_max_wait_ms,
            "encoder_batch_size": settings.encoder_batch_size,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "connections": args.connections,
            "load_generator": "wrk -t1 + benchmarks/serve.lua (one ticket per request, test split texts, auth on)",
        },
        "models": results,
        "cost_per_family": cost_per_family(results),
    }
    if args.model_uri and results:
        first = next(iter(results))
        report["default_model_goals"] = {"model": first, **default_model_goals(results[first])}
    if "cascade" in results and "slow_stage_alone" in results:
        tolerance = params.train.cascade.accuracy_tolerance
        report["cascade_goals"] = cascade_goals(results["cascade"], results["slow_stage_alone"], tolerance)
    path = write_report(args.output_name, report)
    print(json.dumps({name: r["goals"] for name, r in results.items()}, indent=2))
    print(json.dumps({"cost_per_family": report["cost_per_family"]}, indent=2))
    if "cascade_goals" in report:
        print(json.dumps({"cascade_goals": report["cascade_goals"]}, indent=2))
    if "default_model_goals" in report:
        print(json.dumps({"default_model_goals": report["default_model_goals"]}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
