"""Rollback latency and failed requests of canary rollouts on the local backend, with real components.

    .venv/bin/python benchmarks/rollout.py [--rollbacks 3] [--promotions 1] [--interval 5] [--model-uri URI]

What runs: a throw-away MLflow registry (never the project's mlflow.db), a real Prometheus, ``bentoml serve``
processes for stable and canary, the weighted splitter, and the RolloutController with the checks and steps
of params.yaml (only the analysis interval is set here, 5 s by default). Steady one-ticket /classify
traffic flows through the splitter from several client threads the whole time.

- Rollback: a *bad* canary (a model trained on 5% of the training rows: its review rate is far above
  stable's, so the real review-rate check fails) is rolled out ``--rollbacks`` times. Measured from the
  first analysis that returned FAIL (the event log's time) to all traffic back on stable: the splitter's
  ``/-/split`` polled every 50 ms, and the last response carrying ``X-Ticketops-Track: canary``.
- Promotion: a good canary (same data, another sample) goes through every step to @champion.
- Failed requests (non-200 or connection error, as a client sees them) in each rollout and in the
  promote / rollback action alone, beside the splitter's own failed and retried counters.

By default the models are tiny ones trained on tests/fixtures (seconds, runs anywhere). ``--model-uri``
serves a registered model of the project's registry instead (copied, verified, into the throw-away
registry; its reference sample is the traffic), with the tiny fixture model as the bad canary.
Writes reports/bench/rollout.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ticketops.config import RolloutParams
    from ticketops.rollout.controller import RolloutController
    from ticketops.rollout.events import RolloutEvent
    from ticketops.rollout.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
GOAL_ROLLBACK_SECONDS = 30.0
SPLIT_POLL_SECONDS = 0.05
SETTLE_SECONDS = 2.0  # after a rollout ends, let in-flight requests finish before counting
BASELINE_SECONDS = 3.0  # a look at the machine before anything of ours runs
BAD_SAMPLE_FRACTION = 0.05
GOOD_SAMPLE_FRACTION = 0.8


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_tiny_model_helpers() -> ModuleType:
    """The test suite's tiny-model helper (tests/helpers/tiny_model.py), loaded from its file.

    Why from the file: tests/ is not an installed package and benchmarks/ is not one either, and this is the
    exact tested code that trains and registers the tiny fixture models; a copy would drift from it.
    """
    path = ROOT / "tests" / "helpers" / "tiny_model.py"
    spec = importlib.util.spec_from_file_location("ticketops_bench_tiny_model", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


# --- machine load --------------------------------------------------------------------------------------


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat, to tell how loaded the machine was during a run."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


class LoadMeter:
    """CPU busy share of the whole machine (every process, not only ours) since it was made, and load averages."""

    def __init__(self) -> None:
        self.start = cpu_times()
        self.load_start = os.getloadavg()[0]

    def read(self) -> dict[str, float]:
        busy, total = cpu_times()
        share = (busy - self.start[0]) / max(total - self.start[1], 1.0)
        return {
            "cpu_busy_percent": round(100 * share, 1),
            "load_average_1m_start": round(self.load_start, 2),
            "load_average_1m_end": round(os.getloadavg()[0], 2),
        }


def process_cpu() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user + system CPU seconds so far) of every process /proc lets us read."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


class CpuSplit:
    """Samples /proc every second to split the machine's CPU time between this benchmark (this process and
    everything it started) and the rest of the machine (other sessions on the shared CPU)."""

    def __init__(self) -> None:
        self.first = {pid: cpu for pid, (_, cpu) in process_cpu().items()}
        self.last: dict[int, float] = {}
        self.ours: set[int] = {os.getpid()}
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        table = process_cpu()
        grew = True
        while grew:  # descendants of this process, however deep (bentoml's workers are grandchildren)
            before = len(self.ours)
            self.ours |= {pid for pid, (parent, _) in table.items() if parent in self.ours}
            grew = len(self.ours) > before
        self.last.update({pid: cpu for pid, (_, cpu) in table.items()})

    def _loop(self) -> None:
        while not self.stopped.wait(1.0):
            self._sample()

    def read(self) -> dict[str, float]:
        self.stopped.set()
        self.thread.join(timeout=5)
        self._sample()
        capacity = (time.monotonic() - self.started) * (os.cpu_count() or 1)
        used = {pid: cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items()}  # new processes from 0
        ours = sum(v for pid, v in used.items() if pid in self.ours)
        others = sum(v for pid, v in used.items() if pid not in self.ours)
        return {
            "cpu_percent_of_machine_this_benchmark": round(100 * ours / capacity, 1),
            "cpu_percent_of_machine_other_processes": round(100 * others / capacity, 1),
        }


# --- traffic -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    sent: float
    done: float
    ok: bool
    track: str  # X-Ticketops-Track of the response ("" when there was none)
    outcome: str  # "200", another status, or the exception's name


class Traffic:
    """Steady one-ticket /classify requests through the splitter from ``clients`` threads; keeps every
    request's times, outcome and the track that answered, so any window can be counted afterwards."""

    def __init__(self, url: str, texts: list[str], clients: int, rate: float):
        self.url, self.texts, self.clients, self.rate = url, texts, clients, rate
        self.samples: list[Sample] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(clients)]

    def start(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def _loop(self, client: int) -> None:
        period = self.clients / self.rate
        next_at = time.monotonic() + period * client / self.clients  # stagger the clients
        i = client
        with httpx.Client(timeout=10.0) as http:
            while not self.stopped.is_set():
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_at = max(next_at + period, time.monotonic())  # no catch-up bursts after a slow answer
                text = self.texts[i % len(self.texts)]
                i += self.clients
                sent = time.time()
                try:
                    response = http.post(f"{self.url}/classify", json={"tickets": [{"text": text, "id": f"b{i}"}]})
                    sample = Sample(
                        sent,
                        time.time(),
                        response.status_code == 200,
                        response.headers.get("x-ticketops-track", ""),
                        str(response.status_code),
                    )
                except httpx.HTTPError as exc:
                    sample = Sample(sent, time.time(), False, "", type(exc).__name__)
                self.samples.append(sample)

    def window(self, start: float, end: float) -> list[Sample]:
        """Requests in flight at any moment of [start, end]."""
        return [s for s in list(self.samples) if s.sent <= end and s.done >= start]


def count(samples: list[Sample]) -> dict[str, Any]:
    failed = [s for s in samples if not s.ok]
    return {
        "requests_total": len(samples),
        "requests_failed": len(failed),
        "failures_by_outcome": dict(Counter(s.outcome for s in failed)),
        "responses_by_track": dict(Counter(s.track or "none" for s in samples)),
        "client_latency_ms_by_track": latency_by_track(samples),
    }


def latency_by_track(samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Client-side p50/p99/max per answering track: tells a slow canary from a slow machine."""
    import numpy as np

    tracks: dict[str, list[float]] = {}
    for s in samples:
        if s.ok:
            tracks.setdefault(s.track or "none", []).append(1000 * (s.done - s.sent))
    return {
        track: {
            "p50": round(float(np.percentile(ms, 50)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1),
            "max": round(max(ms), 1),
        }
        for track, ms in tracks.items()
    }


# --- watching the splitter and the canary --------------------------------------------------------------


class SplitWatch:
    """Polls the splitter's /-/split and the canary's pid: when did traffic, then the process, leave it."""

    def __init__(self, splitter_url: str, canary_pid: int | None):
        self.splitter_url = splitter_url
        self.canary_pid = canary_pid
        self.canary_seen = False
        self.stable_at: float | None = None
        self.canary_gone_at: float | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> SplitWatch:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        from ticketops.rollout.local.stack import pid_alive

        with httpx.Client(timeout=2.0) as http:
            while not self.stopped.is_set():
                try:
                    split = http.get(f"{self.splitter_url}/-/split").json()
                except httpx.HTTPError:
                    split = None
                now = time.time()
                if split is not None:
                    on_canary = bool(split.get("canary")) and split.get("weight", 0) > 0
                    self.canary_seen |= on_canary
                    if self.canary_seen and not on_canary and self.stable_at is None:
                        self.stable_at = now
                if self.canary_pid and self.canary_gone_at is None and not pid_alive(self.canary_pid):
                    self.canary_gone_at = now
                time.sleep(SPLIT_POLL_SECONDS)


def splitter_counters(splitter_url: str) -> dict[str, float]:
    """The splitter's own failed and retried request counters (its /-/metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{splitter_url}/-/metrics", timeout=5.0).text
    wanted = {"ticketops_splitter_failed_total": "failed", "ticketops_splitter_retries_total": "retries"}
    values = dict.fromkeys(wanted.values(), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                values[wanted[sample.name]] += sample.value
    return values


def counter_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    return {f"splitter_{key}_requests": int(after[key] - before[key]) for key in before}


# --- the benchmark -------------------------------------------------------------------------------------


def seconds(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else round(later - earlier, 2)


@dataclass
class Bench:
    """The stack, the registry versions and the traffic every run shares."""

    stack: LocalStack
    traffic: Traffic
    model_name: str
    stable_version: str
    good_version: str
    bad_version: str
    params: RolloutParams  # params.yaml's, with the benchmark's analysis interval
    events_path: Path
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"rollback": [], "promotion": []})

    def controller(self) -> RolloutController:
        from ticketops.registry.store import client
        from ticketops.rollout.analysis import CanaryAnalysis
        from ticketops.rollout.controller import RolloutController
        from ticketops.rollout.events import EventLog
        from ticketops.rollout.local.backend import LocalBackend
        from ticketops.rollout.promql import PromQL

        return RolloutController(
            LocalBackend(self.stack),
            CanaryAnalysis(PromQL(self.stack.prometheus_url), self.params.checks),
            client(),
            self.params,
            EventLog(self.events_path),
            self.model_name,
            log=lambda message: log(f"  controller: {message}"),
        )

    def set_aliases(self, challenger: str) -> None:
        from ticketops.registry.store import client, set_alias

        mlflow_client = client()
        set_alias(mlflow_client, self.model_name, "champion", self.stable_version)
        set_alias(mlflow_client, self.model_name, "challenger", challenger)

    def events(self, rollout_id: str) -> list[RolloutEvent]:
        from ticketops.rollout.events import EventLog

        return EventLog(self.events_path).read(rollout_id)

    def rollback_run(self, number: int) -> dict[str, Any]:
        """Roll out the bad canary and time the way back to stable."""
        log(f"rollback run {number}: bad canary v{self.bad_version} beside stable v{self.stable_version}")
        self.set_aliases(self.bad_version)
        meter, cpu, counters = LoadMeter(), CpuSplit(), splitter_counters(self.stack.splitter_url)
        controller = self.controller()
        started = time.time()
        state = controller.start()
        canary = self.stack.record("canary")
        watch = SplitWatch(self.stack.splitter_url, canary.pid if canary else None).start()
        try:
            report = controller.run(state)
            deadline = time.time() + 30.0
            while watch.canary_gone_at is None and watch.canary_pid and time.time() < deadline:
                time.sleep(SPLIT_POLL_SECONDS)
        finally:
            watch.stop()
        time.sleep(SETTLE_SECONDS)
        ended = time.time()
        events = self.events(state.rollout_id)
        fails = [e for e in events if e.event == "analysis" and e.verdict == "fail"]
        first_fail = fails[0].time if fails else None
        decision = fails[-1].time if fails and report.state.phase == "rolled_back" else None
        rolled_back = next((e.time for e in events if e.event == "rolled_back"), None)
        in_rollout = self.traffic.window(started, ended)
        last_canary = max((s.done for s in in_rollout if s.track == "canary"), default=None)
        # all traffic on stable: the split says so and no canary answer came later (only for a real rollback)
        stable_at = (
            max(t for t in (watch.stable_at, last_canary) if t is not None) if decision and watch.stable_at else None
        )
        action_end = (
            max(t for t in (watch.canary_gone_at, rolled_back, decision) if t is not None) if decision else None
        )
        run = {
            "rollout_id": state.rollout_id,
            "result": str(report.state.phase),
            "reason": report.state.reason,
            "failed_analyses": len(fails),
            "weight_percent_at_rollback": fails[-1].weight if fails else None,
            "seconds_fail_to_stable": seconds(stable_at, first_fail),
            "seconds_fail_to_split_stable": seconds(watch.stable_at, first_fail) if decision else None,
            "seconds_fail_to_last_canary_response": seconds(last_canary, first_fail),
            "seconds_first_fail_to_rollback_decision": seconds(decision, first_fail),
            "seconds_decision_to_split_stable": seconds(watch.stable_at, decision),
            "seconds_decision_to_canary_process_gone": seconds(watch.canary_gone_at, decision),
            "seconds_decision_to_rollback_recorded": seconds(rolled_back, decision),
            "seconds_rollout_total": seconds(rolled_back, started),
            "rollout": count(in_rollout),
            "rollback_action": count(self.traffic.window(decision, action_end)) if decision else None,
            **counter_delta(counters, splitter_counters(self.stack.splitter_url)),
            "load": {**meter.read(), **cpu.read()},
        }
        log(
            f"  {run['result']}: fail→stable {run['seconds_fail_to_stable']} s "
            f"(split {run['seconds_fail_to_split_stable']} s, last canary response "
            f"{run['seconds_fail_to_last_canary_response']} s), decision→canary gone "
            f"{run['seconds_decision_to_canary_process_gone']} s, failed requests "
            f"{run['rollout']['requests_failed']}/{run['rollout']['requests_total']}, load {run['load']}"
        )
        return run

    def promotion_run(self, number: int) -> dict[str, Any]:
        """Roll out the good canary through every step to @champion; the stable track then serves it."""
        log(f"promotion run {number}: good canary v{self.good_version} beside stable v{self.stable_version}")
        self.set_aliases(self.good_version)
        meter, cpu, counters = LoadMeter(), CpuSplit(), splitter_counters(self.stack.splitter_url)
        controller = self.controller()
        started = time.time()
        state = controller.start()
        report = controller.run(state)
        time.sleep(SETTLE_SECONDS)
        ended = time.time()
        events = self.events(state.rollout_id)
        promoted = next((e.time for e in events if e.event == "promoted"), None)
        passes = [e for e in events if e.event == "analysis" and e.verdict == "pass"]
        decision = passes[-1].time if promoted and passes else None
        run = {
            "rollout_id": state.rollout_id,
            "result": str(report.state.phase),
            "reason": report.state.reason,
            "steps_percent": list(state.steps),
            "seconds_rollout_total": seconds(promoted, started),
            "seconds_promote_action": seconds(promoted, decision),
            "rollout": count(self.traffic.window(started, ended)),
            "promote_action": count(self.traffic.window(decision, promoted)) if decision and promoted else None,
            **counter_delta(counters, splitter_counters(self.stack.splitter_url)),
            "load": {**meter.read(), **cpu.read()},
        }
        outcome = (
            f"promoted in {run['seconds_rollout_total']} s (promote action {run['seconds_promote_action']} s)"
            if report.state.phase == "promoted"
            else f"NOT promoted ({run['result']}: {run['reason']})"
        )
        log(
            f"  {outcome}, failed requests {run['rollout']['requests_failed']}/{run['rollout']['requests_total']}, "
            f"client latency {run['rollout']['client_latency_ms_by_track']}, load {run['load']}"
        )
        if report.state.phase == "promoted":  # the next promotion goes the other way, from the new champion
            self.stable_version, self.good_version = self.good_version, self.stable_version
        return run


def summarise(bench: Bench) -> dict[str, Any]:
    """Per goal: the measured figure, the goal and whether it was met (a run that did not end as intended
    misses its goal)."""
    rollbacks, promotions = bench.runs["rollback"], bench.runs["promotion"]
    latencies = [r["seconds_fail_to_stable"] for r in rollbacks]
    all_rolled_back = bool(rollbacks) and all(
        r["result"] == "rolled_back" and v is not None for r, v in zip(rollbacks, latencies, strict=True)
    )
    worst = max((v for v in latencies if v is not None), default=None)
    failed_rollback = sum(r["rollout"]["requests_failed"] + r["splitter_failed_requests"] for r in rollbacks)
    failed_promotion = sum(r["rollout"]["requests_failed"] + r["splitter_failed_requests"] for r in promotions)
    all_promoted = bool(promotions) and all(r["result"] == "promoted" for r in promotions)
    return {
        "rollback_latency": {
            "goal_seconds_fail_to_stable": GOAL_ROLLBACK_SECONDS,
            "seconds_fail_to_stable_each": latencies,
            "seconds_fail_to_stable_max": worst,
            "runs_rolled_back": sum(r["result"] == "rolled_back" for r in rollbacks),
            "runs": len(rollbacks),
            "goal_met": all_rolled_back and worst is not None and worst <= GOAL_ROLLBACK_SECONDS,
        },
        "failed_requests_during_rollback": {
            "goal_requests_failed": 0,
            "requests_failed": failed_rollback,
            "requests_total": sum(r["rollout"]["requests_total"] for r in rollbacks),
            "goal_met": bool(rollbacks) and failed_rollback == 0,
        },
        "failed_requests_during_promotion": {
            "goal_requests_failed": 0,
            "requests_failed": failed_promotion,
            "requests_total": sum(r["rollout"]["requests_total"] for r in promotions),
            "runs_promoted": sum(r["result"] == "promoted" for r in promotions),
            "runs": len(promotions),
            "goal_met": all_promoted and failed_promotion == 0,
        },
    }


# --- set-up --------------------------------------------------------------------------------------------


def copy_registered_model(uri: str, dst: Path) -> tuple[Path, dict[str, str]]:
    """The verified package of ``uri`` from the project's registry (only read), and its tags."""
    from ticketops.registry import store
    from ticketops.registry.ref import parse_model_uri

    mlflow_client = store.client()
    version = store.get_version(mlflow_client, parse_model_uri(uri))
    log(f"copying {version.name} v{version.version} out of {store.tracking_uri()} (read only)")
    return store.fetch_verified(mlflow_client, version, dst), dict(version.tags)


def register_models(args: argparse.Namespace, root: Path, model_name: str) -> tuple[str, str, str, list[str]]:
    """Stable, good canary and bad canary versions in a throw-away registry under ``root``; traffic texts."""
    tiny = load_tiny_model_helpers()
    copied = copy_registered_model(args.model_uri, root / "source") if args.model_uri else None
    registry = tiny.tiny_registry(root / "registry")  # from here on this process and its children use it
    log(f"throw-away registry {registry.tracking_uri}")
    if copied is not None:
        folder, tags = copied
        from bench_models import register

        family, data_md5 = tags.get("model_family", "unknown"), tags.get("data_md5", "unknown")
        stable, good = (
            register(folder, model_name, family, run, experiment="ticketops-bench-rollout", data_md5=data_md5)
            for run in ("stable (copy)", "good canary (copy)")
        )
        bad = tiny.register_tiny_model(registry, alias=None, sample_fraction=BAD_SAMPLE_FRACTION)
        from ticketops.fileio import read_csv
        from ticketops.modeling.artifacts import REFERENCE_FILE

        texts = read_csv(folder / REFERENCE_FILE)["text"].astype(str).tolist()
    else:
        stable = tiny.register_tiny_model(registry, alias=None)
        good = tiny.register_tiny_model(registry, alias=None, sample_fraction=GOOD_SAMPLE_FRACTION)
        bad = tiny.register_tiny_model(registry, alias=None, sample_fraction=BAD_SAMPLE_FRACTION)
        texts = tiny.tiny_frame()["text"].tolist()
    log(f"registered stable v{stable}, good canary v{good}, bad canary v{bad} (trained on {BAD_SAMPLE_FRACTION:.0%})")
    return stable, good, bad, texts


def warm_up(traffic: Traffic, seconds_: float) -> None:
    """Traffic must flow through the splitter to stable before any rollout is judged on it."""
    started = time.time()
    time.sleep(seconds_)
    result = count(traffic.window(started, time.time()))
    log(f"warm-up: {result['requests_total']} requests, {result['requests_failed']} failed")
    if result["requests_total"] == 0 or result["requests_failed"] == result["requests_total"]:
        raise SystemExit("no request succeeded through the splitter during warm-up; see the logs under the state dir")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollbacks", type=int, default=3, help="rollouts of the bad canary (default 3)")
    parser.add_argument("--promotions", type=int, default=1, help="rollouts of the good canary (default 1)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between analyses (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="client threads sending traffic (default 4)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second, all clients (default 40)")
    parser.add_argument("--model-uri", help="serve this model of the project's registry instead of the tiny one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, registry, events)")
    parser.add_argument("--no-report", action="store_true", help="print the results, do not write the report")
    args = parser.parse_args()
    os.environ.setdefault("TICKETOPS_ROOT", str(ROOT))  # children run from the repo, wherever this was started

    from benchmarking import write_report

    from ticketops.config import load_params
    from ticketops.processes import free_port
    from ticketops.registry.ref import ModelRef
    from ticketops.rollout.local.stack import LocalStack

    params = load_params()
    rollout = params.rollout.model_copy(update={"analysis_interval_s": args.interval})
    model_name = params.registration.model_name
    baseline = LoadMeter()
    time.sleep(BASELINE_SECONDS)
    before = baseline.read()  # what the rest of the machine was doing before this benchmark started anything
    log(f"machine before start: {before}")
    meter, split = LoadMeter(), CpuSplit()
    tmp = Path(tempfile.mkdtemp(prefix="ticketops-bench-rollout-"))
    log(f"working in {tmp}")
    stable, good, bad, texts = register_models(args, tmp, model_name)
    stack = LocalStack(tmp / "state", f"http://127.0.0.1:{free_port()}", free_port())
    traffic: Traffic | None = None
    try:
        log("starting Prometheus, stable and the splitter ...")
        stack.up(str(ModelRef.version_of(model_name, stable)), stable)
        traffic = Traffic(stack.splitter_url, texts, args.clients, args.rate).start()
        warm_up(traffic, 5.0)
        bench = Bench(stack, traffic, model_name, stable, good, bad, rollout, stack.dir / "events.jsonl")
        for number in range(1, args.rollbacks + 1):
            bench.runs["rollback"].append(bench.rollback_run(number))
        for number in range(1, args.promotions + 1):
            bench.runs["promotion"].append(bench.promotion_run(number))
        traffic.stop()
        results = {
            "setup": {
                "models": args.model_uri or "tiny fixture models (tests/fixtures/tiny_tickets.csv)",
                "bad_canary": f"tfidf trained on {BAD_SAMPLE_FRACTION:.0%} of the tiny training rows",
                "analysis_interval_seconds": args.interval,
                "rollout_params": rollout.model_dump(mode="json"),
                "traffic": {"clients": args.clients, "target_requests_per_second": args.rate, "tickets_per_request": 1},
                "split_poll_seconds": SPLIT_POLL_SECONDS,
            },
            "goals": summarise(bench),
            "rollback_runs": bench.runs["rollback"],
            "promotion_runs": bench.runs["promotion"],
            "all_traffic": count(traffic.samples),
            "load": {"before_start": before, "during_benchmark": {**meter.read(), **split.read()}},
        }
    finally:
        if traffic is not None:
            traffic.stop()
        log("stopping the stack ...")
        stack.down()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for goal, figures in results["goals"].items():
        log(f"{goal}: {figures}")
    log(f"machine load over the benchmark: {results['load']}")
    if args.no_report:
        print(json.dumps(results, indent=2))
        return
    log(f"wrote {write_report('rollout', results)}")


if __name__ == "__main__":
    main()
