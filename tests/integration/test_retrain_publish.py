"""The retrain Job keeps its data: `ticketops retrain --publish` in an EMPTY workspace (the Job's emptyDir) clones the
repository, exports the agents' labels as a feedback batch, runs the real `dvc repro` on the tiny fixture, pushes
the data to the DVC remote and the data version to a retrain/ branch of the git remote, and records both on the
registered version and in the audit trail. A fresh `git clone` of that branch then restores the exact feedback
batch and dataset with `dvc pull`: the registered version's data_md5 names data that exists.

Both remotes are local (a bare git repository and a DVC remote directory in tmp_path). One `dvc repro` of the tiny
project: 60-110 s on 2 cores shared with other work (the embed stage loads MiniLM), the rest about 20 s.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert

from tests.integration.pipeline_project import BIN, REPO, make_tiny_project, project_env, run

pytestmark = pytest.mark.integration

REASON = "alert TicketDriftDetected"
FEEDBACK = [  # new tickets an agent labelled (none of them in the tiny seed)
    ("my replacement card still has not shown up after ten days", "card_arrival"),
    ("someone took my wallet with the card inside", "lost_or_stolen_card"),
    ("how do I set a new pin for my debit card", "change_pin"),
    ("please shut down my account for good", "terminate_account"),
    ("what rate do you use to convert dollars to euros", "exchange_rate"),
    ("I returned the item, where is my money back", "request_refund"),
]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_prediction_log(url: str) -> None:
    from ticketops.serving.log_schema import metadata, predictions
    from ticketops.serving.prediction_log import make_engine

    engine = make_engine(url)
    metadata.create_all(engine)
    rows = [
        {
            "ticket_id": f"t{i}",
            "text": text,
            "label": "card_arrival",
            "confidence": 0.4,
            "needs_review": True,
            "model_version": "1",
            "stage": "single",
            "latency_ms": 3.0,
            "created_at": 100.0 + i,
            "true_label": label,
            "feedback_at": 200.0 + i,
        }
        for i, (text, label) in enumerate(FEEDBACK)
    ]
    with engine.begin() as connection:
        connection.execute(insert(predictions), rows)
    engine.dispose()


@pytest.fixture(scope="module")
def retrained(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("retrain-publish")
    origin, dvc_remote = base / "origin.git", base / "dvc-remote"
    project = make_tiny_project(base / "upstream")
    shutil.copy2(REPO / ".gitignore", project / ".gitignore")  # the repository's ignore rules
    run([str(BIN / "dvc"), "remote", "add", "-d", "storage", str(dvc_remote)], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "ignore rules and the DVC remote"], project)
    run(["git", "init", "-q", "--bare", str(origin)], base)
    run(["git", "push", "-q", str(origin), "HEAD:refs/heads/main"], project)

    workspace = base / "workspace"  # empty, as the Job's emptyDir
    workspace.mkdir()
    log_url = f"sqlite:///{base / 'predictions.db'}"
    write_prediction_log(log_url)
    env = project_env(workspace) | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}",  # the registry is a server on the cluster
        "TICKETOPS_ARTIFACT_ROOT": str(base / "mlartifacts"),
        "TICKETOPS_PREDICTION_LOG_URL": log_url,
        "TICKETOPS_RETRAIN_PUBLISH": "true",
        "TICKETOPS_RETRAIN_GIT_URL": str(origin),
        "TICKETOPS_RETRAIN_GIT_BASE": "main",
        "TICKETOPS_RETRAIN_REASON": REASON,
    }
    result = run([str(BIN / "ticketops"), "retrain", "--json"], workspace, env)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {"base": base, "origin": origin, "workspace": workspace, "env": env, "summary": summary}


def test_the_job_publishes_a_branch_with_the_new_feedback_batch(retrained):
    summary, data = retrained["summary"], retrained["summary"]["data_version"]
    assert summary["feedback_rows"] == len(FEEDBACK)
    assert summary["registration"]["version"] == 1 and data["model_version"] == "1"
    assert data["branch"].startswith("retrain/") and data["branch"].endswith("-v1")
    assert data["committed"] is True and data["reason"] == REASON
    assert data["feedback_batch"] == summary["feedback_batch"]
    heads = run(["git", "ls-remote", "--heads", str(retrained["origin"])], retrained["base"]).stdout
    assert f"{data['commit']}\trefs/heads/{data['branch']}" in heads
    shown = run(["git", "show", "--stat", "--format=%an%n%B", data["commit"]], retrained["workspace"]).stdout
    assert "ticketops-retrain" in shown and f"Reason: {REASON}" in shown
    assert f"{data['feedback_batch']}.dvc" in shown and "dvc.lock" in shown
    assert "dataset.csv |" not in shown and ".csv |" not in shown.replace("plots/", "")  # data is in DVC, not git


def test_a_fresh_clone_of_the_branch_restores_the_exact_data_with_dvc_pull(retrained, tmp_path):
    data = retrained["summary"]["data_version"]
    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", "--branch", data["branch"], str(retrained["origin"]), str(fresh)], tmp_path)
    batch = fresh / data["feedback_batch"]
    assert not batch.exists()  # git holds only its .dvc file
    run([str(BIN / "dvc"), "pull"], fresh, project_env(fresh))
    assert md5(batch) == data["feedback_md5"] == md5(retrained["workspace"] / data["feedback_batch"])
    dataset = fresh / "data" / "processed" / "dataset.csv"
    assert md5(dataset) == data["dataset_md5"]
    lock = yaml.safe_load((fresh / "dvc.lock").read_text())
    ingest_out = next(o for o in lock["stages"]["ingest"]["outs"] if o["path"] == "data/processed/dataset.csv")
    assert ingest_out["md5"] == data["dataset_md5"]
    assert any(FEEDBACK[0][0] in line for line in dataset.read_text().splitlines())
    status = run([str(BIN / "dvc"), "status", "--json"], fresh, project_env(fresh)).stdout
    # Every output of the data version came back. Only the register stage's receipt is not in it: the repository
    # ignores models/registration.json, the registry (which the version's tags point back here from) holds it.
    assert json.loads(status) == {"register": [{"changed outs": {"models/registration.json": "deleted"}}]}


def test_the_registered_version_and_the_audit_trail_name_the_data_version(retrained):
    from mlflow import MlflowClient

    from ticketops.audit import AuditTrail

    data, env = retrained["summary"]["data_version"], retrained["env"]
    uri = env["MLFLOW_TRACKING_URI"]
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("ticket-classifier", "1")
    assert version.tags["data_md5"] == data["dataset_md5"]  # the lineage tag now names restorable data
    assert version.tags["data_git_branch"] == data["branch"]
    assert version.tags["data_git_commit"] == data["commit"]
    assert version.tags["data_git_remote"] == str(retrained["origin"])
    assert version.tags["data_dvc_remote"] == str(retrained["base"] / "dvc-remote")
    assert version.tags["retrain_reason"] == REASON
    trail = AuditTrail(env["TICKETOPS_PREDICTION_LOG_URL"])
    try:
        (event,) = [e for e in trail.events(limit=0) if e.action == "data.published"]
    finally:
        trail.close()
    assert event.actor == "pipeline" and event.target == "ticket-classifier/1"
    assert event.details["branch"] == data["branch"] and event.details["commit"] == data["commit"]
    assert event.details["feedback_md5"] == data["feedback_md5"]


def test_the_next_run_from_that_branch_finds_the_data_and_learns_nothing_twice(retrained):
    """A Job cloned at the published branch (once a person merged it, or TICKETOPS_RETRAIN_GIT_BASE names it) pulls
    that data version: every label it exports again is already trained on, so it registers nothing new."""
    from mlflow import MlflowClient

    data = retrained["summary"]["data_version"]
    workspace = retrained["base"] / "next-workspace"
    workspace.mkdir()
    env = retrained["env"] | project_env(workspace) | {"TICKETOPS_RETRAIN_GIT_BASE": data["branch"]}
    for key in ("MLFLOW_TRACKING_URI", "TICKETOPS_ARTIFACT_ROOT"):
        env[key] = retrained["env"][key]
    result = run([str(BIN / "ticketops"), "retrain", "--json"], workspace, env)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["feedback_rows"] == 0 and summary["skipped_known"] == len(FEEDBACK)
    assert summary["registration"] == {} and summary["data_version"] is None
    assert md5(workspace / data["feedback_batch"]) == data["feedback_md5"]  # dvc pull restored it
    uri = env["MLFLOW_TRACKING_URI"]
    versions = MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions("name='ticket-classifier'")
    assert [str(v.version) for v in versions] == ["1"]
