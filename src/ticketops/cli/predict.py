"""``ticketops predict``: batch prediction from CSV to CSV with a registered (or local) model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from ticketops.cli.common import console, fail
from ticketops.settings import DEFAULT_MODEL_URI

OUTPUT_COLUMNS = ("label", "confidence", "needs_review")


def predict_frame(predictor, frame: pd.DataFrame, batch_size: int, progress: bool = True) -> pd.DataFrame:
    """IN's columns plus label, confidence, needs_review; empty texts go to review with no label."""
    from rich.progress import Progress

    texts = frame["text"].fillna("").astype(str)
    has_text = texts.str.strip().ne("").to_numpy()
    labels = np.full(len(frame), "", dtype=object)
    confidence = np.zeros(len(frame))
    review = np.ones(len(frame), dtype=bool)
    rows = np.flatnonzero(has_text)
    with Progress(console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("classifying", total=len(rows))
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            scored = predictor.score(texts.iloc[batch].tolist())
            labels[batch], confidence[batch], review[batch] = scored.labels, scored.confidence, scored.needs_review
            bar.advance(task, len(batch))
    return frame.assign(label=labels, confidence=confidence.round(6), needs_review=review)


def predict(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV with a `text` column.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV to write: IN's columns + label, confidence, needs_review.")
    ],
    model_uri: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION or a package folder.")
    ] = DEFAULT_MODEL_URI,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
) -> None:
    """Classify every ticket in a CSV file."""
    from ticketops.fileio import read_csv, write_csv
    from ticketops.modeling.artifacts import ChecksumMismatch
    from ticketops.registry.loading import open_model
    from ticketops.registry.ref import ModelNotFound

    if not input.exists():
        fail(f"input file {input} does not exist")
    try:
        frame = read_csv(input)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        fail(f"cannot read {input} as a UTF-8 CSV: {exc}")
    if "text" not in frame.columns:
        fail(f"{input} has no `text` column (found: {', '.join(frame.columns) or 'none'})")
    clashes = [c for c in OUTPUT_COLUMNS if c in frame.columns]
    if clashes:
        fail(f"{input} already has column(s) {', '.join(clashes)}; rename them first")
    try:
        with open_model(model_uri) as model:
            result = predict_frame(model.predictor, frame, batch_size)
    except ChecksumMismatch as exc:
        fail(f"refusing to load {model_uri}: {exc}")
    except (ModelNotFound, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    write_csv(output, result)
    review_rate = float(result["needs_review"].mean()) if len(result) else 0.0
    console.print(
        f"{len(result)} tickets → {output} with {model.name or model_uri} v{model.version}; "
        f"needs_review {review_rate:.1%}",
        highlight=False,
    )
