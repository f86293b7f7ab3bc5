"""The model a replica serves and where it came from: what the runtime, metrics and review reasons read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ticketops.serving.cascade import CascadeStages
from ticketops.serving.scoring import Scorer


@dataclass(frozen=True)
class ServedModel:
    """The model this replica serves and where it came from (registry version, alias, lineage tags)."""

    scorer: Scorer
    uri: str
    version: str
    alias: str
    family: str
    data_md5: str
    labels: frozenset[str]
    stages: CascadeStages | None = None  # a cascade: fast stage in the request path, slow stage batched
    folder: Path | None = None  # the verified package (its labelled reference sample feeds review reasons)
