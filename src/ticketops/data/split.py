"""Stratified train / validation / test split that keeps the test tickets in place across data versions.

Seed tickets are ranked inside each label by a keyed hash of their text, so the same seed always yields the
same test set; feedback tickets never enter test (they go to train or validation by the same hash). A new
model and the champion are therefore always scored on the same test tickets.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ticketops.data.ingest import SEED

SPLITS = ("train", "validation", "test")


def text_rank(text: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) for a text: the same on every machine and every run."""
    digest = hashlib.sha256(f"{seed}\x1f{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    frame: pd.DataFrame,
    seed: int,
    test_fraction: float,
    validation_fraction: float,
    holdout_labels: tuple[str, ...] = (),
) -> pd.Series:
    """Split name per row; seed rows are stratified by label, the rest go to train/validation.

    Seed rows of ``holdout_labels`` keep their test place; their other rows are marked ``holdout`` (unused)
    until feedback confirms them (``confirmed_by_feedback``): then they train like any labelled ticket.
    """
    ranks = frame["text"].map(lambda text: text_rank(text, seed))
    split = pd.Series("train", index=frame.index, dtype=object)
    is_seed = frame["origin"] == SEED
    for _, group in frame[is_seed].groupby("label", sort=True):
        order = ranks.loc[group.index].sort_values(kind="stable").index
        n_test = round(len(order) * test_fraction)
        n_validation = round(len(order) * validation_fraction)
        split.loc[order[:n_test]] = "test"
        split.loc[order[n_test : n_test + n_validation]] = "validation"
    confirmed = (
        frame["confirmed_by_feedback"].astype(str).str.lower().eq("true")
        if "confirmed_by_feedback" in frame
        else pd.Series(False, index=frame.index)
    )
    split.loc[is_seed & frame["label"].isin(holdout_labels) & (split != "test") & ~confirmed] = "holdout"
    later = ~is_seed
    share = validation_fraction / (1.0 - test_fraction)
    split.loc[later & (ranks < share)] = "validation"
    return split


def split_frame(
    frame: pd.DataFrame,
    seed: int,
    test_fraction: float,
    validation_fraction: float,
    holdout_labels: tuple[str, ...] = (),
) -> dict[str, pd.DataFrame]:
    """The dataset cut into its three parts (held-out rows are dropped), each keeping the input's columns."""
    split = assign_splits(frame, seed, test_fraction, validation_fraction, holdout_labels)
    return {name: frame[split == name].reset_index(drop=True) for name in SPLITS}


def label_counts(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows per label per split, for the stage's summary and the data tests."""
    return pd.DataFrame({name: part["label"].value_counts() for name, part in parts.items()}).fillna(0).astype(np.int64)
