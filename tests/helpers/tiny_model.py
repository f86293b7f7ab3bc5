"""Train a tiny model on the fixture and register it in a throw-away MLflow store (SQLite in a temp folder).

Serving, monitoring and rollout tests use this instead of the full pipeline: a real model, a real registry,
real checksums, in a few seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ticketops.config import TrainParams
from ticketops.data.split import split_frame
from ticketops.fileio import read_json, write_csv, write_json
from ticketops.modeling.artifacts import manifest_digest, write_checksums
from ticketops.modeling.predictor import SERVING_FILE, Predictor
from ticketops.modeling.training import train_classifier
from ticketops.registry.register import REFERENCE_FILE
from ticketops.registry.store import PACKAGE_DIR, TAG_ARTIFACT_SHA, TAG_GATE_PASSED, log_model_version, set_alias
from ticketops.settings import CHAMPION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL_NAME = "ticket-classifier"


@dataclass(frozen=True)
class TinyRegistry:
    """Where the throw-away store lives; ``env`` points a subprocess (bentoml serve, CLI) at it."""

    root: Path
    tracking_uri: str
    env: dict[str, str]


def tiny_frame() -> pd.DataFrame:
    raw = pd.read_csv(FIXTURES / "tiny_tickets.csv", dtype=str, keep_default_na=False)
    return pd.DataFrame({"text": raw["text"], "label": raw["category"], "origin": "seed", "source": "tiny"})


def tiny_labels() -> list[str]:
    return sorted(tiny_frame()["label"].unique())


def tiny_embeddings(texts: list[str]):
    """The real sentence encoder's embeddings of ``texts`` (what the embed stage gives hybrid and cascade)."""
    from ticketops.modeling.embedding_cache import EmbeddingCache
    from ticketops.modeling.encoder import encode, load_encoder

    cache = EmbeddingCache()
    encoder = load_encoder(threads=1)
    cache.fill(texts, lambda batch: encode(encoder, batch))
    return cache


def with_fast_share(cascade, texts: list[str], fast_share: float):
    """The same cascade with its routing threshold moved so the fast stage answers ``fast_share`` of ``texts``.

    The tiny validation split is too small for the chosen threshold to route predictably; serving tests need
    both stages to answer some of the fixture's tickets.
    """
    from ticketops.modeling.classifiers import CascadeClassifier

    confidence = np.sort(cascade.fast.predict_proba(texts).max(axis=1))[::-1]
    k = max(1, min(len(confidence) - 1, round(fast_share * len(confidence))))
    threshold = float(confidence[k - 1] + confidence[k]) / 2  # between two tickets: no ticket sits on the cut
    return CascadeClassifier(cascade.labels, cascade.fast, cascade.slow, threshold)


def build_package(
    dst: Path,
    family: str = "tfidf",
    review_threshold: float = 0.5,
    sample_fraction: float = 1.0,
    fast_share: float | None = None,
) -> Path:
    """A registered-style package folder (model files, serving.json, reference.csv, checksums.json).

    ``hybrid`` and ``cascade`` embed the fixture with the real encoder; ``fast_share`` (cascade only) moves the
    routing threshold so the fast stage answers that share of the fixture's tickets.
    """
    frame = tiny_frame()
    parts = split_frame(frame, seed=3, test_fraction=0.2, validation_fraction=0.2)
    params = TrainParams(model=family, threads=1, sample_fraction=sample_fraction)
    embeddings = tiny_embeddings(frame["text"].tolist()) if family in ("hybrid", "cascade") else None
    classifier = train_classifier(
        params, tiny_labels(), parts["train"], embeddings=embeddings, progress=False, validation=parts["validation"]
    )
    if fast_share is not None:
        classifier = with_fast_share(classifier, frame["text"].tolist(), fast_share)
    folder = dst / PACKAGE_DIR
    classifier.save(folder)
    write_json(folder / SERVING_FILE, {"review_threshold": review_threshold})
    reference = parts["validation"]
    scored = Predictor(classifier, review_threshold).score(reference["text"].tolist())
    write_csv(
        folder / REFERENCE_FILE,
        reference.assign(predicted=scored.labels, confidence=scored.confidence, needs_review=scored.needs_review)[
            ["text", "label", "predicted", "confidence", "needs_review"]
        ],
    )
    write_checksums(folder)
    return folder


def tiny_registry(root: Path) -> TinyRegistry:
    """Point this process (and the returned env) at a fresh SQLite MLflow store under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "TICKETOPS_ARTIFACT_ROOT": str(root / "mlartifacts"), "HF_HUB_OFFLINE": "1"}
    os.environ.update(env)
    return TinyRegistry(root, uri, env)


def register_tiny_model(
    registry: TinyRegistry,
    alias: str | None = CHAMPION,
    family: str = "tfidf",
    sample_fraction: float = 1.0,
    fast_share: float | None = None,
    review_threshold: float = 0.5,
    gate_passed: bool = True,
) -> str:
    """Train, package, sign and register one version; set ``alias`` on it. Returns the version number."""
    from ticketops.registry.store import client

    staging = registry.root / f"staging-{len(list(registry.root.glob('staging-*')))}"
    folder = build_package(
        staging,
        family=family,
        review_threshold=review_threshold,
        sample_fraction=sample_fraction,
        fast_share=fast_share,
    )
    mlflow_client = client()
    checksums = read_json(folder / "checksums.json")
    version = log_model_version(
        mlflow_client,
        package_dir=folder,
        experiment="ticketops-tests",
        model_name=MODEL_NAME,
        run_name=f"tiny-{family}",
        params={"train": {"model": family, "sample_fraction": sample_fraction}},
        metrics={},
        artifacts={},
        tags={
            TAG_ARTIFACT_SHA: manifest_digest(checksums),
            TAG_GATE_PASSED: str(gate_passed).lower(),
            "model_family": family,
            "data_md5": "tiny",
        },
    )
    if alias:
        set_alias(mlflow_client, MODEL_NAME, alias, str(version.version))
    return str(version.version)
