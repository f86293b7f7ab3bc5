"""Close the loop: agent labels from the prediction log become a new DVC-tracked feedback batch, then
``dvc repro`` retrains, evaluates and registers; the promotion gate decides whether it becomes @challenger.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from ticketops.fileio import read_csv, read_json, write_csv, write_json


@dataclass(frozen=True)
class ExportResult:
    path: Path | None
    rows: int
    skipped_known: int  # already in the dataset with the same label
    skipped_conflicts: int  # already in the dataset with another label: left for a person to settle
    until: float


def labelled_rows(log_url: str, since: float) -> pd.DataFrame:
    """Feedback-labelled predictions that arrived after ``since`` (newest label per text wins)."""
    from ticketops.serving.log_schema import predictions
    from ticketops.serving.prediction_log import make_engine

    engine = make_engine(log_url)
    query = (
        select(predictions.c.text, predictions.c.true_label, predictions.c.feedback_at)
        .where(predictions.c.true_label.is_not(None), predictions.c.feedback_at > since)
        .order_by(predictions.c.feedback_at)
    )
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(query).fetchall(), columns=["text", "label", "feedback_at"])
    engine.dispose()
    return frame.drop_duplicates("text", keep="last")


def feedback_batch(labelled: pd.DataFrame, dataset: pd.DataFrame, labels: set[str]) -> tuple[pd.DataFrame, int, int]:
    """New (text, label) rows that ``ingest`` will accept: known label, not already in the dataset."""
    known = dict(zip(dataset["text"], dataset["label"], strict=True))
    labelled = labelled[labelled["label"].isin(labels) & labelled["text"].str.strip().ne("")]
    existing = labelled["text"].map(known)
    same = existing.eq(labelled["label"])
    conflict = existing.notna() & ~same
    batch = labelled[existing.isna()][["text", "label"]].reset_index(drop=True)
    return batch, int(same.sum()), int(conflict.sum())


def export_feedback(
    log_url: str, feedback_dir: Path, dataset_path: Path, labels: set[str], marker: Path
) -> ExportResult:
    """Write ``batch-<UTC time>.csv`` with the labels that arrived since the last export (recorded in ``marker``)."""
    since = float(read_json(marker)["until"]) if marker.exists() else 0.0
    labelled = labelled_rows(log_url, since)
    until = float(labelled["feedback_at"].max()) if len(labelled) else since
    dataset = read_csv(dataset_path) if dataset_path.exists() else pd.DataFrame({"text": [], "label": []})
    batch, same, conflicts = feedback_batch(labelled, dataset, labels)
    path = None
    if len(batch):
        path = Path(feedback_dir) / f"batch-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.csv"
        write_csv(path, batch)
    write_json(marker, {"until": until})
    return ExportResult(path, len(batch), same, conflicts, until)


def run(cmd: list[str], cwd: Path, echo: bool = True) -> str:
    """Run a command, streaming its output (DVC's progress) and returning it; a failure raises."""
    process = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if echo:
            sys.stderr.write(line)
    if process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, cmd, "".join(lines[-50:]))
    return "".join(lines)


def dvc_track(batch: Path, root: Path, dvc: str) -> None:
    """A new data version: the batch goes into DVC's cache, its .dvc file is what git records."""
    run([dvc, "add", str(batch.relative_to(root))], root, echo=False)


def reproduce(root: Path, dvc: str, echo: bool = True) -> dict:
    """``dvc repro`` and what the register stage decided (models/registration.json)."""
    run([dvc, "repro"], root, echo=echo)
    return read_json(root / "models" / "registration.json")


@dataclass(frozen=True)
class RetrainResult:
    export: ExportResult
    registration: dict

    @property
    def challenger(self) -> str | None:
        """The new version when the gate made it @challenger (or @champion when there was none)."""
        return str(self.registration["version"]) if "challenger" in self.registration.get("aliases", []) else None


def retrain(root: Path, log_url: str, state_dir: Path, echo: bool = True) -> RetrainResult:
    """Export new feedback as a DVC-tracked batch, then ``dvc repro``; the register stage applies the gate."""
    from ticketops.config import load_params
    from ticketops.data.labels import load_labels

    params = load_params(root / "params.yaml")
    dvc = str(Path(sys.executable).parent / "dvc")
    export = export_feedback(
        log_url,
        root / params.ingest.feedback_dir,
        root / params.ingest.output,
        set(load_labels(root / params.ingest.labels_path)),
        state_dir / "feedback-export.json",
    )
    if export.path is not None:
        dvc_track(export.path, root, dvc)
    return RetrainResult(export, reproduce(root, dvc, echo=echo))
