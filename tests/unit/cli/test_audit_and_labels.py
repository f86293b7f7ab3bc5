"""``ticketops labels add`` changes the catalogue and is audited; ``ticketops audit`` prints what GET /audit does."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ticketops.audit import AuditTrail
from ticketops.cli import app
from ticketops.data.catalogue import load_catalogue, save_catalogue, seed_catalogue
from ticketops.data.labels import load_labels


def test_labels_add_then_audit_json_and_since(tmp_path, monkeypatch) -> None:
    catalogue = tmp_path / "catalogue.json"
    save_catalogue(catalogue, seed_catalogue(["card_arrival", "exchange_rate"]))
    url = f"sqlite:///{tmp_path / 'log.db'}"
    monkeypatch.setenv("TICKETOPS_CATALOGUE_PATH", str(catalogue))
    monkeypatch.setenv("TICKETOPS_PREDICTION_LOG_URL", url)
    runner = CliRunner()
    AuditTrail(url).record("agent-1", "label.given", "ticket/t1", {"label": "card_arrival"})
    added = runner.invoke(app, ["labels", "add", "virtual_card", "--description", "virtual cards", "--actor", "ops"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"name": "virtual_card", "catalogue_version": 2}
    assert load_labels(catalogue) == ["card_arrival", "exchange_rate", "virtual_card"]
    assert load_catalogue(catalogue).added()[0].added_by == "ops"
    again = runner.invoke(app, ["labels", "add", "Virtual_Card", "--description", "x"])
    assert again.exit_code == 2 and "already" in again.output
    printed = json.loads(runner.invoke(app, ["audit", "--json"]).stdout)["events"]
    assert [(e["actor"], e["action"], e["target"]) for e in printed] == [
        ("ops", "category.added", "category/virtual_card"),
        ("agent-1", "label.given", "ticket/t1"),
    ]
    since = runner.invoke(app, ["audit", "--json", "--since", printed[0]["at"]])
    assert [e["action"] for e in json.loads(since.stdout)["events"]] == ["category.added"]
    assert runner.invoke(app, ["audit", "--since", "noon"]).exit_code == 2
