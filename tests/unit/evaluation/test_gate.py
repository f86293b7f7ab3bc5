"""The promotion gate: a new version needs no champion or a lead of at least the margin, and always passing
behavioural checks. Scores are binary fractions so "exactly at the margin" is exact in floating point."""

from __future__ import annotations

import dataclasses

import pytest

from ticketops.evaluation.gate import GateDecision, promotion_gate


def test_no_champion_passes_on_any_score_and_says_so():
    decision = promotion_gate("accuracy", 0.25, None, 0.5, behaviour_ok=True)
    assert decision == GateDecision(True, decision.reason, 0.25, None)
    assert "no champion" in decision.reason
    assert "accuracy=0.2500" in decision.reason


def test_beating_the_champion_by_more_than_the_margin_passes():
    decision = promotion_gate("macro_f1", 0.875, 0.75, 0.0625, behaviour_ok=True)
    assert decision.passed is True
    assert (decision.candidate, decision.champion) == (0.875, 0.75)
    assert "macro_f1 0.8750 beats champion 0.7500" in decision.reason


def test_exactly_at_the_margin_passes():
    assert promotion_gate("accuracy", 0.875, 0.75, 0.125, behaviour_ok=True).passed is True


@pytest.mark.parametrize("candidate", [0.8125, 0.75, 0.5])
def test_below_the_margin_fails_and_names_the_score_needed(candidate):
    decision = promotion_gate("accuracy", candidate, 0.75, 0.125, behaviour_ok=True)
    assert decision.passed is False
    assert decision.champion == 0.75
    assert "needs >= 0.8750" in decision.reason
    assert "does not beat champion 0.7500 by the margin 0.1250" in decision.reason


def test_a_zero_margin_lets_a_tie_through_but_not_a_loss():
    assert promotion_gate("accuracy", 0.5, 0.5, 0.0, behaviour_ok=True).passed is True
    assert promotion_gate("accuracy", 0.4375, 0.5, 0.0, behaviour_ok=True).passed is False


@pytest.mark.parametrize("champion", [None, 0.25])
def test_failing_behaviour_checks_win_over_any_score(champion):
    decision = promotion_gate("accuracy", 1.0, champion, 0.0, behaviour_ok=False, behaviour_reason="typo below 0.85")
    assert decision.passed is False
    assert decision.reason == "behavioural checks failed: typo below 0.85"
    assert (decision.candidate, decision.champion) == (1.0, champion)


def test_the_decision_is_immutable():
    decision = promotion_gate("accuracy", 0.5, None, 0.0, behaviour_ok=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.passed = False  # type: ignore[misc]


def test_a_candidate_exactly_at_a_margin_that_floats_cannot_hold_still_passes():
    # 0.2 + 0.1 == 0.30000000000000004: the gate must not refuse 0.3 for a rounding error.
    assert promotion_gate("accuracy", 0.3, 0.2, 0.1, True).passed
    assert not promotion_gate("accuracy", 0.2999, 0.2, 0.1, True).passed
