"""The service image: `make bento` builds serving/bentofile.yaml into a Bento that holds the service and the
ticketops library it imports, NO model (pods name the registry version they serve), and BentoML's generated
Dockerfile. `serving/import_model.py --build` still packs one for a machine without a registry.

Real `bentoml build` (the make target itself) into a throw-away BENTOML_HOME; about 20 s in all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
MODEL_SUFFIXES = {".safetensors", ".skops", ".onnx", ".pt", ".pth", ".bin", ".pkl", ".joblib", ".npz"}
# What serving imports lazily, after the service module: it must all be inside the Bento too.
RUNTIME_MODULES = [
    "ticketops.serving.runtime",
    "ticketops.serving.prediction_log",
    "ticketops.registry.loading",
    "ticketops.registry.bento",
    "ticketops.modeling.predictor",
]


def bento_path(home: Path, tag: str) -> Path:
    name, version = tag.split(":")
    return home / "bentos" / name / version


def model_files(folder: Path) -> list[str]:
    """Anything in ``folder`` that is (part of) a trained model or a model store."""
    found = []
    for path in folder.rglob("*"):
        parts = set(path.relative_to(folder).parts)
        if path.suffix in MODEL_SUFFIXES or path.name == "checksums.json" or parts & {"mlartifacts", "mlruns"}:
            found.append(str(path.relative_to(folder)))
    return sorted(found)


def serving_closure() -> set[str]:
    """Every ticketops module the serving package imports, directly or not, at import time or lazily (grimp)."""
    import grimp

    graph = grimp.build_graph("ticketops")
    todo = [m for m in graph.modules if m.startswith("ticketops.serving")]
    seen = set(todo)
    while todo:
        for imported in graph.find_modules_directly_imported_by(todo.pop()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(BENTOML_HOME, the Bento) after `make bento`; the install step is taken as done (this venv runs the test)."""
    home = tmp_path_factory.mktemp("bentoml")
    result = subprocess.run(
        ["make", "-s", "-o", str(VENV / ".installed"), f"VENV={VENV}", "bento"],
        cwd=REPO,
        env={**os.environ, "BENTOML_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (tag,) = re.findall(r"__tag__:(\S+)", result.stdout)
    return home, bento_path(home, tag)


def test_the_bento_holds_the_service_and_no_model(built):
    home, bento = built
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["service"] == "serving.service:TicketClassifier" and info["name"] == "ticketops"
    assert info["models"] == [] and all(service["models"] == [] for service in info["services"])
    assert model_files(home) == []  # not in the Bento, nor in the store `bentoml containerize` would copy from
    assert "TICKETOPS_MODEL_URI" not in {env["name"] for env in info["envs"]}  # the pod names the version
    assert (bento / "src" / "serving" / "service.py").is_file()
    for module in serving_closure():
        relative = Path(*module.split("."))
        assert (bento / "src" / relative).with_suffix(".py").is_file() or (bento / "src" / relative).is_dir(), module


def test_the_service_imports_from_the_bento_alone(built):
    """Every ticketops module serving loads comes from the Bento's copy (PYTHONPATH before the installed one)."""
    _, bento = built
    src = bento / "src"
    script = (
        "import importlib, json, sys\n"
        "import serving.service\n"
        f"for name in {RUNTIME_MODULES!r}: importlib.import_module(name)\n"
        "print(json.dumps({m.__name__: m.__file__ for m in list(sys.modules.values())"
        " if m.__name__.split('.')[0] in ('ticketops', 'serving') and getattr(m, '__file__', None)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(src)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=src, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    files = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(files) > 20
    outside = {name: path for name, path in files.items() if not Path(path).resolve().is_relative_to(src.resolve())}
    assert outside == {}


def test_the_bento_has_bentomls_dockerfile_and_only_servings_packages(built):
    _, bento = built
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile and "USER bentoml" in dockerfile
    (stable,) = yaml.safe_load_all((REPO / "k8s" / "base" / "deployment-stable.yaml").read_text())
    uid = stable["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert f"ARG BENTO_USER_UID={uid}" in dockerfile  # the pods run as the image's bentoml user
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "torch==2.13.0" in requirements and "download.pytorch.org/whl/cpu" in requirements
    names = {re.split(r"[<>=\[ ;]", line, maxsplit=1)[0].lower() for line in requirements.splitlines()}
    assert not names & {"dvc", "evidently", "kubernetes", "mlflow", "matplotlib", "ticketops"}


def test_a_bento_can_still_pack_a_model_for_one_machine(tmp_path):
    """The checks above can fail: ``import_model.py --build`` packs a model from the store into the same Bento."""
    home = tmp_path / "bentoml"
    script = (
        "import runpy, bentoml\n"
        "build_with_model = runpy.run_path('serving/import_model.py')['build_with_model']\n"
        "with bentoml.models.create('ticket-classifier:v9-0123456789ab') as model:\n"
        "    import pathlib; folder = pathlib.Path(model.path) / 'package'; folder.mkdir()\n"
        "    (folder / 'head.safetensors').write_bytes(b'weights')\n"
        "print(build_with_model(str(model.tag)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bento_tag = result.stdout.split()[-1]
    info = yaml.safe_load((bento_path(home, bento_tag) / "bento.yaml").read_text())
    assert [model["tag"] for model in info["models"]] == ["ticket-classifier:v9-0123456789ab"]
    uri = {"name": "TICKETOPS_MODEL_URI", "value": "bento:ticket-classifier:v9-0123456789ab", "stage": "all"}
    assert uri in info["envs"]
    assert model_files(home) == ["models/ticket-classifier/v9-0123456789ab/package/head.safetensors"]
