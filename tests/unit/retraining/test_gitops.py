"""git for the data version, on real git: the token reaches git only through the credential helper, errors carry
no credentials, a branch is made and pushed even when nothing changed, and only the data version is committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ticketops.retraining.gitops import Git, GitError, redact
from ticketops.retraining.publish import branch_name, data_version_paths, md5_of
from ticketops.settings import RetrainSettings


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    (root / "params.yaml").write_text("a: 1\n")
    (root / "README.md").write_text("x\n")
    git("add", "-A", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init", cwd=root)
    return root


def test_redact_removes_credentials_from_urls():
    assert redact("https://bot:s3cret@git.example.com/a/b.git") == "https://git.example.com/a/b.git"
    assert redact("https://git.example.com/a/b.git") == "https://git.example.com/a/b.git"
    assert redact("/srv/git/origin.git") == "/srv/git/origin.git"


def test_the_token_reaches_git_through_the_credential_helper_only(tmp_path):
    ask = "protocol=https\nhost=git.example.com\n\n"
    answer = Git(tmp_path, username="bot", token="s3cret-token").run("credential", "fill", stdin=ask)
    assert "username=bot" in answer.splitlines() and "password=s3cret-token" in answer.splitlines()
    with pytest.raises(GitError):  # no token: no helper, and git may not prompt
        Git(tmp_path).run("credential", "fill", stdin=ask)


def test_a_failing_git_command_names_no_credentials(tmp_path):
    target = tmp_path / "empty"
    with pytest.raises(GitError) as failure:
        Git(target).clone("https://bot:s3cret@127.0.0.1:9/nothing.git", "main")
    assert "s3cret" not in str(failure.value) and "git clone failed" in str(failure.value)


def test_clone_refuses_a_non_empty_workspace(tmp_path, repo):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(GitError, match="neither a git checkout nor empty"):
        Git(busy).clone(str(repo), "main")


def test_a_branch_commits_only_the_data_version_and_is_pushed(tmp_path, repo):
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    (repo / "params.yaml").write_text("a: 2\n")
    (repo / "scratch.txt").write_text("not data\n")
    handle = Git(repo, author_name="ticketops-retrain", author_email="r@e")
    commit = handle.commit_on_branch("retrain/one", ["params.yaml"], "data version")
    handle.push(str(origin), "retrain/one")
    assert git("ls-remote", str(origin), "refs/heads/retrain/one", cwd=tmp_path).split()[0] == commit
    assert git("show", "--name-only", "--format=%an", commit, cwd=repo).splitlines() == [
        "ticketops-retrain",
        "",
        "params.yaml",
    ]
    assert "scratch.txt" in git("status", "--porcelain", cwd=repo)  # left alone


def test_nothing_changed_still_names_a_pushed_branch(tmp_path, repo):
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    head = git("rev-parse", "HEAD", cwd=repo)
    handle = Git(repo)
    assert handle.commit_on_branch("retrain/two", ["params.yaml"], "unchanged") == head
    handle.push(str(origin), "retrain/two")
    assert git("ls-remote", str(origin), "refs/heads/retrain/two", cwd=tmp_path).split()[0] == head


def test_the_data_version_is_dvc_lock_params_output_folders_and_the_batch(tmp_path):
    root = tmp_path
    (root / "data" / "processed").mkdir(parents=True)
    (root / "data" / "feedback").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "params.yaml").write_text("a: 1\n")
    (root / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  ingest:\n    outs:\n    - path: data/processed/dataset.csv\n      md5: abc\n"
        "  register:\n    outs:\n    - path: models/registration.json\n      md5: def\n"
    )
    batch = root / "data" / "feedback" / "batch-1.csv"
    (root / "data" / "feedback" / "batch-1.csv.dvc").write_text("outs:\n- md5: 0123\n  path: batch-1.csv\n")
    (root / "data" / "feedback" / ".gitignore").write_text("/batch-1.csv\n")
    assert data_version_paths(root, batch) == [
        "data/feedback/.gitignore",
        "data/feedback/batch-1.csv.dvc",
        "data/processed",
        "dvc.lock",
        "models",
        "params.yaml",
    ]
    assert md5_of(root, "data/feedback/batch-1.csv") == "0123"
    assert md5_of(root, "data/processed/dataset.csv") == "abc"
    assert md5_of(root, "data/nothing.csv") is None


def test_branch_names_sort_by_time_and_name_the_version():
    settings = RetrainSettings(branch_prefix="retrain/")
    assert branch_name(settings, "7", at=1_800_000_000) == "retrain/20270115T080000Z-v7"
    assert branch_name(settings, None, at=1_800_000_000) == "retrain/20270115T080000Z"
