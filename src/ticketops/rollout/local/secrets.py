"""Small per-stack values kept in the stack's folder: a secret token (0600) and a port chosen once.

Why files: the controller, the splitter and Prometheus are separate processes started at different times
(and the controller may restart); each reads the same value from the stack's folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from ticketops.processes import free_port


def read_or_create_token(path: Path) -> str:
    """The token in ``path``, created (URL-safe, 256 bits, mode 0600) when missing."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token


def read_or_choose_port(path: Path) -> int:
    """The port in ``path``, a free one chosen and written when missing."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError, ValueError):
        return int(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    path.write_text(str(port))
    return port
