"""Models for the serving benchmark: built the way the pipeline builds them, registered in a throw-away store.

The cascade is trained by the pipeline's own code (``train_classifier`` with the ``train`` section of
params.yaml and ``model: cascade``) on data/splits/train.csv with the embed stage's cached embeddings; its
routing threshold is chosen on the validation split. The slow model served alone is the cascade's own slow
stage, so a comparison of the two isolates what the routing changes. Each package gets what the evaluate
and register stages would give it: the review threshold chosen on validation, the reference sample,
checksums, one registered version. Nothing here touches the project's own registry except to read from it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ticketops.config import Params
from ticketops.evaluation.metrics import review_threshold
from ticketops.fileio import read_csv, write_csv, write_json
from ticketops.modeling.artifacts import CHECKSUMS_FILE, REFERENCE_FILE, manifest_digest, write_checksums
from ticketops.modeling.classifiers import CascadeClassifier, Classifier, EncoderClassifier
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.predictor import SERVING_FILE, needs_review, top1
from ticketops.registry.store import PACKAGE_DIR

EMBEDDINGS = Path("data/embeddings/embeddings.safetensors")
SPLITS = Path("data/splits")


@dataclass(frozen=True)
class PipelineData:
    """The pipeline's splits and cached embeddings, read from a checkout (``root``)."""

    labels: list[str]
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    embeddings: EmbeddingCache

    @classmethod
    def load(cls, root: Path, params: Params) -> PipelineData:
        from ticketops.data.labels import load_labels

        return cls(
            load_labels(root / params.ingest.labels_path),
            read_csv(root / SPLITS / "train.csv"),
            read_csv(root / SPLITS / "validation.csv"),
            read_csv(root / SPLITS / "test.csv"),
            EmbeddingCache.load(root / EMBEDDINGS),
        )


def train_cascade(data: PipelineData, params: Params) -> CascadeClassifier:
    """The pipeline's train stage with ``train.model = cascade`` (same code, same parameters otherwise)."""
    from ticketops.modeling.training import train_classifier

    train_params = params.train.model_copy(update={"model": "cascade"})
    cascade = train_classifier(
        train_params, data.labels, data.train, data.embeddings, progress=False, validation=data.validation
    )
    assert isinstance(cascade, CascadeClassifier)
    return cascade


def validation_proba(classifier: Classifier, texts: list[str], embeddings: EmbeddingCache) -> np.ndarray:
    """Probabilities on validation texts, with the embed stage's cached embeddings where an encoder is involved."""
    if isinstance(classifier, CascadeClassifier):
        proba = classifier.fast.predict_proba(texts)
        unsure = np.flatnonzero(~classifier.route(proba))
        if len(unsure):
            proba[unsure] = validation_proba(classifier.slow, [texts[i] for i in unsure], embeddings)
        return proba
    if isinstance(classifier, EncoderClassifier):
        return classifier.predict_proba(texts, embeddings.lookup(texts))
    return classifier.predict_proba(texts)


def package(classifier: Classifier, data: PipelineData, params: Params, root: Path, saved: Path | None = None) -> Path:
    """A registered-style package under ``root``: model files, serving.json (review threshold), reference.csv,
    checksums. Returns its folder (named as the registry expects inside a version's artifact). ``saved``: the
    classifier's files as already written (a registered cascade's ``slow/``), copied instead of saved again (a
    loaded encoder may be a runtime, ONNX or torch bf16, that cannot be exported once more)."""
    dst = root / PACKAGE_DIR
    texts = data.validation["text"].tolist()
    proba = validation_proba(classifier, texts, data.embeddings)
    predicted, confidence = top1(classifier.labels, proba)
    correct = np.asarray(predicted) == data.validation["label"].to_numpy()
    threshold = review_threshold(confidence, correct, params.evaluate.review_precision_target)
    if saved is not None:
        shutil.copytree(saved, dst)
    else:
        classifier.save(dst)
    write_json(dst / SERVING_FILE, {"review_threshold": threshold})
    reference = data.validation.assign(
        predicted=predicted, confidence=confidence, needs_review=needs_review(confidence, threshold)
    )
    size = params.evaluate.reference_sample_size
    if len(reference) > size:
        reference = reference.sample(n=size, random_state=params.split.seed)
    write_csv(dst / REFERENCE_FILE, reference[["text", "label", "predicted", "confidence", "needs_review"]])
    write_checksums(dst)
    return dst


def register(
    folder: Path,
    model_name: str,
    family: str,
    run_name: str,
    experiment: str = "ticketops-bench-serve",
    data_md5: str = "bench",
) -> str:
    """One version in the registry ``MLFLOW_TRACKING_URI`` points at (set it to a throw-away store first)."""
    from ticketops.fileio import read_json
    from ticketops.registry.store import TAG_ARTIFACT_SHA, TAG_FORCED, client, log_model_version

    digest = manifest_digest(read_json(folder / CHECKSUMS_FILE))
    version = log_model_version(
        client(),
        package_dir=folder,
        experiment=experiment,
        model_name=model_name,
        run_name=run_name,
        params={},
        metrics={},
        artifacts={},
        # a benchmark's model is measured, not promoted: it serves by a recorded override, never as gated
        tags={TAG_ARTIFACT_SHA: digest, TAG_FORCED: "benchmark", "model_family": family, "data_md5": data_md5},
    )
    return str(version.version)


def fetch_registered(uri: str, root: Path) -> tuple[Path, Classifier]:
    """A verified copy of a registered package under ``root`` (the registry is only read) and its classifier."""
    from ticketops.registry.loading import open_model

    dst = root / PACKAGE_DIR
    with open_model(uri) as model:
        if model.folder is None:
            raise ValueError(f"{uri}: no package folder")
        shutil.copytree(model.folder, dst)
        return dst, model.predictor.classifier
