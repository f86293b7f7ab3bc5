"""A real (small) model, its reference sample embedded with MiniLM, and windows scored by it: built once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers.drift_model import DriftModel, shared_drift_model, shared_reference
from ticketops.config import load_params
from ticketops.monitoring.reference import Reference
from ticketops.monitoring.windows import Window, scored_window, with_embeddings
from ticketops.simulation.scenarios import scenario_window


@pytest.fixture(scope="session")
def drift_model() -> DriftModel:
    return shared_drift_model()


@pytest.fixture(scope="session")
def reference(drift_model) -> Reference:
    return shared_reference()


@pytest.fixture(scope="session")
def monitor_params():
    return load_params().monitor


def traffic(
    drift_model: DriftModel, scenario: str, size: int, seed: int, mixture: float = 0.3, feedback: float = 0.5
) -> pd.DataFrame:
    """Scenario tickets with agents' labels on a ``feedback`` share (empty label elsewhere)."""
    rng = np.random.default_rng(seed)
    frame = scenario_window(drift_model.pool, scenario, size, rng, load_params().scenarios, mixture=mixture)
    return frame.assign(label=np.where(rng.random(len(frame)) < feedback, frame["label"], ""))


def scored(reference: Reference, frame: pd.DataFrame) -> Window:
    return with_embeddings(scored_window(frame, reference.score, reference.version), reference.embedder)
