"""The label catalogue: every category an agent may give a ticket, as a versioned file in ``data/``.

It starts as Banking77's 77 intents and grows when an admin adds a category (``ticketops labels add`` or
``POST /labels``). The file is a dependency of the DVC pipeline, so a new category is a new data version;
feedback may carry any catalogue label, including one the serving model has never seen, and the next
training learns it. Writes are atomic (temp file + rename) under a lock file, so two admins adding at
once both land and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"  # new categories; the seed keeps Banking77's names as they are
DEFAULT_PATH = Path("data/labels/catalogue.json")


class CatalogueError(ValueError):
    """The catalogue file is unreadable or a change to it is not allowed."""


class CategoryExists(CatalogueError):
    """The category is in the catalogue already."""


class Category(BaseModel):
    """One label agents may use; ``added_by``/``added_at`` are empty for the seed intents."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")
    description: str = Field("", max_length=500)
    added_by: str = ""
    added_at: str = ""  # ISO 8601, UTC


class Catalogue(BaseModel):
    """The file's document: a version that grows by one with every change, and the categories in order."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, ge=1)
    categories: list[Category] = Field(min_length=1)

    def names(self) -> list[str]:
        return [c.name for c in self.categories]

    def added(self) -> list[Category]:
        """Categories an admin added (not from the seed)."""
        return [c for c in self.categories if c.added_by]


def seed_catalogue(names: Sequence[str]) -> Catalogue:
    """Version 1 from a list of intent names (descriptions spelled out from the names)."""
    return Catalogue(categories=[Category(name=n, description=n.replace("_", " ")) for n in names])


def load_catalogue(path: Path) -> Catalogue:
    """The catalogue at ``path``; CatalogueError when missing or invalid (names duplicated included)."""
    try:
        catalogue = Catalogue.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the label catalogue ({exc.strerror})") from exc
    except ValueError as exc:
        raise CatalogueError(f"{path}: not a valid label catalogue ({exc})") from exc
    names = catalogue.names()
    if len(set(names)) != len(names):
        raise CatalogueError(f"{path}: category names must be distinct")
    return catalogue


def is_catalogue(path: Path | str) -> bool:
    """Whether ``path`` holds a catalogue document (not a plain list of names, as test fixtures use)."""
    import json

    return isinstance(json.loads(Path(path).read_text()), dict)


def save_catalogue(path: Path, catalogue: Catalogue) -> None:
    """Replace the file atomically (readers see the old or the new document, never a mix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(catalogue.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = Path(path).with_name(f".{Path(path).name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def add_category(path: Path, name: str, description: str, actor: str, now: float | None = None) -> Catalogue:
    """Append a category and bump the version; CategoryExists when the name is taken (any letter case)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise CatalogueError(f"category name {name!r}: letters, digits and _ only, starting with a letter, at most 64")
    category = Category(
        name=name,
        description=description,
        added_by=actor,
        added_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now)),
    )
    with _locked(path):
        catalogue = load_catalogue(path)
        if name.lower() in {n.lower() for n in catalogue.names()}:
            raise CategoryExists(f"category {name!r} is already in the catalogue (version {catalogue.version})")
        updated = Catalogue(version=catalogue.version + 1, categories=[*catalogue.categories, category])
        save_catalogue(path, updated)
    return updated


class CatalogueCache:
    """The catalogue a long-running service checks labels against, re-read when the file changes."""

    def __init__(self, path: Path, fallback: Sequence[str] = ()):
        self.path = Path(path)
        self.fallback = list(fallback)
        self._mtime: float | None = None
        self._catalogue: Catalogue | None = None

    def get(self) -> Catalogue | None:
        """The current catalogue (None when there is no file: then ``names`` falls back to the model's labels)."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self._catalogue
        if mtime != self._mtime:
            self._catalogue, self._mtime = load_catalogue(self.path), mtime
        return self._catalogue

    def names(self) -> set[str]:
        catalogue = self.get()
        return set(catalogue.names()) if catalogue is not None else set(self.fallback)
