"""Close the loop: a new DVC-tracked feedback batch, then ``dvc repro`` retrains, evaluates and registers;
the promotion gate decides whether the new version becomes @challenger.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ticketops.fileio import read_json
from ticketops.processes import run_streaming
from ticketops.retraining.export import ExportResult, export_feedback


def dvc_track(batch: Path, root: Path, dvc: str) -> None:
    """A new data version: the batch goes into DVC's cache, its .dvc file is what git records."""
    run_streaming([dvc, "add", str(batch.relative_to(root))], root)


def reproduce(root: Path, dvc: str, on_line: Callable[[str], object] | None = None) -> dict:
    """``dvc repro`` (its output line by line to ``on_line``) and what the register stage decided."""
    run_streaming([dvc, "repro"], root, on_line)
    return read_json(root / "models" / "registration.json")


@dataclass(frozen=True)
class RetrainResult:
    export: ExportResult
    registration: dict

    @property
    def challenger(self) -> str | None:
        """The new version when the gate made it @challenger (or @champion when there was none)."""
        return str(self.registration["version"]) if "challenger" in self.registration.get("aliases", []) else None


def retrain(root: Path, log_url: str, state_dir: Path, on_line: Callable[[str], object] | None = None) -> RetrainResult:
    """Export new feedback as a DVC-tracked batch, then ``dvc repro``; the register stage applies the gate."""
    from ticketops.config import load_params
    from ticketops.data.labels import load_labels

    params = load_params(root / "params.yaml")
    dvc = str(Path(sys.executable).parent / "dvc")
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
    return RetrainResult(export, reproduce(root, dvc, on_line))
