"""The model card lists the categories an admin added, with their training counts."""

from __future__ import annotations

import pandas as pd

from ticketops.data.catalogue import Catalogue, Category, seed_catalogue
from ticketops.evaluation.model_card import new_categories_table


def test_new_categories_and_their_training_counts_are_listed() -> None:
    seed = seed_catalogue(["card_arrival", "exchange_rate"])
    added = Category(name="virtual_card", description="virtual cards", added_by="ops", added_at="2026-12-01T10:00:00Z")
    catalogue = Catalogue(version=2, categories=[*seed.categories, added])
    train = pd.DataFrame({"label": ["card_arrival", "virtual_card", "virtual_card", "exchange_rate"]})
    table = new_categories_table(catalogue, train)
    assert "| virtual_card | virtual cards | ops | 2026-12-01T10:00:00Z | 2 |" in table
    assert "card_arrival" not in table
    assert new_categories_table(seed, train).startswith("None")
