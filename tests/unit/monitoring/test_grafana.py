"""The Grafana dashboards are generated: the committed JSON is what the code builds, and every panel follows the
shape conventions the every-panel integration test checks against Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ticketops.monitoring.grafana.export import DASHBOARDS, rendered, stale_files, write

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "monitoring" / "grafana"


def test_committed_dashboards_are_what_the_code_generates():
    assert stale_files(GRAFANA) == [], "run python scripts/grafana_dashboards.py"


def test_regenerating_gives_byte_identical_files(tmp_path: Path):
    write(tmp_path)
    first = {name: (tmp_path / name).read_bytes() for name in DASHBOARDS}
    write(tmp_path)
    assert first == {name: (tmp_path / name).read_bytes() for name in DASHBOARDS}
    assert first == {name: text.encode() for name, text in rendered().items()}


def test_a_hand_edit_is_reported_stale(tmp_path: Path):
    write(tmp_path)
    board = json.loads((tmp_path / "business.json").read_text())
    board["panels"][1]["title"] = "edited by hand"
    (tmp_path / "business.json").write_text(json.dumps(board))
    assert stale_files(tmp_path) == ["business.json"]


@pytest.fixture(params=sorted(DASHBOARDS))
def board(request) -> dict:
    return json.loads((GRAFANA / request.param).read_text())


def test_panels_have_unique_titles_and_descriptions(board):
    panels = [p for p in board["panels"] if p["type"] != "row"]
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)) and all(p.get("description") for p in panels)


def test_tables_are_instant_table_queries_with_named_columns(board):
    tables = [p for p in board["panels"] if p["type"] == "table"]
    assert tables
    for panel in tables:
        assert all(t["instant"] and not t["range"] and t["format"] == "table" for t in panel["targets"]), panel["title"]
        organize = next(t for t in panel["transformations"] if t["id"] == "organize")["options"]
        assert organize["indexByName"] and set(organize["includeByName"]) == set(organize["indexByName"])
        assert "Time" not in organize["indexByName"]


def test_time_series_use_range_queries_and_stats_instant_ones(board):
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if panel["type"] == "timeseries":
                assert target["range"] and not target["instant"], panel["title"]
            elif panel["type"] == "stat":
                assert target["instant"], panel["title"]


def test_served_model_version_shows_version_and_data_hash_columns():
    for name in DASHBOARDS:
        board = json.loads((GRAFANA / name).read_text())
        (panel,) = [p for p in board["panels"] if p["title"] == "Served model version"]
        organize = next(t for t in panel["transformations"] if t["id"] == "organize")["options"]
        assert organize["renameByName"]["model_version"] == "Version"
        assert organize["renameByName"]["data_md5"] == "Data hash"


def test_business_dashboard_shows_cost_per_1000_tickets():
    board = json.loads((GRAFANA / "business.json").read_text())
    exprs = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in board["panels"]}
    assert any("ticketops:cpu_seconds_per_1k_tickets:rate5m" in e for e in exprs["CPU-seconds per 1,000 tickets"])
    assert any("ticketops:cost_per_1k_tickets:rate5m" in e for e in exprs["Cost per 1,000 tickets"])
