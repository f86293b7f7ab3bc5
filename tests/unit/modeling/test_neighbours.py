"""The neighbour vote: the nearest training tickets vote for their labels, survives a save, and mixes with the
head so that labels the head never saw still never win; the temperature scales the mix, not the head."""

from __future__ import annotations

import numpy as np

from ticketops.modeling.classifiers import EncoderClassifier
from ticketops.modeling.linear import UNSEEN_BIAS, LinearHead
from ticketops.modeling.neighbours import NeighbourVote, mix, standardised


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def vote(k: int = 3) -> NeighbourVote:
    rng = np.random.default_rng(0)
    centers = unit(rng.normal(size=(3, 16)))
    labels = np.repeat(np.arange(3), 20)
    vectors = unit(centers[labels] + 0.05 * rng.normal(size=(60, 16)))
    return NeighbourVote(vectors, labels, n_labels=4, k=k, sharpness=10.0)


def test_the_nearest_tickets_vote_for_their_label():
    v = vote()
    queries = unit(v.vectors[[0, 25, 59]] + 0.01)
    assert v.scores(queries).argmax(axis=1).tolist() == [0, 1, 2]
    assert np.allclose(v.scores(queries)[:, 3], np.log(1e-3))  # nobody votes for a label absent from training


def test_blocks_of_queries_give_the_same_scores_as_one_call(monkeypatch):
    v = vote(k=5)
    queries = unit(np.random.default_rng(1).normal(size=(7, 16)))
    whole = v.scores(queries)
    monkeypatch.setattr("ticketops.modeling.neighbours.BLOCK", 2)
    np.testing.assert_allclose(v.scores(queries), whole)


def test_a_saved_vote_loads_the_same(tmp_path):
    v = vote()
    v.save(tmp_path / "n.safetensors")
    again = NeighbourVote.load(tmp_path / "n.safetensors", 4, 3, 10.0)
    np.testing.assert_array_equal(again.vectors, v.vectors)
    np.testing.assert_array_equal(again.labels, v.labels)


def test_the_mix_standardises_over_known_labels_and_keeps_unseen_ones_out():
    known = np.array([True, True, True, False])
    head = np.array([[3.0, 1.0, -1.0, UNSEEN_BIAS]])
    votes = np.array([[-5.0, 0.0, 2.0, np.log(1e-3)]])
    mixed = mix(head, votes, 0.5, known, UNSEEN_BIAS)
    assert mixed[0, 3] == UNSEEN_BIAS
    np.testing.assert_allclose(standardised(head, known)[0, :3].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        mixed[0, :3], 0.5 * standardised(head, known)[0, :3] + 0.5 * standardised(votes, known)[0, :3]
    )


def test_an_encoder_classifier_with_a_vote_mixes_and_scales_by_its_temperature():
    v = vote()
    head = LinearHead(np.zeros((4, 16), dtype=np.float32), np.array([0.0, 0.0, 0.0, UNSEEN_BIAS], dtype=np.float32))
    model = EncoderClassifier(["a", "b", "c", "d"], head, None, 1.0, vote=v, vote_weight=0.3)
    embeddings = unit(v.vectors[[0, 25]] + 0.01)
    plain = model.logits(["x", "y"], embeddings)
    assert plain.argmax(axis=1).tolist() == [0, 1]  # the head is flat: the vote decides
    model.calibrate(2.0)
    np.testing.assert_allclose(model.logits(["x", "y"], embeddings)[:, :3], 2 * plain[:, :3])
    assert model.head is head  # with a vote the temperature is the model's, never folded into the head
