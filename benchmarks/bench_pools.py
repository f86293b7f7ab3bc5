"""The drift benchmarks' tickets (benchmarks/drift.py, benchmarks/slow_share.py), cut one way so figures compare.

Banking77 seed tickets split with the pipeline's ``assign_splits`` (40% pool, 10% validation, 50% train),
holding out ``scenarios.new_intent_labels``; the pool's tickets are cut by a keyed hash into a third for
calibration (everyday tickets only: steady windows) and two thirds for the measured windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ticketops.config import Params
from ticketops.data.ingest import SEED
from ticketops.data.split import assign_splits, text_rank
from ticketops.fileio import read_csv
from ticketops.settings import project_root
from ticketops.simulation.scenarios import everyday

POOL_FRACTION = 0.4
VALIDATION_FRACTION = 0.1
CALIBRATION_SHARE = 1 / 3


@dataclass(frozen=True)
class BenchPools:
    train: pd.DataFrame
    validation: pd.DataFrame
    pool: pd.DataFrame  # every ticket kept out of training and validation
    calibration_pool: pd.DataFrame  # everyday tickets for steady windows (thresholds)
    evaluation_pool: pd.DataFrame  # the rest: measured windows
    reference: pd.DataFrame  # the validation sample the monitor would compare with


def seed_frame(params: Params, root: Path | None = None) -> pd.DataFrame:
    p = params.ingest
    raw = read_csv((root or project_root()) / p.seed_path)
    return pd.DataFrame({"text": raw[p.seed_text_column], "label": raw[p.seed_label_column], "origin": SEED})


def bench_pools(params: Params, root: Path | None = None) -> BenchPools:
    sc = params.scenarios
    frame = seed_frame(params, root)
    split = assign_splits(frame, params.split.seed, POOL_FRACTION, VALIDATION_FRACTION, tuple(sc.new_intent_labels))
    validation = frame[split == "validation"]
    pool = frame[split.isin(["test", "holdout"])].reset_index(drop=True)
    in_calibration = pool["text"].map(lambda t: text_rank(t, params.split.seed + 1) < CALIBRATION_SHARE)
    return BenchPools(
        train=frame[split == "train"],
        validation=validation,
        pool=pool,
        calibration_pool=everyday(pool[in_calibration], sc).reset_index(drop=True),
        evaluation_pool=pool[~in_calibration].reset_index(drop=True),
        reference=validation.sample(
            n=min(len(validation), params.evaluate.reference_sample_size), random_state=params.split.seed
        ),
    )
