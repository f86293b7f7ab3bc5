"""Held-out answers: out-of-fold rows are scored by a model that never saw them, an SVM's temperature is fitted
on them without changing any answer, and the train stage's frame covers train + validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers.tiny_model import tiny_frame, tiny_labels
from ticketops.config import TfidfParams, TrainParams
from ticketops.data.split import split_frame
from ticketops.modeling.heldout import fold_rows, out_of_fold_logits
from ticketops.modeling.linear import UNSEEN_BIAS, LinearHead, fit_temperature, softmax
from ticketops.modeling.training import fit_model


def test_every_row_is_scored_once_by_a_model_that_did_not_see_it():
    y = np.repeat(np.arange(4), 10)
    seen: list[tuple[set[int], set[int]]] = []

    def fit_and_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        seen.append((set(fit.tolist()), set(held.tolist())))
        out = np.zeros((len(held), 4))
        out[:, 0] = held  # the row number, to check where each answer lands
        return out

    logits = out_of_fold_logits(fit_and_score, y, 4, folds=5, seed=0, jobs=2)
    assert len(seen) == 5
    assert all(not (fit & held) for fit, held in seen)
    assert sorted(r for _, held in seen for r in held) == list(range(40))
    np.testing.assert_array_equal(logits[:, 0], np.arange(40))


def test_folds_are_stratified_and_tolerate_a_label_rarer_than_the_folds():
    y = np.array([0] * 10 + [1] * 10 + [2] * 2)
    parts = fold_rows(y, folds=5, seed=1)
    assert all(set(y[held]) >= {0, 1} for _, held in parts)
    assert sum(len(held) for _, held in parts) == len(y)


def test_the_fitted_temperature_recovers_the_one_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 6))
    y = np.array([rng.choice(6, p=p) for p in softmax(3.0 * logits)])
    assert abs(fit_temperature(logits, y) - 3.0) < 0.3


def test_rows_whose_label_the_fold_never_saw_do_not_drag_the_temperature():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2000, 4))
    y = np.array([rng.choice(4, p=p) for p in softmax(2.0 * logits)])
    polluted = logits.copy()
    polluted[:20, 3] = UNSEEN_BIAS  # a fold that lacked label 3
    y_polluted = y.copy()
    y_polluted[:20] = 3
    assert abs(fit_temperature(polluted, y_polluted) - fit_temperature(logits[20:], y[20:])) < 0.05


def test_scaling_a_head_keeps_its_answers_and_its_unseen_labels():
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(3, 5)).astype(np.float32)
    bias = np.array([0.5, UNSEEN_BIAS, -0.2], dtype=np.float32)
    head = LinearHead(weight, bias)
    scaled = head.scaled(0.3)
    features = rng.normal(size=(50, 5))
    np.testing.assert_array_equal(head.logits(features).argmax(1), scaled.logits(features).argmax(1))
    np.testing.assert_array_equal(scaled.trained(), [True, False, True])


def test_an_svc_head_fits_and_answers_like_a_linear_model():
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(3, 4)) * 4
    y = np.repeat(np.arange(3), 30)
    x = centers[y] + rng.normal(size=(90, 4))
    head = LinearHead.fit(x, y, 4, C=1.0, max_iter=2000, seed=0, kind="svc")
    assert (head.predict_proba(x).argmax(1) == y).mean() > 0.95
    assert head.trained().tolist() == [True, True, True, False]


def test_out_of_fold_training_fits_on_train_and_validation_and_answers_every_ticket():
    frame = tiny_frame()
    parts = split_frame(frame, seed=3, test_fraction=0.2, validation_fraction=0.2)
    params = TrainParams(
        model="tfidf", heldout="out_of_fold", folds=3, threads=1, tfidf=TfidfParams(char_min_df=1, max_iter=300)
    )
    trained = fit_model(params, tiny_labels(), parts["train"], progress=False, validation=parts["validation"])
    both = pd.concat([parts["train"], parts["validation"]], ignore_index=True)
    assert trained.fit_rows == len(both)
    assert trained.heldout["text"].tolist() == both["text"].tolist()
    assert trained.heldout["label"].tolist() == both["label"].tolist()
    assert trained.heldout["confidence"].between(0, 1).all()
    assert "3 folds over train + validation" in trained.heldout_source
    assert 0 < trained.details["heldout_accuracy"] <= 1


def test_validation_holdout_answers_the_validation_split_with_the_model_fitted_on_train():
    frame = tiny_frame()
    parts = split_frame(frame, seed=3, test_fraction=0.2, validation_fraction=0.2)
    params = TrainParams(model="tfidf", threads=1, tfidf=TfidfParams(char_min_df=1, max_iter=300))
    trained = fit_model(params, tiny_labels(), parts["train"], progress=False, validation=parts["validation"])
    assert trained.fit_rows == len(parts["train"])
    expected = trained.classifier.predict(parts["validation"]["text"].tolist())
    assert trained.heldout["predicted"].tolist() == expected


def test_out_of_fold_refuses_to_fine_tune_once_per_fold():
    with pytest.raises(ValueError, match="fine-tunes the encoder once per fold"):
        fit_model(TrainParams(model="finetune", heldout="out_of_fold"), tiny_labels(), tiny_frame(), progress=False)
