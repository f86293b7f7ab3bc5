"""Open a model by URI: a registry alias or version (fetched and verified), or a local package folder."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ticketops.modeling.predictor import Predictor
from ticketops.registry.ref import is_registry_uri, parse_model_uri


@dataclass
class LoadedModel:
    """A verified predictor and where it came from (``version`` is ``local`` for a folder)."""

    predictor: Predictor
    uri: str
    version: str
    name: str | None = None
    alias: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None
    forced: bool = False  # served although it did not pass the gate (an admin forced it)


@contextmanager
def open_model(
    uri: str, threads: int = 2, forced_versions: frozenset[str] = frozenset(), encoder_backend: str = "auto"
) -> Iterator[LoadedModel]:
    """Resolve, check the gate, download, verify checksums and signature, load; files removed when the block ends.

    A registry version that did not pass the gate is refused (GateNotPassed) unless it is in ``forced_versions``
    or an admin forced it in the registry (``LoadedModel.forced`` tells the caller to record it).
    ``encoder_backend``: modeling/encoder_choice.py (``auto``: the artifact's ONNX graph when it has one).
    """
    if not is_registry_uri(uri):
        folder = Path(uri)
        if not folder.is_dir():
            raise FileNotFoundError(f"model folder {folder} does not exist (or pass models:/NAME@ALIAS)")
        predictor = Predictor.from_folder(folder, threads=threads, encoder_backend=encoder_backend)
        yield LoadedModel(predictor, uri, "local", folder=folder)
        return
    from ticketops.registry import store

    ref = parse_model_uri(uri)
    mlflow_client = store.client()
    version = store.get_version(mlflow_client, ref)
    forced = store.require_gate(version, forced=str(version.version) in forced_versions)
    workdir = Path(tempfile.mkdtemp(prefix=f"ticketops-{ref.name}-v{version.version}-"))
    try:
        folder = store.fetch_verified(mlflow_client, version, workdir)
        # fetch_verified checked every file
        predictor = Predictor.from_folder(folder, threads=threads, verify=False, encoder_backend=encoder_backend)
        yield LoadedModel(
            predictor, uri, str(version.version), ref.name, ref.alias, dict(version.tags), folder, forced=forced
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
