"""``ticketops drift``: compare a CSV of tickets with the champion's reference sample (or another CSV).

CSV layouts understood (``text`` is always required):

- ``text`` [+ ``label`` = the agents' true label]: scored with the model first;
- ``text, predicted, confidence`` [+ ``needs_review``, ``label`` = true label]: like the stored reference.csv;
- ``text, label, confidence, needs_review``: the output of ``ticketops predict`` (``label`` is the prediction).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from ticketops.cli.common import console, fail
from ticketops.settings import DEFAULT_MODEL_URI


def _read(path: Path) -> pd.DataFrame:
    from ticketops.fileio import read_csv

    if not path.exists():
        fail(f"{path} does not exist")
    try:
        frame = read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        fail(f"cannot read {path} as a UTF-8 CSV: {exc}")
    if "text" not in frame.columns:
        fail(f"{path} has no `text` column (found: {', '.join(frame.columns) or 'none'})")
    return frame


def _window(frame: pd.DataFrame, reference, name: str, max_embedded: int | None):
    from ticketops.monitoring.windows import frame_window, has_predictions, scored_window, with_embeddings

    try:
        window = (
            frame_window(frame, reference.version)
            if has_predictions(frame)
            else scored_window(frame, reference.score, reference.version)
        )
    except (KeyError, ValueError) as exc:
        fail(f"{name}: {exc}")
    return with_embeddings(window, reference.embedder, max_embedded)


def _print_table(verdict) -> None:
    from rich.table import Table

    table = Table(title=f"drift detected: {'YES' if verdict.drift_detected else 'no'}", title_justify="left")
    for column in ("signal", "status", "score", "threshold", "method", "current / reference rows"):
        table.add_column(column)
    for result in verdict.signals.values():
        score = "" if result.score is None else f"{result.score:.4g}"
        threshold = "" if result.threshold is None else f"{result.threshold:.4g}"
        table.add_row(
            result.name,
            result.status,
            score,
            threshold,
            result.method,
            f"{result.n_current} / {result.n_reference}",
        )
    console.print(table)


def drift(
    current: Annotated[Path, typer.Option("--current", "-c", help="CSV of current tickets (see the layouts above).")],
    reference: Annotated[
        Path | None,
        typer.Option("--reference", "-r", help="CSV to compare with (default: the model's stored reference.csv)."),
    ] = None,
    model_uri: Annotated[
        str, typer.Option(help="Model whose predictions, embeddings and reference sample are used.")
    ] = DEFAULT_MODEL_URI,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the verdict) on stdout.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also save Evidently's HTML report here.")] = None,
    fail_on_drift: Annotated[bool, typer.Option(help="Exit with status 1 when drift is detected.")] = False,
) -> None:
    """Detect drift between current tickets and the reference: text, embeddings, predictions, confidence, review."""
    from ticketops.config import load_params
    from ticketops.modeling.artifacts import ChecksumMismatch
    from ticketops.monitoring.check import check_drift
    from ticketops.monitoring.reference import load_reference
    from ticketops.registry.ref import ModelNotFound

    current_frame = _read(current)
    reference_frame = _read(reference) if reference else None
    try:
        model = load_reference(model_uri, embed=reference_frame is None)
    except ChecksumMismatch as exc:
        fail(f"refusing to load {model_uri}: {exc}")
    except (ModelNotFound, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    params = load_params().monitor
    ref_window = model.window if reference_frame is None else _window(reference_frame, model, str(reference), None)
    cur_window = _window(current_frame, model, str(current), params.embedding.max_current)
    source = str(reference) if reference else f"{model_uri} (version {model.version}) reference.csv"
    result = check_drift(
        ref_window,
        cur_window,
        params,
        window_info={"source": str(current)},
        reference_info={"source": source, "model_version": model.version},
        tags=["cli"],
    )
    if html is not None and result.snapshot is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        result.snapshot.save_html(str(html))
    verdict = result.verdict
    if as_json:
        typer.echo(json.dumps(verdict.to_dict()))
    else:
        _print_table(verdict)
    if fail_on_drift and verdict.drift_detected:
        raise typer.Exit(1)
