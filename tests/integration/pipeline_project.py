"""Build a throw-away copy of the project that runs the real DVC pipeline on the tiny fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
BIN = Path(sys.executable).parent


def make_tiny_project(root: Path) -> Path:
    """dvc.yaml, stage scripts and sources from the repo; tiny data and params; fresh git + DVC."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "pipelines", "src"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    seed = root / "data" / "seed" / "tiny"
    seed.mkdir(parents=True)
    shutil.copy2(FIXTURES / "tiny_tickets.csv", seed / "train.csv")
    shutil.copy2(FIXTURES / "tiny_categories.json", seed / "categories.json")
    (root / "data" / "feedback").mkdir(parents=True)
    (root / "data" / "feedback" / "README.md").write_text("feedback batches\n")
    (root / "data" / "checks").mkdir(parents=True)
    shutil.copy2(FIXTURES / "tiny_min_functionality.csv", root / "data" / "checks" / "min_functionality.csv")
    # dvc.yaml takes the seed, label and dataset paths from params.yaml (${ingest.*}): the tiny params point it
    # at the fixture, so dvc.yaml is copied unchanged.
    shutil.copy2(FIXTURES / "tiny_params.yaml", root / "params.yaml")
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "test@example.com"], root)
    run(["git", "config", "user.name", "test"], root)
    run([str(BIN / "dvc"), "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny project"], root)
    return root


def project_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "TICKETOPS_ROOT": str(root),
            "TICKETOPS_ARTIFACT_ROOT": str(root / "mlartifacts"),
            "TICKETOPS_PYTHON": sys.executable,
            "HF_HUB_OFFLINE": "1",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
