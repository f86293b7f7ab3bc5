"""The real pipeline (dvc repro → MLflow on SQLite) on the tiny fixture with the tf-idf model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.integration.pipeline_project import BIN, make_tiny_project, project_env, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_tiny_project(tmp_path_factory.mktemp("tiny") / "project")
    result = run([str(BIN / "dvc"), "repro"], root, project_env(root))
    assert "register: ticket-classifier v1 (@champion)" in result.stdout, result.stdout
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "first model"], root)
    return root


def mlflow_client(root: Path):
    from mlflow import MlflowClient

    uri = project_env(root)["MLFLOW_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def lock(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.lock").read_text())


def test_first_version_becomes_champion_with_lineage(project):
    client = mlflow_client(project)
    version = client.get_model_version_by_alias("ticket-classifier", "champion")
    assert str(version.version) == "1"
    dataset_md5 = next(
        o["md5"] for o in lock(project)["stages"]["ingest"]["outs"] if o["path"] == "data/processed/dataset.csv"
    )
    assert version.tags["data_md5"] == dataset_md5
    assert len(version.tags["git_commit"].split("-")[0]) == 40
    assert len(version.tags["params_sha256"]) == 64 and len(version.tags["artifact_sha256"]) == 64
    assert version.tags["gate_passed"] == "true"
    run_data = client.get_run(version.run_id).data
    assert run_data.params["train.model"] == "tfidf"
    assert 0.0 <= run_data.metrics["test_accuracy"] <= 1.0
    metrics = json.loads((project / "models" / "metrics.json").read_text())
    assert set(metrics) == {"test", "heldout", "behaviour"}


def test_unchanged_pipeline_reruns_nothing(project):
    result = run([str(BIN / "dvc"), "repro"], project, project_env(project))
    assert "Running stage" not in result.stdout, result.stdout


def test_predict_uses_champion_and_adds_columns(project, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame(
        {"ticket": ["a", "b", "c"], "text": ["my card has not arrived yet", "close my account please", "  "]}
    ).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = run(
        [str(BIN / "ticketops"), "predict", "--input", str(src), "--output", str(out)], project, project_env(project)
    )
    assert "ticket-classifier v1" in result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["ticket", "text", "label", "confidence", "needs_review"]
    assert frame.loc[0, "label"] == "card_arrival"
    assert frame["confidence"].between(0, 1).all()
    assert bool(frame.loc[2, "needs_review"]) is True  # an empty ticket goes to a person


def test_weak_experiment_registers_without_moving_champion(project):
    env = project_env(project)
    run([str(BIN / "dvc"), "exp", "run", "-S", "train.sample_fraction=0.05"], project, env)
    client = mlflow_client(project)
    weak = client.get_model_version("ticket-classifier", "2")
    assert weak.tags["gate_passed"] == "false"
    assert "does not beat champion" in weak.tags["gate_reason"]
    assert str(client.get_model_version_by_alias("ticket-classifier", "champion").version) == "1"
    shown = run([str(BIN / "dvc"), "exp", "show", "--json"], project, env).stdout
    assert '"sample_fraction": 0.05' in shown  # the experiment is listed with its parameter
    run(["git", "checkout", "--", "params.yaml", "dvc.lock"], project)
    run([str(BIN / "dvc"), "checkout", "-q"], project, env)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("text,category\nhello,card_arrival\n", "data/feedback/batch-bad.csv: missing column(s) label"),
        (
            "text,label\nwhere is my card,card_arrival\nhelp,no_such_intent\n",
            "data/feedback/batch-bad.csv row 2: unknown label 'no_such_intent'",
        ),
        ("text,label\n   ,card_arrival\n", "data/feedback/batch-bad.csv row 1: empty or whitespace-only text"),
    ],
)
def test_bad_feedback_fails_repro_and_keeps_previous_outputs(project, body, expected):
    dataset = project / "data" / "processed" / "dataset.csv"
    before_data, before_lock = dataset.read_bytes(), (project / "dvc.lock").read_text()
    bad = project / "data" / "feedback" / "batch-bad.csv"
    bad.write_text(body)
    try:
        result = run([str(BIN / "dvc"), "repro"], project, project_env(project), check=False)
    finally:
        bad.unlink()
    assert result.returncode != 0
    assert expected in result.stderr + result.stdout
    assert dataset.read_bytes() == before_data
    assert (project / "dvc.lock").read_text() == before_lock


def test_predict_refuses_a_tampered_artifact(project, tmp_path):
    champion = mlflow_client(project).get_model_version_by_alias("ticket-classifier", "champion")
    model_id = champion.source.removeprefix("models:/")
    head = next(p for p in (project / "mlartifacts").rglob("head.safetensors") if model_id in p.parts)
    original = head.read_bytes()
    head.write_bytes(original[:-4] + b"\x00\x00\x00\x01")
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["where is my card"]}).to_csv(src, index=False)
    try:
        result = run(
            [str(BIN / "ticketops"), "predict", "--input", str(src), "--output", str(tmp_path / "o.csv")],
            project,
            project_env(project),
            check=False,
        )
    finally:
        head.write_bytes(original)
    assert result.returncode == 2
    assert "refusing to load" in result.stderr and "head.safetensors" in result.stderr
    assert not (tmp_path / "o.csv").exists()


def test_dvc_push_and_pull_restore_the_data_version(project, tmp_path):
    env = project_env(project)
    run([str(BIN / "dvc"), "remote", "add", "-f", "-d", "storage", str(tmp_path / "remote")], project, env)
    run([str(BIN / "dvc"), "push"], project, env)
    dataset = project / "data" / "processed" / "dataset.csv"
    expected = dataset.read_bytes()
    dataset.unlink()
    cache = project / ".dvc" / "cache"
    backup = tmp_path / "cache-backup"
    cache.rename(backup)  # as on a fresh clone: nothing local but git
    try:
        run([str(BIN / "dvc"), "pull", "data/processed/dataset.csv"], project, env)
        assert dataset.read_bytes() == expected
    finally:
        if cache.exists():
            shutil.rmtree(cache)
        backup.rename(cache)
