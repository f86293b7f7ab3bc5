"""Fine-tuning MiniLM's top layers on a tiny fixture (24 tickets, 1 layer, 2 epochs, 16 tokens): only the
top layers move, the loss falls, and the returned embeddings are what the tuned encoder itself produces."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

from tests.helpers.tiny_model import tiny_frame
from ticketops.modeling.encoder import EMBEDDING_DIM, encode, load_encoder
from ticketops.modeling.finetune import _length_buckets, finetune_top_layers

MAX_LENGTH = 16
SETTINGS = dict(
    batch_size=8, encoder_lr=1e-3, head_lr=1e-2, weight_decay=0.0, warmup_fraction=0.1, max_length=MAX_LENGTH
)


@pytest.fixture(scope="module")
def tickets() -> tuple[list[str], np.ndarray, int]:
    frame = tiny_frame().groupby("label").head(4)
    labels = sorted(frame["label"].unique())
    return frame["text"].tolist(), np.array([labels.index(v) for v in frame["label"]]), len(labels)


@pytest.fixture(scope="module")
def base_encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # One thread: on 2 busy cores, two spinning torch threads make the fine-tune several times slower.
    return load_encoder(threads=1, max_length=MAX_LENGTH)


def state(encoder) -> dict:
    return {name: value.detach().clone() for name, value in encoder[0].auto_model.state_dict().items()}


@pytest.fixture(scope="module")
def tuned(base_encoder, tickets):
    """One fine-tune run shared by the tests below: (encoder, losses, embeddings, state before)."""
    texts, y, n_labels = tickets
    encoder = copy.deepcopy(base_encoder)
    before = state(encoder)
    losses, embeddings = finetune_top_layers(
        encoder, texts, y, n_labels, train_layers=1, epochs=2, seed=0, progress=False, **SETTINGS
    )
    return encoder, losses, embeddings, before


def test_one_loss_per_epoch_and_it_falls(tuned):
    _, losses, _, _ = tuned
    assert len(losses) == 2
    assert all(np.isfinite(losses))
    assert losses[0] > np.log(6) * 0.5  # starts near chance for 6 intents
    assert losses[1] < losses[0] * 0.8


def test_embeddings_are_one_unit_vector_per_text(tuned, tickets):
    _, _, embeddings, _ = tuned
    assert embeddings.shape == (len(tickets[0]), EMBEDDING_DIM)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_only_the_top_layer_changes_and_nothing_stays_trainable(tuned):
    encoder, _, _, before = tuned
    after = state(encoder)
    changed = {name for name in after if not np.array_equal(after[name].numpy(), before[name].numpy())}
    assert changed, "fine-tuning changed no weight"
    assert all(name.startswith("encoder.layer.5.") for name in changed), sorted(changed)[:5]
    assert any(".attention." in name for name in changed) and any(".output.dense." in name for name in changed)
    assert not any(p.requires_grad for p in encoder[0].auto_model.parameters())


def test_returned_embeddings_are_what_the_tuned_encoder_encodes(tuned, tickets, base_encoder):
    encoder, _, embeddings, _ = tuned
    again = encode(encoder, tickets[0])
    np.testing.assert_allclose(embeddings, again, atol=1e-4)
    untouched = encode(base_encoder, tickets[0])  # the fixture's encoder was copied, not tuned in place
    assert np.abs(untouched - embeddings).max() > 1e-2


@pytest.mark.parametrize("train_layers", [0, 7])
def test_train_layers_outside_the_encoder_is_refused_before_any_work(base_encoder, tickets, train_layers):
    texts, y, n_labels = tickets
    before = state(base_encoder)
    with pytest.raises(ValueError, match=r"train_layers must be in 1\.\.6"):
        finetune_top_layers(
            base_encoder, texts, y, n_labels, train_layers=train_layers, epochs=1, seed=0, progress=False, **SETTINGS
        )
    after = state(base_encoder)
    assert all(np.array_equal(after[name].numpy(), before[name].numpy()) for name in before)


def test_length_buckets_cover_every_text_once_in_batches_of_similar_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 60, size=1030)
    batches = _length_buckets(lengths, batch_size=8, rng=np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1030))
    assert all(1 <= len(b) <= 8 for b in batches)
    assert sum(len(b) < 8 for b in batches) <= 3  # one short batch per chunk of 400
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 5  # random batches would spread over ~45 tokens
    again = _length_buckets(lengths, batch_size=8, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
