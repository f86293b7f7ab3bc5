"""CheckList-style checks: the perturbations themselves, invariance agreement, minimum functionality."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from ticketops.evaluation.behaviour import (
    _KEYBOARD_NEIGHBOURS,
    InvarianceResult,
    invariance_checks,
    min_functionality,
    perturb_case,
    perturb_punctuation,
    perturb_typo,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("My card is Lost", "MY CARD IS LOST"), ("my card", "MY CARD"), ("MY CARD", "my card"), ("1234", "1234")],
)
def test_perturb_case_flips_to_upper_unless_already_upper(text, expected):
    assert perturb_case(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where's my card?", "Where's my card!!"),  # apostrophes are part of the word
        ("Hi, please... help: now.", "Hi please help now!!"),
        ("  no punctuation  ", "no punctuation!!"),
        ("?!...", "?!..."),  # nothing left after stripping: unchanged
    ],
)
def test_perturb_punctuation(text, expected):
    assert perturb_punctuation(text) == expected


def test_perturb_typo_damages_one_long_alphabetic_word_and_keeps_its_first_letter():
    text = "my PIN 1234 is wrong please change"
    words = text.split()
    changed_somewhere = 0
    for seed in range(200):
        out = perturb_typo(text, random.Random(seed)).split()
        assert len(out) == len(words)
        diffs = [i for i, (a, b) in enumerate(zip(words, out, strict=True)) if a != b]
        assert len(diffs) <= 1  # one word at most (a swap of equal letters changes nothing)
        for i in diffs:
            assert words[i] in ("wrong", "please", "change")  # never short or non-alphabetic words
            assert out[i][0] == words[i][0]
            assert len(words[i]) - len(out[i]) in (0, 1)
        changed_somewhere += bool(diffs)
    assert changed_somewhere > 150


def test_perturb_typo_makes_all_three_kinds_of_slip():
    kinds = set()
    for seed in range(100):
        out = perturb_typo("refund", random.Random(seed))
        if len(out) == len("refund") - 1:
            kinds.add("drop")
        elif sorted(out) == sorted("refund") and out != "refund":
            kinds.add("swap")
        elif out != "refund":
            kinds.add("neighbour")
    assert kinds == {"drop", "swap", "neighbour"}


def test_perturb_typo_is_reproducible_and_leaves_short_texts_alone():
    assert perturb_typo("cancel my account", random.Random(5)) == perturb_typo("cancel my account", random.Random(5))
    assert perturb_typo("my PIN 1234 ok?", random.Random(0)) == "my PIN 1234 ok?"
    assert perturb_typo("", random.Random(0)) == ""


def test_every_key_has_a_neighbour_other_than_itself():
    assert all(key != neighbour for key, neighbour in _KEYBOARD_NEIGHBOURS.items())


def keyword_model(case_sensitive: bool):
    def predict(texts):
        found = (lambda t: "card" in t) if case_sensitive else (lambda t: "card" in t.lower())
        return ["card_arrival" if found(t) else "other" for t in texts]

    return predict


TEXTS = ["Where is my card?", "card not here yet", "Change my PIN please", "How much is the fee?"]


def test_a_case_insensitive_model_survives_every_perturbation():
    results = invariance_checks(TEXTS, keyword_model(case_sensitive=False), seed=0)
    assert [r.name for r in results] == ["casing", "punctuation", "typo"]
    casing, punctuation, _ = results
    assert casing == InvarianceResult("casing", 1.0, 4, [])
    assert punctuation.agreement == 1.0


def test_a_case_sensitive_model_flips_on_casing_and_the_flips_are_reported():
    casing = invariance_checks(TEXTS, keyword_model(case_sensitive=True), seed=0)[0]
    # "Where is my card?" -> "WHERE IS MY CARD?" and "card not here yet" -> upper: both lose "card"
    assert casing.agreement == 0.5 and casing.n == 4
    assert casing.examples == [
        {"perturbed": "WHERE IS MY CARD?", "before": "card_arrival", "after": "other"},
        {"perturbed": "CARD NOT HERE YET", "before": "card_arrival", "after": "other"},
    ]


def test_invariance_keeps_at_most_five_examples_and_counts_every_flip():
    texts = [f"card number {i}" for i in range(8)] + ["nothing here"] * 2
    casing = invariance_checks(texts, keyword_model(case_sensitive=True), seed=0)[0]
    assert casing.agreement == pytest.approx(0.2)
    assert len(casing.examples) == 5


def test_invariance_of_no_texts_is_perfect():
    assert all(r.agreement == 1.0 and r.n == 0 for r in invariance_checks([], keyword_model(False), seed=0))


def test_min_functionality_scores_and_lists_failures():
    cases = pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x", "y", "x", "z"]})
    result = min_functionality(cases, ["x", "y", "z", "z"])
    assert result["accuracy"] == 0.75 and result["n"] == 4
    assert result["failures"] == [{"text": "c", "expected": "x", "predicted": "z"}]
    empty = min_functionality(cases.iloc[:0], [])
    assert empty == {"accuracy": 1.0, "n": 0, "failures": []}
