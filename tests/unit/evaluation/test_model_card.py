"""The model card lists the categories an admin added, with their training counts, and names the encoder graph."""

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


def test_the_card_names_the_encoder_graph_and_its_sha256() -> None:
    from ticketops.evaluation.model_card import encoder_section

    record = {
        "backend": "onnxruntime fp32",
        "graph": "onnx/encoder.onnx",
        "graph_sha256": "ab" * 32,
        "tokenizer": "onnx/tokenizer.json",
        "tokenizer_sha256": "cd" * 32,
        "opset": 17,
        "exporter": "torch.onnx TorchScript exporter, torch 2.13.0",
        "max_length": 128,
    }
    section = encoder_section(record)
    assert "`onnx/encoder.onnx`, SHA-256 `" + "ab" * 32 + "`" in section and "cd" * 32 in section
    assert encoder_section(None).startswith("None: tf-idf")
    assert "no ONNX graph" in encoder_section({"backend": "torch fp32 (sentence-transformers)"})
