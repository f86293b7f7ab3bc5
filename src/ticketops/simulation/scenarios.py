"""Traffic scenarios over real tickets: what production looks like on a normal day and when it drifts.

The simulator, the drift benchmark, the tests and the demo all draw their traffic from these functions, so
"surge" or "noisy text" means the same thing everywhere. Every ticket keeps its true label (agents' feedback)
and an ``injected`` flag saying whether the scenario changed it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ticketops.config import ScenarioParams
from ticketops.evaluation.behaviour import perturb_typo

SCENARIOS = ("steady", "surge", "new-intent", "noisy-text")


@dataclass(frozen=True)
class NoiseSpec:
    """How a noisy channel damages a ticket (a new chat widget, OCR'd e-mails, phones with tiny keyboards)."""

    min_typos: int = 1
    max_typos: int = 3
    case_change_rate: float = 0.5  # all upper or all lower case
    truncate_rate: float = 0.5  # cut to the first 40-70% of its words
    keep_fraction: tuple[float, float] = (0.4, 0.7)


def noisy_text(text: str, rng: random.Random, spec: NoiseSpec = NoiseSpec()) -> str:
    """One ticket as a noisy channel would deliver it: typos, then maybe a case change and truncation."""
    for _ in range(rng.randint(spec.min_typos, spec.max_typos)):
        text = perturb_typo(text, rng)
    if rng.random() < spec.case_change_rate:
        text = text.upper() if rng.random() < 0.5 else text.lower()
    words = text.split()
    if len(words) > 3 and rng.random() < spec.truncate_rate:
        keep = max(2, round(len(words) * rng.uniform(*spec.keep_fraction)))
        text = " ".join(words[:keep])
    return text


def everyday(pool: pd.DataFrame, params: ScenarioParams) -> pd.DataFrame:
    """Tickets of the intents that exist before the launch (the new intents are not part of a normal day)."""
    return pool[~pool["label"].isin(params.new_intent_labels)]


def _draw(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows without replacement when the frame has enough, with replacement otherwise."""
    if n <= 0:
        return frame.iloc[:0]
    if len(frame) == 0:
        raise ValueError("no tickets to draw from")
    rows = rng.choice(len(frame), size=n, replace=n > len(frame))
    return frame.iloc[rows]


def scenario_window(
    pool: pd.DataFrame,
    scenario: str,
    size: int,
    rng: np.random.Generator,
    params: ScenarioParams,
    mixture: float | None = None,
    noise: NoiseSpec = NoiseSpec(),
    injected_pool: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``size`` tickets (text, label, injected) from ``pool``: the everyday mix plus ``mixture`` of the scenario.

    ``steady`` is the everyday mix only; ``surge`` replaces a share by tickets of ``params.surge_labels``;
    ``new-intent`` by tickets of ``params.new_intent_labels``; ``noisy-text`` sends a share through
    :func:`noisy_text`. The order is shuffled so the injected tickets are spread over the window.
    Surge and new-intent tickets come from ``injected_pool`` when given (default: ``pool``).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (choose from {', '.join(SCENARIOS)})")
    share = params.mixture if mixture is None else mixture
    n_injected = 0 if scenario == "steady" else round(size * share)
    base = everyday(pool, params)
    source = pool if injected_pool is None else injected_pool
    if scenario == "surge":
        surge = everyday(source, params)
        injected = _draw(surge[surge["label"].isin(params.surge_labels)], n_injected, rng)
    elif scenario == "new-intent":
        injected = _draw(source[source["label"].isin(params.new_intent_labels)], n_injected, rng)
    else:
        injected = _draw(base, n_injected, rng)
    if scenario == "noisy-text":
        text_rng = random.Random(int(rng.integers(2**32)))
        injected = injected.assign(text=[noisy_text(t, text_rng, noise) for t in injected["text"]])
    steady = _draw(base, size - n_injected, rng)
    window = pd.concat(
        [steady[["text", "label"]].assign(injected=False), injected[["text", "label"]].assign(injected=True)],
        ignore_index=True,
    )
    return window.iloc[rng.permutation(len(window))].reset_index(drop=True)


def missing_labels(pool: pd.DataFrame, labels: Sequence[str]) -> list[str]:
    """Scenario intents with no ticket in the pool (a scenario cannot be drawn without them)."""
    present = set(pool["label"])
    return [label for label in labels if label not in present]
