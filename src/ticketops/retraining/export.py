"""Agents' labels from the prediction log become a new feedback batch that ``ingest`` accepts."""

from __future__ import annotations

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
    skipped_known: int  # already trained on with the same label
    skipped_conflicts: int  # already in the dataset with another label: left for a person to settle
    skipped_test: int  # test tickets stay test tickets (no leakage into training)
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


def feedback_batch(
    labelled: pd.DataFrame, dataset: pd.DataFrame, trained: pd.DataFrame, test_texts: set[str], labels: set[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """New (text, label) rows that ``ingest`` will accept and that teach the model something.

    Skipped: unknown labels and empty texts; texts the dataset holds with another label (ingest would refuse
    the conflict: a person settles it); test tickets (they must stay unseen); pairs already trained on.
    A held-out seed ticket (in the dataset, never trained on) is kept: its feedback makes it trainable.
    """
    labelled = labelled[labelled["label"].isin(labels) & labelled["text"].str.strip().ne("")]
    known = dict(zip(dataset["text"], dataset["label"], strict=True))
    existing = labelled["text"].map(known)
    conflict = existing.notna() & existing.ne(labelled["label"])
    in_test = labelled["text"].isin(test_texts) & ~conflict
    trained_pairs = pd.MultiIndex.from_frame(trained[["text", "label"]])
    already = pd.MultiIndex.from_frame(labelled[["text", "label"]]).isin(trained_pairs) & ~conflict & ~in_test
    batch = labelled[~conflict & ~in_test & ~already][["text", "label"]].reset_index(drop=True)
    return batch, {"known": int(already.sum()), "conflicts": int(conflict.sum()), "test": int(in_test.sum())}


def export_feedback(
    log_url: str, feedback_dir: Path, dataset_path: Path, splits_dir: Path, labels: set[str], marker: Path
) -> ExportResult:
    """Write ``batch-<UTC time>.csv`` with the labels that arrived since the last export (recorded in ``marker``)."""
    since = float(read_json(marker)["until"]) if marker.exists() else 0.0
    labelled = labelled_rows(log_url, since)
    until = float(labelled["feedback_at"].max()) if len(labelled) else since
    empty = pd.DataFrame({"text": [], "label": []})
    dataset = read_csv(dataset_path) if dataset_path.exists() else empty

    def split(name: str) -> pd.DataFrame:
        path = Path(splits_dir) / f"{name}.csv"
        return read_csv(path) if path.exists() else empty

    trained = pd.concat([split("train"), split("validation")], ignore_index=True)
    batch, skipped = feedback_batch(labelled, dataset, trained, set(split("test")["text"]), labels)
    path = None
    if len(batch):
        path = Path(feedback_dir) / f"batch-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.csv"
        write_csv(path, batch)
    write_json(marker, {"until": until})
    return ExportResult(path, len(batch), skipped["known"], skipped["conflicts"], skipped["test"], until)
