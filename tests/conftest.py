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


@pytest.fixture(scope="session", autouse=True)
def cpu_without_bf16():
    """Every test sees a CPU without native bf16, whatever machine runs it.

    On a CPU with AMX or AVX-512 BF16, ``encoder_backend="auto"`` times torch bf16 against ONNX Runtime and keeps
    the faster (modeling/bf16.py), so the encoder a test gets, and its last digits, would depend on the machine CI
    lands on. Tests of that branch say so: they report the flags themselves (tests/unit/modeling/test_onnx_encoder.py).
    Processes that tests start (bentoml serve, dvc repro) read the real CPU.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ticketops.modeling.bf16.cpu_bf16_flags", lambda *_args, **_kwargs: [])
        yield
