"""The linear head applied block by block gives the stacked matrix's probabilities, refuses a width mismatch,
and knows which labels training never saw."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.helpers.tiny_model import tiny_frame, tiny_labels
from ticketops.config import TrainParams
from ticketops.modeling.linear import LinearHead
from ticketops.modeling.training import train_classifier


@pytest.fixture
def head() -> LinearHead:
    rng = np.random.default_rng(0)
    return LinearHead(rng.normal(size=(5, 40)).astype(np.float32), rng.normal(size=5).astype(np.float32))


def test_blocks_give_the_stacked_probabilities(head):
    rng = np.random.default_rng(1)
    sparse = sp.random(3, 32, density=0.2, format="csr", random_state=2)  # float64, like tf-idf
    dense = rng.normal(size=(3, 8)).astype(np.float32)  # like weighted embeddings
    stacked = sp.hstack([sparse, sp.csr_matrix(dense)], format="csr")
    expected = stacked.toarray() @ head.weight.astype(np.float64).T + head.bias
    np.testing.assert_allclose(head.logits_of_blocks([sparse, dense]), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(head.logits(stacked), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(head.predict_proba_of_blocks([sparse, dense]).sum(axis=1), 1.0)
    assert head.weight_t.flags.c_contiguous and head.weight_t.dtype == np.float64


def test_a_width_mismatch_is_an_error(head):
    with pytest.raises(ValueError, match="39 columns, the head expects 40"):
        head.logits_of_blocks([np.zeros((1, 39))])


def test_a_label_missing_from_training_is_never_predictable():
    frame = tiny_frame()
    labels = tiny_labels()
    held_out = labels[0]
    model = train_classifier(
        TrainParams(model="tfidf", threads=1), labels, frame[frame["label"] != held_out], progress=False
    )
    assert model.predictable_labels() == labels[1:]
    assert model.labels == labels  # one label set for every version; only the predictable ones differ
    assert held_out not in set(model.predict(frame["text"].tolist()))
