"""Where a browser test saves its screenshot: the test's own temporary folder, or the README's pictures.

A test run must not modify the working tree (a `make test` left docs/img/*.png changed on every clone);
`make screenshots` sets TICKETOPS_SCREENSHOTS=docs/img to refresh the README's pictures on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """``name`` under $TICKETOPS_SCREENSHOTS (relative to the repository) when set, else under ``tmp_path``."""
    folder = os.environ.get("TICKETOPS_SCREENSHOTS")
    path = (ROOT / folder if folder else tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
