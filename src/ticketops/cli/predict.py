"""``ticketops predict``: batch prediction from a table to a table (CSV or Parquet) with a registered (or local) model.

Files larger than memory stream through in chunks of rows; within a chunk the tickets are scored in length
order with the service's encoder mini-batching (``TICKETOPS_ENCODER_BATCH_SIZE``) on the service's threads
(``TICKETOPS_THREADS``), and a progress bar shows tickets/s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from ticketops.cli.common import console, fail
from ticketops.modeling.bulk import OUTPUT_COLUMNS
from ticketops.settings import DEFAULT_MODEL_URI


class RateColumn(ProgressColumn):
    """Tickets per second over the last few seconds (rich's own estimate)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- tickets/s" if speed is None else f"{speed:,.0f} tickets/s", style="progress.data.speed")


def progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    )


class Tally:
    """Rows and review flags of the chunks that pass through (for the closing line)."""

    def __init__(self) -> None:
        self.rows = 0
        self.review = 0

    def count(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            self.rows += len(chunk)
            self.review += int(chunk["needs_review"].sum())
            yield chunk


def check_input(path: Path) -> None:
    """Fail (exit 2) unless ``path`` is a readable table with a ``text`` column and no output columns."""
    from ticketops.data.tables import table_columns

    if not path.exists():
        fail(f"input file {path} does not exist")
    try:
        columns = table_columns(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        fail(f"cannot read {path} as a UTF-8 CSV or a Parquet file: {exc}")
    if "text" not in columns:
        fail(f"{path} has no `text` column (found: {', '.join(columns) or 'none'})")
    clashes = [c for c in OUTPUT_COLUMNS if c in columns]
    if clashes:
        fail(f"{path} already has column(s) {', '.join(clashes)}; rename them first")


def predict(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV or Parquet (.parquet/.pq) with a `text` column.")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="CSV or Parquet to write: IN's columns + label, confidence, needs_review."),
    ],
    model_uri: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION or a package folder.")
    ] = DEFAULT_MODEL_URI,
    batch_size: Annotated[int, typer.Option(min=1, help="Tickets per model call (in length order).")] = 256,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows read, scored and written at a time.")] = 50_000,
    threads: Annotated[int | None, typer.Option(min=1, help="Model threads (default: TICKETOPS_THREADS).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar with tickets/s.")] = True,
) -> None:
    """Classify every ticket in a CSV or Parquet file."""
    import pyarrow as pa

    from ticketops.data.tables import iter_table, table_rows, write_table
    from ticketops.modeling.artifacts import ChecksumMismatch
    from ticketops.modeling.bulk import predict_chunks
    from ticketops.modeling.predictor import set_encoder_batch_size
    from ticketops.registry.loading import open_model
    from ticketops.registry.ref import ModelNotFound
    from ticketops.registry.store import GateNotPassed
    from ticketops.settings import ServiceSettings

    check_input(input)
    settings = ServiceSettings()
    tally = Tally()
    try:
        opened = open_model(model_uri, threads=threads or settings.threads, encoder_backend=settings.encoder_backend)
        with opened as model, progress_bar(progress) as bar:
            set_encoder_batch_size(model.predictor, settings.encoder_batch_size)  # as the service does
            task = bar.add_task("classifying", total=table_rows(input))
            scored = predict_chunks(
                model.predictor, iter_table(input, chunk_rows), batch_size, lambda n: bar.advance(task, n)
            )
            write_table(output, tally.count(scored))
    except (ChecksumMismatch, GateNotPassed) as exc:
        fail(f"refusing to load {model_uri}: {exc}")
    except (UnicodeDecodeError, pd.errors.ParserError, pa.ArrowException) as exc:
        fail(f"cannot read {input}: {exc}")
    except (ModelNotFound, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    review_rate = tally.review / tally.rows if tally.rows else 0.0
    console.print(
        f"{tally.rows} tickets → {output} with {model.name or model_uri} v{model.version}; "
        f"needs_review {review_rate:.1%}",
        highlight=False,
        soft_wrap=True,  # a path is never broken across lines, whatever the terminal's width
    )
