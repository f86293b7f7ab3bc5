"""A retraining's data version, kept where the next run and a person find it.

After ``dvc repro``: ``dvc push`` the new feedback batch and every pipeline output to the DVC remote, commit
the data version (dvc.lock, the .dvc files, params.yaml, the git-tracked metrics) on a new branch
``retrain/<UTC time>-v<version>`` and push it; then tag the registered version with the branch, commit and
remotes, and record ``data.published`` in the audit trail. A fresh clone of that branch restores the exact
data with ``dvc pull``, so the version's ``data_md5`` names data that exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ticketops.processes import run_streaming
from ticketops.retraining.gitops import Git, redact
from ticketops.settings import RetrainSettings

logger = logging.getLogger(__name__)
TAG_PREFIX = "data_git_"


class PublishError(RuntimeError):
    """The data version could not be published (no remote configured, push refused)."""


@dataclass(frozen=True)
class DataVersion:
    branch: str
    commit: str
    git_remote: str  # without credentials
    dvc_remote: str
    dvc_remote_url: str
    committed: bool  # False: nothing changed, the branch names the commit the run started from
    feedback_batch: str | None
    feedback_md5: str | None
    dataset_md5: str | None
    model_version: str | None
    reason: str

    def tags(self) -> dict[str, str]:
        """The registered version's tags that lead to this data version."""
        return {
            f"{TAG_PREFIX}branch": self.branch,
            f"{TAG_PREFIX}commit": self.commit,
            f"{TAG_PREFIX}remote": self.git_remote,
            "data_dvc_remote": self.dvc_remote_url,
            **({"retrain_reason": self.reason[:500]} if self.reason else {}),
        }


def git_for(root: Path, settings: RetrainSettings) -> Git:
    token = settings.git_token.get_secret_value() if settings.git_token else None
    return Git(root, settings.git_username, token, settings.author_name, settings.author_email)


def dvc_output(root: Path, dvc: str, *args: str) -> str:
    """The last line a dvc query prints (its answer; notices come before it)."""
    lines = run_streaming([dvc, *args], root).strip().splitlines()
    return lines[-1].strip() if lines else ""


def dvc_remote(root: Path, dvc: str, name: str | None) -> tuple[str, str]:
    """(name, url) of the remote to push to: ``name``, else the repository's default remote."""
    import subprocess

    try:
        name = name or dvc_output(root, dvc, "remote", "default")
        url = dvc_output(root, dvc, "config", f"remote.{name}.url")
    except subprocess.CalledProcessError as exc:
        raise PublishError(
            "no DVC remote to publish to: set a default remote in .dvc/config (`dvc remote add -d`) "
            "or TICKETOPS_RETRAIN_DVC_REMOTE"
        ) from exc
    return name, url


def _dvc_yaml(path: Path) -> dict:
    """A dvc.lock or .dvc file with every scalar a string (an all-digit md5 is not a number to YAML 1.1 here)."""
    return (yaml.load(path.read_text(), Loader=yaml.BaseLoader) or {}) if path.exists() else {}


def data_version_paths(root: Path, batch: Path | None) -> list[str]:
    """What git records of a data version: dvc.lock, params.yaml, the folders of every stage output (their
    .gitignore files and the git-tracked metrics and plots) and the feedback batch's .dvc file."""
    folders = {
        str(Path(out["path"]).parent)
        for stage in _dvc_yaml(root / "dvc.lock").get("stages", {}).values()
        for out in stage.get("outs", [])
    }
    paths = {"dvc.lock", "params.yaml", *(f for f in folders if f != ".")}
    if batch is not None:
        relative = batch.relative_to(root)
        paths |= {f"{relative}.dvc", str(relative.parent / ".gitignore")}
    return sorted(p for p in paths if (root / p).exists())


def md5_of(root: Path, path: str) -> str | None:
    """The md5 DVC recorded for ``path``: in its .dvc file, else among dvc.lock's stage outputs."""
    dvc_file = root / f"{path}.dvc"
    if dvc_file.exists():
        return next((o.get("md5") for o in _dvc_yaml(dvc_file).get("outs", [])), None)
    for stage in _dvc_yaml(root / "dvc.lock").get("stages", {}).values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out.get("md5")
    return None


def branch_name(settings: RetrainSettings, version: str | None, at: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at))
    return f"{settings.branch_prefix}{stamp}" + (f"-v{version}" if version else "")


def publish(
    root: Path,
    settings: RetrainSettings,
    dvc: str,
    batch: Path | None,
    registration: dict,
    dataset: str,
    on_line: Callable[[str], object] | None = None,
) -> DataVersion:
    """Push the data, then the commit that names it (in this order: a pushed branch never names missing data)."""
    name, url = dvc_remote(root, dvc, settings.dvc_remote)
    run_streaming([dvc, "push", "--remote", name], root, on_line)
    git = git_for(root, settings)
    target = settings.git_url or git.origin_url()
    version = str(registration["version"]) if "version" in registration else None
    paths = data_version_paths(root, batch)
    committed = bool(git.changed(paths))
    gate = registration.get("gate", {})
    batch_name = str(batch.relative_to(root)) if batch else None
    message = (
        f"Retraining data version{f' for ticket-classifier v{version}' if version else ''}\n\n"
        f"Feedback batch: {batch_name or 'none (no new labels)'}\n"
        f"Gate: {'passed' if gate.get('passed') else 'not passed'}: {gate.get('reason', '')}\n"
        f"Reason: {settings.reason or 'not given'}\n"
        f"DVC remote: {name} ({url}); restore with `git checkout <this commit> && dvc pull`\n"
    )
    branch = branch_name(settings, version)
    commit = git.commit_on_branch(branch, paths, message)
    git.push(target, branch)
    return DataVersion(
        branch=branch,
        commit=commit,
        git_remote=redact(target),
        dvc_remote=name,
        dvc_remote_url=url,
        committed=committed,
        feedback_batch=batch_name,
        feedback_md5=md5_of(root, batch_name) if batch_name else None,
        dataset_md5=md5_of(root, dataset),
        model_version=version,
        reason=settings.reason,
    )


def record(data: DataVersion, model_name: str) -> None:
    """Tag the registered version and append ``data.published`` to the audit trail (its gap is logged, not fatal:
    the data is already pushed)."""
    from ticketops.audit import PIPELINE, AuditTrail

    if data.model_version is not None:
        from ticketops.registry.store import client

        mlflow_client = client()
        for key, value in data.tags().items():
            mlflow_client.set_model_version_tag(model_name, data.model_version, key, value)
    target = f"{model_name}/{data.model_version}" if data.model_version else f"{model_name}/data"
    trail = AuditTrail.from_settings()
    try:
        trail.record(PIPELINE, "data.published", target, asdict(data))
    except Exception as exc:
        logger.error("audit trail: data version %s not recorded (%s)", data.commit[:12], type(exc).__name__)
    finally:
        trail.close()
