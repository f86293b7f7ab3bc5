"""Close the loop: a new DVC-tracked feedback batch, then ``dvc repro`` retrains, evaluates and registers;
the promotion gate decides whether the new version becomes @challenger. With publishing on (the cluster's Job),
an empty workspace is first cloned and its data pulled, and the new data version is pushed afterwards
(retraining/publish.py), so the registered version's data can be restored from the remotes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ticketops.fileio import read_json
from ticketops.processes import run_streaming
from ticketops.retraining.export import ExportResult, export_feedback

if TYPE_CHECKING:
    from ticketops.retraining.publish import DataVersion
    from ticketops.settings import RetrainSettings


def dvc_track(batch: Path, root: Path, dvc: str) -> None:
    """A new data version: the batch goes into DVC's cache, its .dvc file is what git records."""
    run_streaming([dvc, "add", str(batch.relative_to(root))], root)


def reproduce(root: Path, dvc: str, on_line: Callable[[str], object] | None = None) -> dict:
    """``dvc repro`` (its output line by line to ``on_line``) and what the register stage decided."""
    run_streaming([dvc, "repro"], root, on_line)
    return read_json(root / "models" / "registration.json")


def prepare_workspace(
    root: Path, settings: RetrainSettings, dvc: str, on_line: Callable[[str], object] | None = None
) -> None:
    """An empty workspace (the Job's emptyDir) becomes a clone of ``git_url`` at ``git_base`` with its data
    pulled, so the export skips what is already trained on and ``dvc repro`` re-runs only what changes. Data the
    remote lacks is rebuilt by the pipeline (a missing feedback batch fails ``ingest`` with its name)."""
    from ticketops.retraining.publish import git_for

    git = git_for(root, settings)
    if git.is_repository():
        return
    if not settings.git_url:
        raise ValueError(f"{root} is not a git checkout and TICKETOPS_RETRAIN_GIT_URL is not set")
    git.clone(settings.git_url, settings.git_base)
    run_streaming([dvc, "pull", "--allow-missing"], root, on_line)


@dataclass(frozen=True)
class RetrainResult:
    export: ExportResult
    registration: dict
    data_version: DataVersion | None = None  # where the data went, when publishing

    @property
    def gate_passed(self) -> bool:
        return bool(self.registration.get("gate", {}).get("passed", False))

    @property
    def challenger(self) -> str | None:
        """The new version when the gate made it @challenger (or @champion when there was none)."""
        return str(self.registration["version"]) if "challenger" in self.registration.get("aliases", []) else None

    @property
    def rollout_candidate(self) -> str | None:
        """The version a rollout may start with: a new @challenger that passed the gate, nothing else."""
        return self.challenger if self.gate_passed else None


def retrain(
    root: Path,
    log_url: str,
    state_dir: Path,
    on_line: Callable[[str], object] | None = None,
    publish: RetrainSettings | None = None,
) -> RetrainResult:
    """Export new feedback as a DVC-tracked batch, then ``dvc repro``; the register stage applies the gate.
    With ``publish``, the workspace is prepared first and the data version published after."""
    from ticketops.config import load_params
    from ticketops.data.labels import load_labels

    dvc = str(Path(sys.executable).parent / "dvc")
    if publish is not None:
        prepare_workspace(root, publish, dvc, on_line)
    params = load_params(root / "params.yaml")
    export = export_feedback(
        log_url,
        root / params.ingest.feedback_dir,
        root / params.ingest.output,
        root / "data" / "splits",
        set(load_labels(root / params.ingest.labels_path)),
        state_dir / "feedback-export.json",
    )
    if export.path is not None:
        dvc_track(export.path, root, dvc)
    elif publish is not None:
        # Nothing new to learn. In a fresh clone `dvc repro` would re-run only the register stage (its receipt,
        # models/registration.json, is not part of a data version) and register a copy of the same model.
        return RetrainResult(export, {})
    registration = reproduce(root, dvc, on_line)
    if publish is None:
        return RetrainResult(export, registration)
    from ticketops.retraining.publish import publish as publish_data_version
    from ticketops.retraining.publish import record

    data = publish_data_version(root, publish, dvc, export.path, registration, params.ingest.output, on_line)
    record(data, params.registration.model_name)
    return RetrainResult(export, registration, data)
