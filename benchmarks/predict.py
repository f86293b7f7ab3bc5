"""Batch speed: `ticketops predict` on a CSV against the one-ticket HTTP throughput of the same model.

    .venv/bin/python benchmarks/predict.py [--model-uri models:/ticket-classifier/1] [--rows 10000]

Runs the real command (`ticketops predict -i IN.csv -o OUT.csv --model-uri URI`) twice: on ``--rows`` tickets
(the test split's texts, which no model trains on, repeated as needed: training texts would be answered by the
fast stage far more often than live tickets) and on ``--small-rows``; the difference of the two wall times is the
steady-state scoring time of the extra tickets, free of process start and model load. Both runs and the
one-ticket HTTP figure of the same model from reports/bench/serve.json (benchmarks/serve.py --model-uri URI)
go to reports/bench/predict.json with the ratio (issue 15's goal: >= 1.5x). Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from benchmarking import write_report

from ticketops.fileio import read_csv
from ticketops.settings import DEFAULT_MODEL_URI, project_root

ROOT = project_root()
BIN = Path(sys.executable).parent
GOAL_RATIO = 1.5


def tickets(source: Path, rows: int) -> pd.DataFrame:
    """``rows`` ticket texts from ``source``, repeated in order if it has fewer (shuffled once, fixed seed)."""
    texts = read_csv(source)["text"].sample(frac=1.0, random_state=0).tolist()
    repeated = (texts * (rows // len(texts) + 1))[:rows]
    return pd.DataFrame({"ticket_id": range(rows), "text": repeated})


def run_predict(model_uri: str, frame: pd.DataFrame, work: Path, batch_size: int) -> float:
    """Wall seconds of one `ticketops predict` over ``frame`` (process start and model load included)."""
    source, out = work / f"in-{len(frame)}.csv", work / f"out-{len(frame)}.csv"
    frame.to_csv(source, index=False)
    command = [str(BIN / "ticketops"), "predict", "-i", str(source), "-o", str(out), "--model-uri", model_uri]
    command += ["--batch-size", str(batch_size), "--no-progress"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    written = len(pd.read_csv(out, usecols=["label"]))
    if written != len(frame):
        raise SystemExit(f"predict wrote {written} rows for {len(frame)} tickets")
    said = (result.stdout.strip() or result.stderr.strip()).splitlines()
    print(f"  {len(frame):,} tickets in {seconds:.1f}s: {said[-1] if said else ''}", flush=True)
    return seconds


def http_figure(model_uri: str) -> dict | None:
    """The one-ticket HTTP throughput of ``model_uri`` from reports/bench/serve.json, if it measured that model."""
    path = ROOT / "reports" / "bench" / "serve.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    if report.get("model_uri") != model_uri or not report.get("models"):
        return None
    name, first = next(iter(report["models"].items()))
    return {
        "source": f"reports/bench/serve.json ({report['measured_at']}, model {name})",
        "tickets_per_s": first["http_max_load"]["requests_per_s"],
        "errors": first["http_max_load"]["errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=DEFAULT_MODEL_URI)
    parser.add_argument("--texts", type=Path, default=ROOT / "data/splits/test.csv", help="tickets no model saw")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--small-rows", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=256, help="ticketops predict --batch-size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ticketops-bench-predict-") as tmp:
        work = Path(tmp)
        print(f"ticketops predict with {args.model_uri}", flush=True)
        small = run_predict(args.model_uri, tickets(args.texts, args.small_rows), work, args.batch_size)
        large = run_predict(args.model_uri, tickets(args.texts, args.rows), work, args.batch_size)
    steady = (args.rows - args.small_rows) / max(large - small, 1e-9)
    results = {
        "model_uri": args.model_uri,
        "rows": args.rows,
        "batch_size": args.batch_size,
        "wall_seconds": {"rows": round(large, 2), "small_rows": round(small, 2), "small_row_count": args.small_rows},
        "tickets_per_s_whole_command": round(args.rows / large, 1),
        "tickets_per_s_steady": round(steady, 1),
    }
    http = http_figure(args.model_uri)
    if http is not None:
        ratio = steady / http["tickets_per_s"]
        results["http_one_ticket"] = http
        results["goal"] = {"value": round(ratio, 2), "target": f">= {GOAL_RATIO}x HTTP", "met": ratio >= GOAL_RATIO}
    else:
        results["goal"] = {"value": None, "target": f">= {GOAL_RATIO}x HTTP", "met": None}
        print(f"no HTTP figure for {args.model_uri}: run benchmarks/serve.py --model-uri {args.model_uri}", flush=True)
    print(json.dumps(results, indent=2))
    print(f"wrote {write_report('predict', results)}")


if __name__ == "__main__":
    main()
