"""The demo's scratch workspace: a copy of the project's tracked files with its own git, DVC cache,
MLflow store and state, so running the demo never changes the user's checkout or registry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml


def tracked_files(root: Path) -> list[Path]:
    """Files git tracks in ``root`` (the working-tree version, uncommitted edits included)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [Path(p) for p in out.decode().split("\0") if p and (root / p).is_file()]


def deep_update(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = deep_update(merged.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def create_workspace(source: Path, workspace: Path, param_overrides: dict[str, Any]) -> Path:
    """A fresh copy of ``source`` at ``workspace`` (replacing an old one) with ``param_overrides`` applied."""
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    for relative in tracked_files(source):
        target = workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)
    # The embed stage keeps vectors by text hash: start from the checkout's, so only new texts are encoded.
    embeddings = source / "data" / "embeddings" / "minilm.safetensors"
    if embeddings.exists():
        (workspace / "data" / "embeddings").mkdir(parents=True, exist_ok=True)
        shutil.copy2(embeddings, workspace / "data" / "embeddings" / embeddings.name)
    params_path = workspace / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params_path.write_text(yaml.safe_dump(deep_update(params, param_overrides), sort_keys=False))
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "demo@ticketops.local"],
        ["git", "config", "user.name", "ticketops demo"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "demo workspace"],
    ):
        subprocess.run(cmd, cwd=workspace, check=True, capture_output=True)
    return workspace
