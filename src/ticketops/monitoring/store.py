"""What the monitor keeps on disk: every window's Evidently snapshot, HTML report and verdict, and the latest verdict.

<state_dir>/windows/<UTC time>/snapshot.json   Evidently snapshot (load with Snapshot.load)
<state_dir>/windows/<UTC time>/report.html     the same, for people
<state_dir>/windows/<UTC time>/verdict.json    the verdict ``ticketops drift --json`` would print
<state_dir>/verdict.json                       the latest verdict (atomic): the retraining trigger reads it
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ticketops.fileio import atomic_write, read_json, write_json
from ticketops.monitoring.signals import DriftVerdict

LATEST = "verdict.json"
WINDOWS = "windows"


def window_name(checked_at: float) -> str:
    """A sortable folder name for a window (UTC, milliseconds keep quick successive checks apart)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(checked_at))
    return f"{stamp}.{int((checked_at % 1) * 1000):03d}Z"


def save_window(state_dir: Path, verdict: DriftVerdict, snapshot: Any | None, keep: int | None = None) -> Path:
    """Write one window's files, then point the latest verdict at it; returns the window's folder.

    With ``keep``, only the newest ``keep`` window folders stay (an HTML report is ~4 MB: Evidently embeds
    its viewer); the Evidently workspace keeps every snapshot for the dashboards.
    """
    folder = state_dir / WINDOWS / window_name(verdict.checked_at)
    folder.mkdir(parents=True, exist_ok=True)
    data = verdict.to_dict()
    if snapshot is not None:
        atomic_write(folder / "snapshot.json", lambda tmp: tmp.write_text(snapshot.dumps()))
        atomic_write(folder / "report.html", lambda tmp: snapshot.save_html(str(tmp)))
        data = {**data, "report": str(folder / "report.html"), "snapshot": str(folder / "snapshot.json")}
    write_json(folder / "verdict.json", data)
    write_json(state_dir / LATEST, data)
    if keep is not None:
        prune_windows(state_dir, keep)
    return folder


def prune_windows(state_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` window folders (names sort by time); returns what was removed."""
    folders = sorted(p for p in (state_dir / WINDOWS).iterdir() if p.is_dir())
    removed = folders[: max(len(folders) - keep, 0)]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def latest_verdict(state_dir: Path) -> DriftVerdict | None:
    """The newest verdict the monitor wrote, or None before its first check."""
    path = state_dir / LATEST
    return DriftVerdict.from_dict(read_json(path)) if path.exists() else None
