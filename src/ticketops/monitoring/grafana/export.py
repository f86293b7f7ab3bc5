"""The dashboards as JSON files: one deterministic rendering, so regenerating gives byte-identical output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from ticketops.monitoring.grafana.business import business_dashboard
from ticketops.monitoring.grafana.operations import operations_dashboard

DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "operations.json": operations_dashboard,
    "business.json": business_dashboard,
}


def render(board: dash.Dashboard) -> str:
    """The dashboard's JSON (Grafana's import format), keys sorted, one trailing newline."""
    return json.dumps(board.build(), cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def stale_files(folder: Path) -> list[str]:
    """The dashboard files in ``folder`` that differ from (or are missing compared with) what the code builds."""
    return [
        name
        for name, text in rendered().items()
        if not (folder / name).is_file() or (folder / name).read_text() != text
    ]


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rendered().items():
        (folder / name).write_text(text)
        paths.append(folder / name)
    return paths
