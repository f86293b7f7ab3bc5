"""Tables too big for memory, in chunks: CSV and Parquet read a slice of rows at a time and written as they come.

Batch prediction streams a file through the model; holding a whole multi-gigabyte CSV (or its predictions)
in memory would bound the file by the machine, not by patience. CSV cells stay text (empty cells as empty
strings, as ``fileio.read_csv`` reads them); Parquet columns keep their types. The output is written to a
temporary file beside the target and renamed at the end (``fileio.atomic_write``): a failed run leaves no
half-written file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import pandas as pd

from ticketops.fileio import atomic_write

TableFormat = Literal["csv", "parquet"]
PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path: Path | str) -> TableFormat:
    """Parquet for ``.parquet``/``.pq`` names, CSV for anything else (``-`` and devices included)."""
    return "parquet" if Path(str(path)).suffix.lower() in PARQUET_SUFFIXES else "csv"


def table_columns(path: Path) -> list[str]:
    """The column names, read from the header (CSV) or the schema (Parquet) without reading rows."""
    if table_format(path) == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    return list(pd.read_csv(path, dtype=str, keep_default_na=False, nrows=0).columns)


def table_rows(path: Path) -> int | None:
    """How many rows, when the file says so without a scan (Parquet metadata); None for CSV."""
    if table_format(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def iter_table(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The table in order, ``chunk_rows`` rows at a time (an empty table gives one empty frame, with columns)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if table_format(path) == "parquet":
        yield from _iter_parquet(path, chunk_rows)
        return
    empty = True
    with pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_rows) as reader:
        for chunk in reader:
            empty = False
            yield chunk.reset_index(drop=True)
    if empty:
        yield pd.DataFrame(columns=table_columns(path), dtype=str)


def _iter_parquet(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    empty = True
    for batch in handle.iter_batches(batch_size=chunk_rows):
        empty = False
        yield batch.to_pandas()
    if empty:
        yield handle.schema_arrow.empty_table().to_pandas()


def write_table(path: Path | str, chunks: Iterable[pd.DataFrame], fmt: TableFormat | None = None) -> int:
    """Write ``chunks`` (same columns each) as one table at ``path``, atomically; returns the rows written."""
    fmt = fmt or table_format(path)
    written = 0

    def write_csv_chunks(tmp: Path) -> None:
        nonlocal written
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            for i, chunk in enumerate(chunks):
                chunk.to_csv(handle, index=False, header=i == 0)
                written += len(chunk)

    def write_parquet_chunks(tmp: Path) -> None:
        nonlocal written
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for chunk in chunks:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(str(tmp), table.schema)
                writer.write_table(table.cast(writer.schema))
                written += len(chunk)
        finally:
            if writer is not None:
                writer.close()

    atomic_write(path, write_parquet_chunks if fmt == "parquet" else write_csv_chunks)
    return written
