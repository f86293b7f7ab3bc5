"""The demo's scratch workspace: a copy of the project's tracked files with its own git, DVC cache,
MLflow store and state, so running the demo never changes the user's checkout or registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    embeddings = source / "data" / "embeddings" / "embeddings.safetensors"
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


def demo_environment(workspace: Path, ports: dict[str, int]) -> dict[str, str]:
    """Environment that points this process and every child at the workspace, never at the user's repo."""
    state = workspace / ".ticketops"
    return {
        "TICKETOPS_ROOT": str(workspace),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}",
        "TICKETOPS_ARTIFACT_ROOT": str(workspace / "mlartifacts"),
        "TICKETOPS_STATE_DIR": str(state),
        "TICKETOPS_PROMETHEUS_URL": f"http://127.0.0.1:{ports['prometheus']}",
        "TICKETOPS_SPLITTER_PORT": str(ports["splitter"]),
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{state / 'local' / 'predictions.db'}",
        "TICKETOPS_MONITOR_DASHBOARD_PORT": str(ports["dashboard"]),
        "TICKETOPS_PYTHON": sys.executable,
        "HF_HUB_OFFLINE": "1",
        "BENTOML_DO_NOT_TRACK": "true",
    }


def enter_workspace(workspace: Path, ports: dict[str, int]) -> None:
    """Apply ``demo_environment`` to this process; cached service settings are read again."""
    from ticketops.settings import service_settings

    os.environ.update(demo_environment(workspace, ports))
    service_settings.cache_clear()


def git_commit(workspace: Path, message: str) -> None:
    """Commit everything in the workspace; a failure raises with git's own message."""
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", message, "--allow-empty"]):
        result = subprocess.run(command, cwd=workspace, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed in {workspace}: {result.stderr.strip()[-500:]}")


def dvc_executable() -> str:
    """The dvc of the running interpreter's environment."""
    return str(Path(sys.executable).parent / "dvc")


def demo_params(new_intents: list[str]) -> dict:
    """What the demo changes in params.yaml: the new intents are unknown at first; a faster rollout clock, and
    larger smallest effects, so each check's sample fits in a demo's minutes at 40 tickets/s (params.yaml's own
    effects, e.g. a 2-point paired accuracy drop, need ~5,800 labelled tickets; these ~1,400)."""
    return {
        "split": {"holdout_labels": new_intents},
        "rollout": {
            "analysis_interval_s": 5,
            "min_step_seconds": 10,
            "max_step_seconds": 420,
            "checks": {
                "error_rate": {"effect": 0.05},
                "latency": {"effect": 0.2},
                "review_rate": {"effect": 0.15},
                "live_accuracy": {"effect": 0.1},
                "shadow_accuracy": {"effect": 0.04},
            },
        },
    }
