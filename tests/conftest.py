"""Shared fixtures: a tiny labelled dataset that keeps the suite fast and independent of ../shared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_labels() -> list[str]:
    return sorted(pd.read_csv(FIXTURES / "tiny_tickets.csv")["category"].unique())


@pytest.fixture(scope="session")
def tiny_tickets() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "tiny_tickets.csv", dtype=str, keep_default_na=False)
