"""How often the rollout gets its verdict right: many simulated rollouts of challengers of known quality.

Models are built by the pipeline's own code (``assign_splits`` of the seed tickets, ``train_classifier`` with
params.yaml's ``train`` section, ``model: tfidf`` so the grid trains in minutes; the review threshold chosen
on validation by ``review_threshold``): a stable model on a 90% sample of the training split, and challengers

* ``good``: stable and good are the same recipe on two 90% samples of the training split (as good as each
  other, up to sampling noise),
* ``worse_2pt`` / ``worse_5pt``: smaller stratified samples, the fraction picked whose accuracy on the pool is
  closest to 2 and 5 points below stable's,
* ``data_3pct``: 3% of the training data (the demo's bad challenger),
* ``slow``: ``good``'s answers, 300 ms slower per request.

Each model answers every ticket of the pool (seed tickets outside training and validation) once, offline.
A rollout is then a faithful replay of what the replicas and the splitter would count: tickets drawn from the
pool at ``--rate`` per second, routed by the splitter's own ``Router`` (or all mirrored in the shadow phase),
an agent's label for a share ``--feedback`` of them, request latencies drawn from the stable model's measured
single-ticket latency on this machine. The real ``RolloutController`` decides, with rollout/checks.py judging
the replayed counts (the same functions the Prometheus analysis feeds), on a simulated clock; MLflow is
replaced by an in-memory alias table (the registry is not what is measured).

Writes reports/bench/canary_power.json: per challenger the share promoted / rolled back / paused, tickets and
simulated seconds to the verdict; and, for ``data_3pct``, the mirrored tickets the shadow phase alone needs to
fail it when it looks every 10 tickets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.bench_pools import seed_frame
from benchmarks.benchmarking import write_report
from ticketops.config import Params, RolloutParams, load_params
from ticketops.rollout import checks as C
from ticketops.rollout.analysis import SHADOW, Analysis
from ticketops.rollout.checks import CheckResult, Pairs, TwoRates, Verdict, combine
from ticketops.rollout.local.splitter import Router, Split
from ticketops.serving.metrics import LATENCY_BUCKETS
from ticketops.settings import project_root

CACHE = Path("reports/bench/canary_power_models.npz")  # answers per model; delete to retrain
TARGETS = {"worse_2pt": 0.02, "worse_5pt": 0.05}
STABLE_FRACTION = 0.9  # stable and good: each a 90% stratified sample of the training split (other seeds)
FRACTIONS = (0.7, 0.6, 0.5, 0.4)
SLOW_EXTRA_S = 0.3


# --- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    label: np.ndarray  # per pool ticket: index into labels
    review: np.ndarray  # per pool ticket: needs_review
    accuracy: float


def build_models(params: Params, log) -> tuple[np.ndarray, dict[str, Answers], np.ndarray, dict]:
    """(true label per pool ticket, answers per model, stable's single-ticket latencies in s, recipe)."""
    from ticketops.data.labels import load_labels
    from ticketops.data.split import assign_splits
    from ticketops.evaluation.metrics import review_threshold
    from ticketops.modeling.predictor import Predictor
    from ticketops.modeling.training import train_classifier

    root = project_root()
    labels = load_labels(root / params.ingest.labels_path)
    frame = seed_frame(params)
    split = assign_splits(frame, params.split.seed, 0.4, 0.1, ())
    train, validation = frame[split == "train"], frame[split == "validation"]
    pool = frame[split == "test"].reset_index(drop=True)
    truth = np.array([labels.index(x) for x in pool["label"]])
    key = hashlib.sha256(json.dumps([params.train.tfidf.model_dump(), len(pool)]).encode()).hexdigest()[:16]
    cache = root / CACHE
    stored = dict(np.load(cache, allow_pickle=False)) if cache.exists() else {}
    if str(stored.get("key", "")) != key:
        stored = {"key": np.array(key)}

    def fit(fraction: float, seed: int) -> Answers:
        name = f"tfidf-{fraction:g}-{seed}"
        if f"{name}/label" in stored:
            return Answers(stored[f"{name}/label"], stored[f"{name}/review"], float(stored[f"{name}/accuracy"]))
        started = time.monotonic()
        train_params = params.train.model_copy(update={"model": "tfidf", "sample_fraction": fraction, "seed": seed})
        classifier = train_classifier(train_params, labels, train, progress=False)
        val = Predictor(classifier, 0.0).score(validation["text"].tolist())
        correct = np.array(val.labels) == validation["label"].to_numpy()
        predictor = Predictor(
            classifier, review_threshold(val.confidence, correct, params.evaluate.review_precision_target)
        )
        scored = predictor.score(pool["text"].tolist())
        label = np.array([labels.index(x) for x in scored.labels])
        answers = Answers(label, np.asarray(scored.needs_review), float((label == truth).mean()))
        took = time.monotonic() - started
        log(f"  tfidf on {fraction:.0%} (seed {seed}): accuracy {answers.accuracy:.3f} ({took:.0f}s)")
        stored.update({f"{name}/label": label, f"{name}/review": answers.review, f"{name}/accuracy": answers.accuracy})
        if fraction == STABLE_FRACTION and "latency" not in stored:
            stored["latency"] = single_ticket_latency(predictor, pool["text"].iloc[:300].tolist())
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **stored)
        return answers

    log("models: the pipeline's code (answers cached per model in reports/bench/)")
    stable = fit(STABLE_FRACTION, params.train.seed)
    good = fit(STABLE_FRACTION, params.train.seed + 1)  # the same recipe on another sample of the same size
    answers = {"stable": stable, "good": good, "data_3pct": fit(0.03, params.train.seed)}
    grid = {fraction: fit(fraction, params.train.seed) for fraction in FRACTIONS}
    recipe = {"stable": STABLE_FRACTION, "good": STABLE_FRACTION, "data_3pct": 0.03}
    for name, gap in TARGETS.items():
        fraction = min(grid, key=lambda f: abs((stable.accuracy - grid[f].accuracy) - gap))
        answers[name], recipe[name] = grid[fraction], fraction
    return truth, answers, stored["latency"], recipe


def single_ticket_latency(predictor, texts: list[str]) -> np.ndarray:
    """Seconds per one-ticket call, as the service scores a lone ticket (this machine, now)."""
    seconds = []
    for text in texts:
        started = time.perf_counter()
        predictor.score([text])
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


# --- the replay -----------------------------------------------------------------------------------


class Clock:
    """Simulated time for the controller (``time.time`` / ``sleep``); each sleep sends that much traffic."""

    gmtime = staticmethod(time.gmtime)
    strftime = staticmethod(time.strftime)

    def __init__(self, traffic: Traffic):
        self.now = 1_000_000.0
        self.traffic = traffic

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.traffic.send(self.now, seconds)
        self.now += seconds


class Traffic:
    """Tickets as the replicas and the splitter would count them, kept with their send times."""

    def __init__(self, truth, stable: Answers, challenger: Answers, latency, extra_s, rate, feedback, rng):
        self.truth, self.stable, self.challenger = truth, stable, challenger
        self.latency, self.extra_s, self.rate, self.feedback, self.rng = latency, extra_s, rate, feedback, rng
        self.router = Router(Split(stable="s"))
        self.mirror = False
        self.rows: list[np.ndarray] = []  # columns: time, ticket, on_canary, mirrored, labelled, latency_s, c_lat

    def send(self, start: float, seconds: float) -> None:
        n = self.rng.poisson(self.rate * seconds)
        if n == 0:
            return
        tickets = self.rng.integers(0, len(self.truth), n)
        times = start + np.sort(self.rng.random(n)) * seconds
        on_canary = np.array([self.router.pick()[0] == "canary" for _ in range(n)], dtype=float)
        labelled = (self.rng.random(n) < self.feedback).astype(float)
        s_lat = self.rng.choice(self.latency, n)
        c_lat = self.rng.choice(self.latency, n) + self.extra_s
        mirrored = np.full(n, float(self.mirror))
        self.rows.append(np.column_stack([times, tickets, on_canary, mirrored, labelled, s_lat, c_lat]))

    def window(self, now: float, seconds: float) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, 7))
        rows = np.vstack(self.rows)
        self.rows = [rows]
        return rows[rows[:, 0] > now - seconds]

    @property
    def sent(self) -> int:
        return int(sum(len(r) for r in self.rows))


class ReplayBackend:
    name = "replay"
    supports_shadow = True

    def __init__(self, traffic: Traffic):
        self.traffic = traffic
        self.state = None

    def deploy_canary(self, model_uri, version):
        pass

    def set_weight(self, canary_percent):
        self.traffic.mirror = False
        self.traffic.router.split = Split(stable="s", canary="c", weight=canary_percent)

    def set_shadow(self):
        self.traffic.mirror = True
        self.traffic.router.split = Split(stable="s", canary="c", weight=0, mirror=True)

    def promote(self, model_uri, version):
        self.set_weight(0)

    def rollback(self):
        self.set_weight(0)

    def canary_ready(self):
        return True

    def load_state(self):
        return self.state

    def save_state(self, state):
        self.state = state


def counts(rows: np.ndarray, traffic: Traffic, checks, phase: str) -> list[CheckResult]:
    """What Prometheus would hold for the window, judged by the checks."""
    t = rows[:, 1].astype(int)
    canary = rows[:, 2] == 1 if phase != SHADOW else rows[:, 3] == 1
    stable_side = rows[:, 2] == 0
    s_lab, c_lab, truth = traffic.stable.label[t], traffic.challenger.label[t], traffic.truth[t]
    # latency: the bound from stable's p99 over the window, on a histogram bucket
    s_lat = rows[stable_side, 5]
    c_lat = rows[canary, 6]
    p99 = float(np.quantile(s_lat, 0.99)) if len(s_lat) else None
    threshold = C.latency_threshold(checks, p99, [*LATENCY_BUCKETS, float("inf")])
    slow = TwoRates(
        float((c_lat > threshold).sum()), float(len(c_lat)), float((s_lat > threshold).sum()), float(len(s_lat))
    )
    errors = TwoRates(0.0, float(canary.sum()), 0.0, float(stable_side.sum()))
    reviews = TwoRates(
        float(traffic.challenger.review[t][canary].sum()),
        float(canary.sum()),
        float(traffic.stable.review[t][stable_side].sum()),
        float(stable_side.sum()),
    )
    results = [C.error_rate(errors, checks), C.latency(slow, checks, threshold), C.review_rate(reviews, checks)]
    labelled = rows[:, 4] == 1
    if phase == SHADOW:
        both = canary & labelled
        b = float(((s_lab == truth) & (c_lab != truth))[both].sum())
        c = float(((c_lab == truth) & (s_lab != truth))[both].sum())
        pairs = Pairs(float(canary.sum()), float((s_lab != c_lab)[canary].sum()), float(both.sum()), b, c)
        results += [C.shadow_agreement(pairs, checks), C.shadow_accuracy(pairs, checks)]
    else:
        c_miss = (c_lab != truth)[canary & labelled]
        s_miss = (s_lab != truth)[stable_side & labelled]
        results.append(C.live_accuracy(TwoRates(c_miss.sum(), len(c_miss), s_miss.sum(), len(s_miss)), checks))
    return results


class ReplayAnalysis:
    def __init__(self, traffic: Traffic, checks, clock: Clock):
        self.traffic, self.limits, self.clock = traffic, checks, clock

    def run(self, window_s, canary_version, stable_version, phase="canary", optional=frozenset()) -> Analysis:
        rows = self.traffic.window(self.clock.now, window_s)
        results = counts(rows, self.traffic, self.limits, phase)
        return Analysis(combine(results, optional), results, int(window_s), None, phase)


class Aliases:
    """In-memory stand-ins for registry.store's alias and tag functions."""

    def __init__(self):
        self.aliases = {"champion": "1", "challenger": "2"}

    def install(self, store) -> None:
        store.alias_version = lambda _client, _name, alias: (
            type("V", (), {"version": self.aliases[alias]})() if alias in self.aliases else None
        )
        store.set_alias = lambda _client, _name, alias, version: self.aliases.__setitem__(alias, str(version))
        store.clear_alias = lambda _client, _name, alias: self.aliases.pop(alias, None)
        store.tag_version = lambda *args, **kwargs: None


class NoEvents:
    def append(self, event) -> None:
        pass


def one_rollout(truth, stable, challenger, latency, extra_s, params: RolloutParams, rate, feedback, seed) -> dict:
    import ticketops.registry.store as store
    import ticketops.rollout.controller as controller_module
    from ticketops.rollout.controller import RolloutController

    traffic = Traffic(truth, stable, challenger, latency, extra_s, rate, feedback, np.random.default_rng(seed))
    clock = Clock(traffic)
    Aliases().install(store)
    real_time = controller_module.time
    controller_module.time = clock
    try:
        ctl = RolloutController(
            ReplayBackend(traffic),
            ReplayAnalysis(traffic, params.checks, clock),
            None,
            params,
            NoEvents(),
            "ticket-classifier",
            sleep=clock.sleep,
        )
        state = ctl.start()
        started = clock.now
        report = ctl.run(state)
    finally:
        controller_module.time = real_time
    last = report.steps[-1].analyses[-1] if report.steps and report.steps[-1].analyses else {}
    failed = [c["name"] for c in last.get("checks", []) if c["verdict"] == "fail"]
    return {
        "result": str(report.state.phase),
        "seconds": clock.now - started,
        "tickets": traffic.sent,
        "step": report.state.step_index + 1,
        "failed_checks": failed,
    }


def shadow_tickets_to_fail(truth, stable, challenger, checks, feedback, rng, every=10, limit=3000) -> tuple:
    """Mirrored tickets until the shadow checks first fail, and until they fail at two looks in a row."""
    first = None
    streak = 0
    tickets = rng.integers(0, len(truth), limit)
    labelled = rng.random(limit) < feedback
    s, c, t = stable.label[tickets], challenger.label[tickets], truth[tickets]
    for n in range(every, limit + 1, every):
        lab = labelled[:n]
        b = float(((s[:n] == t[:n]) & (c[:n] != t[:n]))[lab].sum())
        cc = float(((c[:n] == t[:n]) & (s[:n] != t[:n]))[lab].sum())
        pairs = Pairs(float(n), float((s[:n] != c[:n]).sum()), float(lab.sum()), b, cc)
        verdict = combine([C.shadow_agreement(pairs, checks), C.shadow_accuracy(pairs, checks)])
        if verdict is Verdict.FAIL:
            first = first or n
            streak += 1
            if streak == 2:
                return first, n
        else:
            streak = 0
    return first, None


def summarize(runs: list[dict]) -> dict:
    results = [r["result"] for r in runs]
    share = {k: round(results.count(k) / len(runs), 3) for k in ("promoted", "rolled_back", "paused")}
    seconds = np.array([r["seconds"] for r in runs])
    tickets = np.array([r["tickets"] for r in runs])
    failed: dict[str, int] = {}
    for r in runs:
        for name in r["failed_checks"]:
            failed[name] = failed.get(name, 0) + 1
    return {
        "runs": len(runs),
        **share,
        "seconds_to_verdict": {"median": float(np.median(seconds)), "p95": float(np.quantile(seconds, 0.95))},
        "tickets_to_verdict": {"median": float(np.median(tickets)), "p95": float(np.quantile(tickets, 0.95))},
        "failing_checks_at_verdict": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=40.0, help="tickets per second through the splitter")
    parser.add_argument("--feedback", type=float, default=0.5, help="share of tickets an agent labels")
    args = parser.parse_args()
    params = load_params()
    truth, answers, latency, recipe = build_models(params, print)
    rollout = params.rollout
    results = {}
    for name in ("good", "worse_2pt", "worse_5pt", "data_3pct", "slow"):
        challenger = answers["good" if name == "slow" else name]
        extra = SLOW_EXTRA_S if name == "slow" else 0.0
        started = time.monotonic()
        runs = [
            one_rollout(truth, answers["stable"], challenger, latency, extra, rollout, args.rate, args.feedback, seed)
            for seed in range(args.runs)
        ]
        results[name] = {
            "accuracy": challenger.accuracy,
            "accuracy_gap_vs_stable": round(answers["stable"].accuracy - challenger.accuracy, 4),
            "agreement_with_stable": float((challenger.label == answers["stable"].label).mean()),
            "review_rate": float(challenger.review.mean()),
            "extra_latency_s": extra,
            "train_fraction": recipe["good" if name == "slow" else name],
            **summarize(runs),
        }
        print(f"{name}: {json.dumps(results[name])} ({time.monotonic() - started:.0f}s)")
    rng = np.random.default_rng(1)
    shadow = [
        shadow_tickets_to_fail(truth, answers["stable"], answers["data_3pct"], rollout.checks, args.feedback, rng)
        for _ in range(args.runs)
    ]
    firsts = np.array([f if f is not None else np.inf for f, _ in shadow])
    seconds = np.array([s if s is not None else np.inf for _, s in shadow])
    results["data_3pct"]["shadow_only"] = {
        "looks_every_tickets": 10,
        "mirrored_tickets_to_first_fail": {"median": float(np.median(firsts)), "p95": float(np.quantile(firsts, 0.95))},
        "mirrored_tickets_to_two_fails": {
            "median": float(np.median(seconds)),
            "p95": float(np.quantile(seconds, 0.95)),
        },
        "share_caught_within_300": float((seconds <= 300).mean()),
    }
    report = {
        "stable_accuracy": answers["stable"].accuracy,
        "pool_tickets": len(truth),
        "rate_per_s": args.rate,
        "feedback_share": args.feedback,
        "rollout_params": rollout.model_dump(mode="json"),
        "challengers": results,
    }
    path = write_report("canary_power", report)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
