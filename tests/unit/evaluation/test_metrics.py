"""The review threshold (never splits tied confidences; everything to review when the target is out of reach),
review statistics at a threshold, and the reliability table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ticketops.evaluation.metrics import (
    accuracy_interval,
    calibration_table,
    expected_calibration_error,
    headline_metrics,
    review_stats,
    review_threshold,
)


def arrays(confidence, correct):
    return np.array(confidence, dtype=float), np.array(correct, dtype=bool)


def test_threshold_is_the_lowest_cut_that_reaches_the_target():
    confidence, correct = arrays([0.6, 0.9, 0.7, 0.8], [True, True, False, True])  # unsorted on purpose
    threshold = review_threshold(confidence, correct, 0.9)
    assert threshold == 0.8
    stats = review_stats(confidence, correct, threshold)
    assert stats == {"review_threshold": 0.8, "review_rate": 0.5, "auto_precision": 1.0, "auto_coverage": 0.5}


def test_threshold_keeps_the_largest_prefix_even_past_a_dip_in_precision():
    confidence, correct = arrays([0.9, 0.8, 0.7, 0.6, 0.5], [True, False, True, True, True])
    # kept precision by prefix: 1, .5, .67, .75, .8 -> the whole list reaches .75
    assert review_threshold(confidence, correct, 0.75) == 0.5


def test_threshold_never_splits_tied_confidences():
    confidence, correct = arrays([0.9, 0.8, 0.8, 0.5], [True, True, False, False])
    # Cutting "between" the two 0.8s would claim precision 1.0 at 0.8, but the cut keeps both of them.
    threshold = review_threshold(confidence, correct, 1.0)
    assert threshold == 0.9
    assert review_stats(confidence, correct, threshold)["auto_precision"] == 1.0
    assert review_stats(confidence, correct, 0.8)["auto_precision"] < 1.0


def test_a_tie_at_the_top_is_kept_together_or_not_at_all():
    confidence, correct = arrays([1.0, 1.0, 0.4], [True, False, True])
    threshold = review_threshold(confidence, correct, 0.9)
    assert threshold > 1.0
    assert review_stats(confidence, correct, threshold)["review_rate"] == 1.0


def test_an_unreachable_target_sends_everything_to_review():
    confidence, correct = arrays([1.0, 0.95, 0.7], [False, False, True])
    threshold = review_threshold(confidence, correct, 0.99)
    assert threshold > 1.0  # above any probability, so even confidence 1.0 is reviewed
    stats = review_stats(confidence, correct, threshold)
    assert stats["review_rate"] == 1.0
    assert stats["auto_coverage"] == 0.0
    assert math.isnan(stats["auto_precision"])


def test_a_perfect_model_answers_everything_automatically():
    confidence, correct = arrays([0.9, 0.3, 0.6], [True, True, True])
    threshold = review_threshold(confidence, correct, 0.99)
    assert threshold == 0.3
    assert review_stats(confidence, correct, threshold)["review_rate"] == 0.0


def test_review_stats_of_an_empty_window():
    stats = review_stats(np.array([]), np.array([], dtype=bool), 0.5)
    assert stats["review_rate"] == 0.0 and stats["auto_coverage"] == 0.0
    assert math.isnan(stats["auto_precision"])


def test_calibration_table_bins_edges_and_empty_bins():
    confidence = np.array([0.0, 0.25, 0.26, 0.5, 0.9, 1.0])
    correct = np.array([False, True, False, True, True, False])
    table = calibration_table(confidence, correct, bins=4)
    assert table["bin_lower"].tolist() == [0.0, 0.25, 0.5, 0.75]
    assert table["bin_upper"].tolist() == [0.25, 0.5, 0.75, 1.0]
    # a confidence on an inner edge belongs to the lower bin; 0.0 and 1.0 fall in the outer bins
    assert table["count"].tolist() == [2, 2, 0, 2]
    assert table["count"].sum() == len(confidence)
    assert table.loc[0, "confidence"] == pytest.approx(0.125)
    assert table.loc[0, "accuracy"] == 0.5
    assert table.loc[1, "confidence"] == pytest.approx(0.38)
    assert table.loc[3, "accuracy"] == 0.5
    assert math.isnan(table.loc[2, "confidence"]) and math.isnan(table.loc[2, "accuracy"])


def test_expected_calibration_error_weights_bins_by_count_and_skips_empty_ones():
    table = pd.DataFrame(
        {"confidence": [0.9, 0.5, float("nan")], "accuracy": [0.6, 0.5, float("nan")], "count": [3, 1, 0]}
    )
    assert expected_calibration_error(table) == pytest.approx(0.75 * 0.3)
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    table = calibration_table(confidence, np.array([True, True, True, False]), bins=10)
    assert table["count"].tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 0, 2]
    assert expected_calibration_error(table) == pytest.approx(0.05)  # |1.0 - 0.95| and |0.5 - 0.55|


def test_headline_metrics():
    metrics = headline_metrics(["a", "a", "b", "c"], ["a", "b", "b", "b"])
    assert metrics["accuracy"] == 0.5
    assert metrics["n"] == 4
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)  # F1 of a, b, c


def test_accuracy_interval_is_wilsons_and_narrows_with_the_sample():
    small = accuracy_interval(["a"] * 10, ["a"] * 9 + ["b"])
    assert small == pytest.approx((0.5958, 0.9821), abs=1e-3)  # Wilson 95% for 9 of 10
    large = accuracy_interval(["a"] * 1000, ["a"] * 900 + ["b"] * 100)
    assert large[0] < 0.9 < large[1]
    assert large[1] - large[0] < 0.04 < small[1] - small[0]
    assert accuracy_interval([], []) == (0.0, 1.0)
