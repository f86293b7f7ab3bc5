"""A registered model carried inside a Bento: imported from the MLflow registry into the BentoML model store,
opened at serving time with the same SHA-256 verification as a registry download.

``serving/import_model.py --build`` packs the imported model into a Bento (the cluster's service Bento carries
none), so that image serves without reaching the registry; ``TICKETOPS_MODEL_URI=bento:ticket-classifier[:TAG]``
selects it.
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

from ticketops.modeling.artifacts import verify_package
from ticketops.modeling.predictor import Predictor
from ticketops.registry import store
from ticketops.registry.loading import LoadedModel, open_model
from ticketops.registry.ref import parse_model_uri
from ticketops.settings import MODEL_NAME

BENTO_SCHEME = "bento:"
PACKAGE_SUBDIR = "package"  # BentoML writes its own model.yaml beside it


def bento_tag(registry_version: str, digest: str) -> str:
    """``ticket-classifier:v<version>-<digest12>``: the registry version and the artifact in one tag."""
    return f"{MODEL_NAME}:v{registry_version}-{digest[:12]}"


def import_from_registry(uri: str) -> str:
    """Download and verify ``uri`` from the registry, save it in the BentoML model store; return the tag."""
    import bentoml

    ref = parse_model_uri(uri)
    mlflow_client = store.client()
    version = store.get_version(mlflow_client, ref)
    store.require_gate(version)  # a Bento is a deployment: only versions that passed the gate (or forced)
    digest = version.tags.get(store.TAG_ARTIFACT_SHA, "")
    tag = bento_tag(str(version.version), digest)
    try:
        return str(bentoml.models.get(tag).tag)  # the same version and bytes were imported before
    except bentoml.exceptions.NotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="ticketops-import-") as tmp:
        folder = store.fetch_verified(mlflow_client, version, Path(tmp))
        metadata = {
            "source_uri": uri,
            "registered_model": ref.name,
            "registry_version": str(version.version),
            "alias": ref.alias or "",
            store.TAG_ARTIFACT_SHA: digest,
            "model_family": version.tags.get("model_family", ""),
            "data_md5": version.tags.get("data_md5", ""),
        }
        labels = {"registry_version": str(version.version), "family": metadata["model_family"] or "unknown"}
        with bentoml.models.create(tag, labels=labels, metadata=metadata) as model:
            shutil.copytree(folder, Path(model.path) / PACKAGE_SUBDIR)
    return tag


def _parse(uri: str) -> str:
    tag = uri.removeprefix(BENTO_SCHEME).strip() or MODEL_NAME
    if not re.fullmatch(r"[a-z0-9_.\-]+(:[a-z0-9_.\-]+)?", tag):
        raise ValueError(f"malformed Bento model URI {uri!r} (expected bento:NAME[:VERSION])")
    return tag


@contextmanager
def open_bento_model(uri: str, threads: int = 2, encoder_backend: str = "auto") -> Iterator[LoadedModel]:
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
    verify_package(folder, str(meta.get(store.TAG_ARTIFACT_SHA, "")), f"BentoML model {model.tag}")
    from ticketops.registry.signing import verify_signature
    from ticketops.settings import signing_keys

    verify_signature(folder, signing_keys()[1])  # signed at registration, by the deployment's key
    predictor = Predictor.from_folder(folder, threads=threads, verify=False, encoder_backend=encoder_backend)
    tags = {"model_family": str(meta.get("model_family", "")), "data_md5": str(meta.get("data_md5", ""))}
    yield LoadedModel(
        predictor,
        uri,
        str(meta.get("registry_version", model.tag.version)),
        str(meta.get("registered_model", MODEL_NAME)),
        str(meta.get("alias", "")) or None,
        tags,
        folder,
    )


def open_any(uri: str, threads: int = 2, forced_versions: frozenset[str] = frozenset(), encoder_backend: str = "auto"):
    """``bento:`` URIs from the BentoML model store, everything else through the registry (or a local folder)."""
    if uri.startswith(BENTO_SCHEME):
        return open_bento_model(uri, threads, encoder_backend)
    return open_model(uri, threads, forced_versions, encoder_backend)
