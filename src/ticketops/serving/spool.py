"""A bounded on-disk spool for prediction-log rows the database could not take (down, locked, full).

Why: the service must keep answering while its database is away and lose nothing. Rows go to small
JSON-lines segment files, one per batch, named so that sorting the names is arrival order
(``<time_ns>-<pid>-<seq>-<rows>.jsonl``; the row count in the name makes the backlog a directory listing).
Segments are written to a temporary name and renamed, so a crash leaves whole segments only. Replay reads
the oldest first; a segment is deleted only after its rows are committed, and every row carries a unique
key the database refuses twice, so a replay that is interrupted after the commit inserts nothing twice.
Several processes may share one directory (old and new replica during a restart): whoever replays a
segment first inserts it, the other one's insert is a no-op.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUFFIX = ".jsonl"


class SpoolFull(RuntimeError):
    """The spool holds its maximum number of rows: the caller decides what to count as dropped."""


def _rows_in(name: str) -> int:
    try:
        return int(name.removesuffix(SUFFIX).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


class Spool:
    """Append batches, read the oldest, remove it once stored; at most ``max_rows`` rows on disk."""

    def __init__(self, directory: Path, max_rows: int):
        self.directory = Path(directory)
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._seq = 0
        self._rows = sum(_rows_in(p.name) for p in self._segments())

    @property
    def rows(self) -> int:
        """Rows waiting (this process' count, refreshed from the directory on every ``oldest``)."""
        return self._rows

    def _segments(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write ``rows`` as one new segment (fsynced); SpoolFull when they would exceed ``max_rows``."""
        if not rows:
            return
        with self._lock:
            if self._rows + len(rows) > self.max_rows:
                raise SpoolFull(f"spool holds {self._rows} rows, at most {self.max_rows}")
            self.directory.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}-{len(rows)}{SUFFIX}"
            tmp = self.directory / f".{name}.tmp"
            with tmp.open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.rename(self.directory / name)
            self._rows += len(rows)

    def oldest(self) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
        """Segments oldest first with their rows (a segment another process removed meanwhile is skipped)."""
        segments = self._segments()
        with self._lock:
            self._rows = sum(_rows_in(p.name) for p in segments)
        for path in segments:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            yield path, [json.loads(line) for line in text.splitlines() if line.strip()]

    def remove(self, path: Path) -> None:
        """Forget a segment whose rows are stored."""
        try:
            path.unlink()
        except FileNotFoundError:
            return
        with self._lock:
            self._rows = max(0, self._rows - _rows_in(path.name))
