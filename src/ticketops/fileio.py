"""Atomic file writes: a stage that fails halfway leaves the previous output whole.

Atomic replacement is for regular files only. A device, pipe or socket (``/dev/null``, a FIFO) is written
through, ``-`` means standard output, and a directory or a symbolic link to a regular file is refused:
renaming over either would destroy something that is not this output.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

STDOUT = "-"


class UnsafeOutput(OSError):
    """The output path names something that an atomic rename would destroy (a directory, a link's target)."""


def _is_stream(path: Path) -> bool:
    """A path that exists and is neither a regular file nor a directory: a device, pipe or socket."""
    return path.exists() and not path.is_file() and not path.is_dir()


def _write_stdout(write: Callable[[Path], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="ticketops-stdout-") as tmp:
        staged = Path(tmp) / "out"
        write(staged)
        with open(staged, "rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    ``-`` goes to standard output and a device or pipe is written in place (nothing to replace); a directory
    or a symbolic link to a regular file raises UnsafeOutput and leaves it untouched.
    """
    if str(path) == STDOUT:
        _write_stdout(write)
        return
    path = Path(path)
    if path.is_symlink():
        if _is_stream(path.resolve()):
            write(path)  # e.g. /dev/stdout -> /proc/self/fd/1
            return
        raise UnsafeOutput(f"{path} is a symbolic link to {path.resolve()}: write to the file itself, not through it")
    if path.is_dir():
        raise UnsafeOutput(f"{path} is a directory: name a file to write")
    if _is_stream(path):
        write(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; the final file gets the usual permissions
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(path: Path | str, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_json(path: Path | str, data: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n"))


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())


def read_csv(path: Path | str) -> pd.DataFrame:
    """CSV with every column as text and empty cells kept as empty strings (never NaN)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)
