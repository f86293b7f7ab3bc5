"""Artifact files that run no code on load (safetensors, skops with an explicit trust list, JSON) and their SHA-256."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CHECKSUMS_FILE = "checksums.json"
REFERENCE_FILE = "reference.csv"  # the drift reference sample (validation tickets) every registered package carries
_CHUNK = 1 << 20

# The only types a tf-idf vectorizer artifact may contain; anything else is refused at load.
TRUSTED_SKOPS_TYPES = frozenset(
    {
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.pipeline.FeatureUnion",
        "numpy.float64",
        "numpy.float32",
        "numpy.int64",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.slice",
        "builtins.set",
        "builtins.frozenset",
    }
)


class ChecksumMismatch(RuntimeError):
    """An artifact file is not the file that was registered; loading it is refused."""


class UntrustedArtifact(RuntimeError):
    """A skops file holds a type outside the trust list."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def compute_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (POSIX relative path → hex), the manifest itself excluded."""
    folder = Path(folder)
    return {
        path.relative_to(folder).as_posix(): sha256_file(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != CHECKSUMS_FILE
    }


def manifest_digest(checksums: dict[str, str]) -> str:
    """One SHA-256 over the whole manifest: the artifact's identity, stored as a registry tag."""
    return hashlib.sha256(json.dumps(checksums, sort_keys=True).encode()).hexdigest()


def write_checksums(folder: Path) -> dict[str, str]:
    checksums = compute_checksums(folder)
    (Path(folder) / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2, sort_keys=True) + "\n")
    return checksums


def verify_checksums(folder: Path, expected: dict[str, str]) -> None:
    """Raise ChecksumMismatch naming each missing, extra or altered file."""
    actual = compute_checksums(folder)
    problems = [f"{name}: missing" for name in sorted(expected.keys() - actual.keys())]
    problems += [f"{name}: not in the registered manifest" for name in sorted(actual.keys() - expected.keys())]
    problems += [
        f"{name}: sha256 {actual[name][:12]}… expected {expected[name][:12]}…"
        for name in sorted(expected.keys() & actual.keys())
        if actual[name] != expected[name]
    ]
    if problems:
        raise ChecksumMismatch(f"artifact at {folder} does not match its registered checksums: " + "; ".join(problems))


def verify_package(folder: Path, expected_digest: str | None, what: str) -> dict[str, str]:
    """Check a registered package before loading it: ``what`` (e.g. ``ticket-classifier v3``) must carry a
    registered digest, its manifest must exist and hash to that digest, and every file must match the manifest.

    Raises ChecksumMismatch otherwise; returns the manifest.
    """
    folder = Path(folder)
    if not expected_digest:
        raise ChecksumMismatch(f"{what} has no registered digest: refusing to load it")
    manifest_path = folder / CHECKSUMS_FILE
    if not manifest_path.exists():
        raise ChecksumMismatch(f"{what}: {CHECKSUMS_FILE} is missing from the artifact")
    manifest = json.loads(manifest_path.read_text())
    if manifest_digest(manifest) != expected_digest:
        raise ChecksumMismatch(f"{what}: checksum manifest digest differs from the registered digest")
    verify_checksums(folder, manifest)
    return manifest


def save_skops(obj: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(obj, path)


def load_skops(path: Path) -> Any:
    """Load a skops file after checking each type it holds against TRUSTED_SKOPS_TYPES."""
    import skops.io as sio

    untrusted = set(sio.get_untrusted_types(file=path)) - TRUSTED_SKOPS_TYPES
    if untrusted:
        raise UntrustedArtifact(f"{path} holds types outside the trust list: {sorted(untrusted)}")
    return sio.load(path, trusted=sorted(set(sio.get_untrusted_types(file=path))))
