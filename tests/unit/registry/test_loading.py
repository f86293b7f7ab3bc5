"""The shared tiny-model helper registers a loadable, verified champion."""

from tests.helpers.tiny_model import register_tiny_model, tiny_registry
from ticketops.registry.loading import open_model


def test_tiny_champion_loads_by_alias(tmp_path, monkeypatch):
    registry = tiny_registry(tmp_path)
    for key, value in registry.env.items():
        monkeypatch.setenv(key, value)
    assert register_tiny_model(registry) == "1"
    with open_model("models:/ticket-classifier@champion") as model:
        assert model.version == "1"
        scored = model.predictor.score(["How do I change my PIN?", "I want to close my account"])
    assert scored.labels == ["change_pin", "terminate_account"]
