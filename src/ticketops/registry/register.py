"""Register a trained model: package it, compare it with the champion on the same test split, move aliases.

A version that fails the gate is still registered, tagged with the reason, and no alias moves.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ticketops.config import Params
from ticketops.evaluation.gate import GateDecision, promotion_gate
from ticketops.evaluation.metrics import headline_metrics
from ticketops.fileio import read_json
from ticketops.modeling.artifacts import REFERENCE_FILE, ChecksumMismatch, manifest_digest, write_checksums
from ticketops.modeling.predictor import SERVING_FILE, Predictor
from ticketops.registry.ref import ModelNotFound
from ticketops.registry.store import (
    PACKAGE_DIR,
    TAG_ARTIFACT_SHA,
    TAG_GATE_PASSED,
    TAG_GATE_REASON,
    alias_version,
    dvc_md5,
    fetch_verified,
    git_commit,
    log_model_version,
    params_sha256,
    set_alias,
)
from ticketops.settings import CHALLENGER, CHAMPION


@dataclass(frozen=True)
class Registration:
    version: str
    aliases: list[str]
    gate: GateDecision
    champion_version: str | None


def build_package(model_dir: Path, evaluation_dir: Path, dst: Path) -> str:
    """The registered artifact: model files, serving settings, the drift reference sample, checksums."""
    shutil.copytree(model_dir, dst)
    shutil.copy2(evaluation_dir / SERVING_FILE, dst / SERVING_FILE)
    shutil.copy2(evaluation_dir / REFERENCE_FILE, dst / REFERENCE_FILE)
    return manifest_digest(write_checksums(dst))


def score_champion(mlflow_client, version, test: pd.DataFrame, threads: int) -> dict[str, float]:
    """The champion's metrics re-measured on today's test split (the same tickets the candidate saw)."""
    with tempfile.TemporaryDirectory(prefix="ticketops-champion-") as tmp:
        predictor = Predictor.from_folder(fetch_verified(mlflow_client, version, Path(tmp)), threads=threads)
        predicted = predictor.score(test["text"].tolist()).labels
    return headline_metrics(test["label"], predicted)


def register_candidate(
    mlflow_client,
    params: Params,
    *,
    model_dir: Path,
    evaluation_dir: Path,
    metrics: dict,
    test: pd.DataFrame,
    dataset_path: Path,
    plots_dir: Path,
    model_card: Path,
) -> Registration:
    p = params.registration
    champion = alias_version(mlflow_client, p.model_name, CHAMPION)
    candidate_score = float(metrics["test"][p.gate_metric])
    behaviour = metrics["behaviour"]
    behaviour_reason = "; ".join(read_json(evaluation_dir / "behaviour.json")["reasons"]) or "see behaviour.json"
    if champion is None:
        decision = promotion_gate(
            p.gate_metric, candidate_score, None, p.gate_margin, bool(behaviour["passed"]), behaviour_reason
        )
    else:
        try:
            champion_score = score_champion(mlflow_client, champion, test, params.train.threads)[p.gate_metric]
            decision = promotion_gate(
                p.gate_metric,
                candidate_score,
                champion_score,
                p.gate_margin,
                bool(behaviour["passed"]),
                behaviour_reason,
            )
        except (ChecksumMismatch, ModelNotFound, OSError) as exc:
            decision = GateDecision(
                False, f"champion v{champion.version} could not be scored: {exc}", candidate_score, None
            )

    with tempfile.TemporaryDirectory(prefix="ticketops-package-") as tmp:
        package = Path(tmp) / PACKAGE_DIR
        digest = build_package(model_dir, evaluation_dir, package)
        tags = {
            "git_commit": git_commit(),
            "data_md5": dvc_md5(dataset_path),
            "params_sha256": params_sha256(params.as_dict()),
            TAG_ARTIFACT_SHA: digest,
            "model_family": params.train.model,
            TAG_GATE_PASSED: str(decision.passed).lower(),
            TAG_GATE_REASON: decision.reason,
            f"test_{p.gate_metric}": f"{candidate_score:.6f}",
            "review_threshold": f"{read_json(package / SERVING_FILE)['review_threshold']:.6f}",
        }
        version = log_model_version(
            mlflow_client,
            package_dir=package,
            experiment=p.experiment,
            model_name=p.model_name,
            run_name=f"{params.train.model}",
            params=params.as_dict(),
            metrics=_flat_metrics(metrics),
            artifacts={"plots": plots_dir, "evaluation": evaluation_dir, "model_card": model_card},
            tags=tags,
            input_example=test[["text"]].head(3).reset_index(drop=True),
        )
    aliases = []
    if decision.passed:
        alias = CHAMPION if champion is None else CHALLENGER
        set_alias(mlflow_client, p.model_name, alias, version.version)
        aliases.append(alias)
    return Registration(version.version, aliases, decision, champion.version if champion else None)


def _flat_metrics(metrics: dict) -> dict[str, float]:
    flat = {}
    for section, values in metrics.items():
        for name, value in values.items():
            if isinstance(value, bool | int | float):
                flat[f"{section}_{name}"] = float(value)
    return flat


def registration_summary(result: Registration) -> dict:
    return {
        "version": result.version,
        "aliases": result.aliases,
        "champion_before": result.champion_version,
        "gate": asdict(result.gate),
    }
