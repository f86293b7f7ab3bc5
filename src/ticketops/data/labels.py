"""The label set for the pipeline: the names in the label catalogue (or a plain JSON list of names)."""

from __future__ import annotations

import json
from pathlib import Path


def load_labels(path: Path | str) -> list[str]:
    """Label names in the file's order; duplicates or an empty list are an error.

    Reads the versioned catalogue (``{"version": N, "categories": [...]}``, see catalogue.py) or a plain list
    of names (Banking77's ``categories.json``, test fixtures).
    """
    document = json.loads(Path(path).read_text())
    if isinstance(document, dict) and "categories" in document:
        from ticketops.data.catalogue import load_catalogue

        return load_catalogue(Path(path)).names()
    labels = document
    if not labels or len(set(labels)) != len(labels) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{path}: expected a non-empty JSON list of distinct label names")
    return labels
