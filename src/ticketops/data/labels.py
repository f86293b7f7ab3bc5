"""The label set: the 77 Banking77 intents, read from the dataset's categories file."""

from __future__ import annotations

import json
from pathlib import Path


def load_labels(path: Path | str) -> list[str]:
    """Intent names in the file's order; duplicates or an empty list are an error."""
    labels = json.loads(Path(path).read_text())
    if not labels or len(set(labels)) != len(labels) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{path}: expected a non-empty JSON list of distinct label names")
    return labels
