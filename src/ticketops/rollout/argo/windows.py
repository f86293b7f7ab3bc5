"""When the analysis service first saw each (revision, phase, step): the start of that measurement's window.

Argo asks the same check again every interval without saying when the step began; the local controller measures
from the step's start (``now - step_started_at``). The service keeps the first time it was asked about a
(revision, phase, step) as that start, in a JSON file in its state directory, so a restarted service keeps
measuring the same window instead of starting a fresh, too-small one (which would look inconclusive again).
Only the newest ``keep`` keys are kept: older rollouts' windows are never asked for again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ticketops.fileio import atomic_write

logger = logging.getLogger(__name__)
FILE_NAME = "windows.json"


class Windows:
    """First-seen times by ``revision/phase/step``, persisted on every new key."""

    def __init__(self, state_dir: Path, keep: int = 512, clock: Callable[[], float] = time.time):
        self.path = Path(state_dir) / FILE_NAME
        self.keep = keep
        self.clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._started = self._load()

    def _load(self) -> dict[str, float]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:  # a damaged file costs the windows, not the service
            logger.error("windows file %s unreadable (%s): starting afresh", self.path, type(exc).__name__)
            return {}
        if not isinstance(raw, dict):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}

    @staticmethod
    def key(revision: str, phase: str, step: str) -> str:
        return f"{revision}/{phase}/{step}"

    def started(self, revision: str, phase: str, step: str) -> float:
        """The window's start: the first time this (revision, phase, step) was asked about (now, if never)."""
        key = self.key(revision, phase, step)
        with self._lock:
            if key in self._started:
                return self._started[key]
            now = self.clock()
            self._started[key] = now
            if len(self._started) > self.keep:
                newest = sorted(self._started.items(), key=lambda item: item[1])[-self.keep :]
                self._started = dict(newest)
            snapshot = json.dumps(self._started, sort_keys=True)
            atomic_write(self.path, lambda tmp: tmp.write_text(snapshot))
            return now

    def window(self, revision: str, phase: str, step: str) -> float:
        """Seconds since the window started (0 on the first look)."""
        return max(self.clock() - self.started(revision, phase, step), 0.0)
