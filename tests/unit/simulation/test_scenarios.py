"""Traffic scenarios: the right share of the right tickets, reproducible, never a new intent on a normal day."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from ticketops.config import ScenarioParams
from ticketops.simulation.scenarios import SCENARIOS, everyday, noisy_text, scenario_window

PARAMS = ScenarioParams()


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    labels = [*PARAMS.surge_labels, *PARAMS.new_intent_labels, "card_arrival", "change_pin", "exchange_rate"]
    rows = [{"text": f"ticket {i} about {label} please help", "label": label} for label in labels for i in range(60)]
    return pd.DataFrame(rows)


def test_steady_is_the_everyday_mix_only(pool):
    window = scenario_window(pool, "steady", 200, np.random.default_rng(0), PARAMS)
    assert len(window) == 200
    assert not window["injected"].any()
    assert not window["label"].isin(PARAMS.new_intent_labels).any()
    assert window["text"].is_unique  # drawn without replacement when the pool is big enough


@pytest.mark.parametrize(
    ("scenario", "labels"), [("surge", PARAMS.surge_labels), ("new-intent", PARAMS.new_intent_labels)]
)
def test_injected_share_and_intents(pool, scenario, labels):
    window = scenario_window(pool, scenario, 250, np.random.default_rng(1), PARAMS, mixture=0.2)
    injected = window[window["injected"]]
    assert len(injected) == 50
    assert injected["label"].isin(labels).all()
    if scenario == "new-intent":
        assert not window.loc[~window["injected"], "label"].isin(labels).any()


def test_noisy_text_changes_text_but_keeps_labels(pool):
    window = scenario_window(pool, "noisy-text", 200, np.random.default_rng(2), PARAMS, mixture=0.5)
    injected = window[window["injected"]]
    assert len(injected) == 100
    assert not injected["text"].isin(pool["text"]).all()  # damaged texts are not the pool's texts
    assert window.loc[~window["injected"], "text"].isin(pool["text"]).all()
    assert injected["label"].isin(everyday(pool, PARAMS)["label"]).all()


def test_same_seed_same_window(pool):
    a = scenario_window(pool, "surge", 100, np.random.default_rng(7), PARAMS)
    b = scenario_window(pool, "surge", 100, np.random.default_rng(7), PARAMS)
    pd.testing.assert_frame_equal(a, b)


def test_noise_makes_typos_case_and_truncation():
    text = "I would like to know why my card payment was declined at the shop yesterday"
    noisy = {noisy_text(text, random.Random(seed)) for seed in range(40)}
    assert text not in noisy
    assert any(t.isupper() for t in noisy) and any(t == t.lower() for t in noisy)
    assert any(len(t.split()) < len(text.split()) for t in noisy)


def test_unknown_scenario_is_refused(pool):
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_window(pool, "holiday", 10, np.random.default_rng(0), PARAMS)
    assert "steady" in SCENARIOS
