"""The promotion gate: may a new version become @challenger (or @champion when there is none)?"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version may become challenger (or champion when there is none), and why."""

    passed: bool
    reason: str
    candidate: float
    champion: float | None


def promotion_gate(
    metric: str,
    candidate: float,
    champion: float | None,
    margin: float,
    behaviour_ok: bool,
    behaviour_reason: str = "",
) -> GateDecision:
    if not behaviour_ok:
        return GateDecision(False, f"behavioural checks failed: {behaviour_reason}", candidate, champion)
    if champion is None:
        return GateDecision(True, f"no champion yet; {metric}={candidate:.4f}", candidate, None)
    needed = champion + margin
    # At the margin passes: 0.2 + 0.1 is 0.30000000000000004 in floats, and 0.3 meets it.
    if candidate >= needed or math.isclose(candidate, needed, rel_tol=0.0, abs_tol=1e-12):
        return GateDecision(
            True, f"{metric} {candidate:.4f} beats champion {champion:.4f} by >= {margin:.4f}", candidate, champion
        )
    return GateDecision(
        False,
        f"{metric} {candidate:.4f} does not beat champion {champion:.4f} by the margin {margin:.4f} "
        f"(needs >= {needed:.4f})",
        candidate,
        champion,
    )
