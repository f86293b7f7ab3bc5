"""Behavioural checks in the CheckList style: invariance to perturbations and minimum functionality."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_KEYBOARD_NEIGHBOURS = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqrtyuioposdfghjklkxcvbnmn", strict=True)}


def perturb_case(text: str) -> str:
    return text.upper() if text != text.upper() else text.lower()


def perturb_punctuation(text: str) -> str:
    stripped = re.sub(r"[^\w\s']", "", text).strip()
    return stripped + "!!" if stripped else text


def perturb_typo(text: str, rng: random.Random) -> str:
    """One realistic slip in one word of four letters or more: swap, drop or neighbouring key."""
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "neighbour"))
    if kind == "swap":
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind == "drop":
        word = word[:j] + word[j + 1 :]
    else:
        word = word[:j] + _KEYBOARD_NEIGHBOURS.get(word[j].lower(), word[j]) + word[j + 1 :]
    words[i] = word
    return " ".join(words)


@dataclass(frozen=True)
class InvarianceResult:
    name: str
    agreement: float
    n: int
    examples: list[dict[str, str]]


def invariance_checks(
    texts: Sequence[str], predict: Callable[[Sequence[str]], list[str]], seed: int
) -> list[InvarianceResult]:
    """Share of tickets whose predicted label survives casing, punctuation and typo perturbations."""
    rng = random.Random(seed)
    original = predict(texts)
    perturbations = {
        "casing": [perturb_case(t) for t in texts],
        "punctuation": [perturb_punctuation(t) for t in texts],
        "typo": [perturb_typo(t, rng) for t in texts],
    }
    results = []
    for name, changed in perturbations.items():
        after = predict(changed)
        flips = [
            {"perturbed": c, "before": b, "after": a}
            for c, b, a in zip(changed, original, after, strict=True)
            if a != b
        ]
        agreement = 1.0 - len(flips) / len(texts) if texts else 1.0
        results.append(InvarianceResult(name, agreement, len(texts), flips[:5]))
    return results


def min_functionality(cases: pd.DataFrame, predicted: Sequence[str]) -> dict[str, object]:
    """Minimum-functionality test: hand-written tickets whose label is not in doubt."""
    correct = cases["label"].to_numpy() == np.asarray(predicted)
    failures = [
        {"text": t, "expected": e, "predicted": p}
        for t, e, p, ok in zip(cases["text"], cases["label"], predicted, correct, strict=True)
        if not ok
    ]
    return {"accuracy": float(correct.mean()) if len(correct) else 1.0, "n": len(correct), "failures": failures}
