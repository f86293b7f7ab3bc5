"""A small but real model for the drift tests: tf-idf on 12 Banking77 intents, a reference sample of ~300 tickets.

The tiny fixture model's 36-ticket reference is below every drift signal's minimum sample size, so drift
tests use this one: big enough for every signal to judge, quick enough to train in a few seconds. The four
``scenarios.new_intent_labels`` intents are left out of the model entirely (the "product launch").
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ticketops.config import ScenarioParams, TfidfParams, TrainParams
from ticketops.data.split import split_frame
from ticketops.evaluation.metrics import review_threshold
from ticketops.fileio import read_csv, read_json, write_csv, write_json
from ticketops.modeling.artifacts import manifest_digest, write_checksums
from ticketops.modeling.predictor import SERVING_FILE, Predictor
from ticketops.modeling.training import train_classifier
from ticketops.registry.register import REFERENCE_FILE
from ticketops.registry.store import PACKAGE_DIR, TAG_ARTIFACT_SHA, TAG_GATE_PASSED, log_model_version, set_alias
from ticketops.settings import CHAMPION

ROOT = Path(__file__).resolve().parents[2]
SEED_CSV = ROOT / "data" / "seed" / "banking77" / "train.csv"
SCENARIOS = ScenarioParams()
EVERYDAY_LABELS = (
    *SCENARIOS.surge_labels,
    "card_arrival",
    "lost_or_stolen_card",
    "change_pin",
    "terminate_account",
    "exchange_rate",
    "request_refund",
    "top_up_failed",
    "cash_withdrawal_charge",
    "pending_transfer",
)
MODEL_NAME = "ticket-classifier"


@dataclass(frozen=True)
class DriftModel:
    """The package folder, the held-out tickets traffic is drawn from, and the model's labels."""

    folder: Path
    pool: pd.DataFrame  # text, label: test split of the 12 intents + every ticket of the 4 new intents
    labels: list[str]


def seed_tickets() -> pd.DataFrame:
    raw = read_csv(SEED_CSV)
    return pd.DataFrame({"text": raw["text"], "label": raw["category"], "origin": "seed", "source": "banking77"})


def build_drift_model(dst: Path) -> DriftModel:
    """Train, score the validation split as the reference sample, and write a registered-style package."""
    tickets = seed_tickets()
    known = tickets[tickets["label"].isin(EVERYDAY_LABELS)].reset_index(drop=True)
    parts = split_frame(known, seed=11, test_fraction=0.3, validation_fraction=0.2)
    labels = sorted(EVERYDAY_LABELS)
    params = TrainParams(model="tfidf", threads=2, tfidf=TfidfParams(char_ngrams=(2, 4), max_iter=500))
    classifier = train_classifier(params, labels, parts["train"], embeddings=None, progress=False)
    validation = parts["validation"]
    proba = classifier.predict_proba(validation["text"].tolist())
    predicted = [labels[i] for i in proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    threshold = review_threshold(confidence, (validation["label"] == predicted).to_numpy(), 0.95)
    folder = dst / PACKAGE_DIR
    classifier.save(folder)
    write_json(folder / SERVING_FILE, {"review_threshold": threshold})
    scored = Predictor(classifier, threshold).score(validation["text"].tolist())
    write_csv(
        folder / REFERENCE_FILE,
        validation.assign(predicted=scored.labels, confidence=scored.confidence, needs_review=scored.needs_review)[
            ["text", "label", "predicted", "confidence", "needs_review"]
        ],
    )
    write_checksums(folder)
    new_intents = tickets[tickets["label"].isin(SCENARIOS.new_intent_labels)]
    pool = pd.concat([parts["test"], new_intents], ignore_index=True)[["text", "label"]]
    return DriftModel(folder, pool, labels)


def register_drift_model(model: DriftModel, alias: str | None = CHAMPION) -> str:
    """Register the package in the MLflow store this process points at (see tiny_registry); returns the version."""
    from ticketops.registry.store import client

    checksums = read_json(model.folder / "checksums.json")
    version = log_model_version(
        client(),
        package_dir=model.folder,
        experiment="ticketops-tests",
        model_name=MODEL_NAME,
        run_name="drift-tfidf",
        params={"train": {"model": "tfidf"}},
        metrics={},
        artifacts={},
        tags={
            TAG_ARTIFACT_SHA: manifest_digest(checksums),
            TAG_GATE_PASSED: "true",  # serving refuses a version without a passed gate (issue 14)
            "model_family": "tfidf",
            "data_md5": "drift-test",
        },
    )
    if alias:
        set_alias(client(), MODEL_NAME, alias, str(version.version))
    return str(version.version)


@lru_cache(maxsize=1)
def shared_drift_model() -> DriftModel:
    """One build per test process (unit and integration tests share it); removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="ticketops-drift-model-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return build_drift_model(folder)


@lru_cache(maxsize=1)
def shared_reference():
    """The shared model's reference sample, embedded once with MiniLM (see ticketops.monitoring.reference)."""
    from ticketops.monitoring.reference import load_reference

    return load_reference(str(shared_drift_model().folder), threads=2)


def with_review_share(model: DriftModel, share: float, dst: Path) -> DriftModel:
    """A copy of ``model`` whose review threshold sends ``share`` of its reference tickets to review.

    The drift model's calibrated threshold flags almost nothing (tf-idf on 12 intents is confident), and the
    review-queue KPIs need flagged tickets. The reference sample is re-flagged with the new threshold, so the
    review-rate signal still compares like with like; checksums are rewritten for the changed files.
    """
    folder = dst / PACKAGE_DIR
    shutil.copytree(model.folder, folder)
    reference = read_csv(folder / REFERENCE_FILE)
    confidence = reference["confidence"].astype(float)
    threshold = float(confidence.quantile(share))
    write_json(folder / SERVING_FILE, {"review_threshold": threshold})
    write_csv(folder / REFERENCE_FILE, reference.assign(needs_review=confidence < threshold))
    write_checksums(folder)
    return DriftModel(folder, model.pool, model.labels)
