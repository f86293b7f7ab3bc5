"""A registered model carried inside a Bento: imported from the MLflow registry into the BentoML model store,
opened at serving time with the same SHA-256 verification as a registry download.

``bentoml build`` packs the imported model into the Bento (bentofile ``models:``), so the container image
serves without reaching the registry; ``TICKETOPS_MODEL_URI=bento:ticket-classifier[:TAG]`` selects it.
The registered digest (``artifact_sha256``) travels in the BentoML model's metadata and is checked again
at every start, so a tampered image refuses to become ready just like a tampered registry artifact.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ticketops.fileio import read_json
from ticketops.modeling.artifacts import CHECKSUMS_FILE, ChecksumMismatch, manifest_digest, verify_checksums
from ticketops.modeling.predictor import Predictor
from ticketops.registry.loading import LoadedModel

BENTO_SCHEME = "bento:"
BENTO_MODEL_NAME = "ticket-classifier"
PACKAGE_SUBDIR = "package"  # BentoML writes its own model.yaml beside it


def bento_tag(registry_version: str, digest: str) -> str:
    """``ticket-classifier:v<version>-<digest12>``: the registry version and the artifact in one tag."""
    return f"{BENTO_MODEL_NAME}:v{registry_version}-{digest[:12]}"


def import_from_registry(uri: str) -> str:
    """Download and verify ``uri`` from the registry, save it in the BentoML model store; return the tag."""
    import bentoml

    from ticketops.registry import store as registry

    ref = registry.parse_model_uri(uri)
    mlflow_client = registry.client()
    version = registry.get_version(mlflow_client, ref)
    registry.require_gate(version)  # a Bento is a deployment: only versions that passed the gate
    digest = version.tags.get(registry.TAG_ARTIFACT_SHA, "")
    tag = bento_tag(str(version.version), digest)
    try:
        return str(bentoml.models.get(tag).tag)  # the same version and bytes were imported before
    except bentoml.exceptions.NotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="ticketops-import-") as tmp:
        folder = registry.fetch_verified(mlflow_client, version, Path(tmp))
        metadata = {
            "source_uri": uri,
            "registered_model": ref.name,
            "registry_version": str(version.version),
            "alias": ref.alias or "",
            registry.TAG_ARTIFACT_SHA: digest,
            "model_family": version.tags.get("model_family", ""),
            "data_md5": version.tags.get("data_md5", ""),
        }
        labels = {"registry_version": str(version.version), "family": metadata["model_family"] or "unknown"}
        with bentoml.models.create(tag, labels=labels, metadata=metadata) as model:
            shutil.copytree(folder, Path(model.path) / PACKAGE_SUBDIR)
    return tag


def _parse(uri: str) -> str:
    tag = uri.removeprefix(BENTO_SCHEME).strip() or BENTO_MODEL_NAME
    if not re.fullmatch(r"[a-z0-9_.\-]+(:[a-z0-9_.\-]+)?", tag):
        raise ValueError(f"malformed Bento model URI {uri!r} (expected bento:NAME[:VERSION])")
    return tag


@contextmanager
def open_bento_model(uri: str, threads: int = 2) -> Iterator[LoadedModel]:
    """Load a model from the BentoML model store after checking every file against its registered digest and
    the package's signature against the deployment's public key."""
    import bentoml

    tag = _parse(uri)
    try:
        model = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound as exc:
        raise LookupError(f"BentoML model {tag} is not in the model store (import it, then bentoml build)") from exc
    folder = Path(model.path) / PACKAGE_SUBDIR
    meta = dict(model.info.metadata)
    expected = str(meta.get("artifact_sha256", ""))
    manifest_path = folder / CHECKSUMS_FILE
    if not expected or not manifest_path.exists():
        raise ChecksumMismatch(f"BentoML model {model.tag} has no registered digest or manifest: refusing to load it")
    manifest = read_json(manifest_path)
    if manifest_digest(manifest) != expected:
        raise ChecksumMismatch(f"BentoML model {model.tag}: manifest digest differs from the registered digest")
    verify_checksums(folder, manifest)
    from ticketops.registry.signing import verify_package
    from ticketops.settings import signing_keys

    verify_package(folder, signing_keys()[1])  # signed at registration, by the deployment's key
    predictor = Predictor.from_folder(folder, threads=threads, verify=False)
    tags = {"model_family": str(meta.get("model_family", "")), "data_md5": str(meta.get("data_md5", ""))}
    yield LoadedModel(
        predictor,
        uri,
        str(meta.get("registry_version", model.tag.version)),
        str(meta.get("registered_model", BENTO_MODEL_NAME)),
        str(meta.get("alias", "")) or None,
        tags,
        folder,
    )


def open_any(uri: str, threads: int = 2, forced_versions: frozenset[str] = frozenset()):
    """``bento:`` URIs from the BentoML model store, everything else through the registry (or a local folder)."""
    if uri.startswith(BENTO_SCHEME):
        return open_bento_model(uri, threads)
    from ticketops.registry.loading import open_model

    return open_model(uri, threads, forced_versions)
