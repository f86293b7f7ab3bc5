"""What one drift check says: a result per signal and the verdict over all of them.

The same JSON shape is printed by ``ticketops drift --json``, written by ``ticketops monitor`` as its latest
verdict (read by the retraining trigger when Prometheus is not running) and exported as gauges.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SIGNALS = ("text", "embedding", "prediction", "confidence", "review_rate", "live_accuracy")
CASCADE_SIGNALS = ("slow_share",)  # judged only when the monitored model is a cascade
DRIFT, OK, NOT_ENOUGH_DATA = "drift", "ok", "not_enough_data"
Status = Literal["drift", "ok", "not_enough_data"]


@dataclass(frozen=True)
class SignalResult:
    """One signal's judgement of a window; ``score`` and ``threshold`` are in the method's own units.

    ``higher_is_drift`` tells how to read them: True for distances and AUCs (drift above the threshold),
    False for p-values (drift below it).
    """

    name: str
    status: Status
    method: str
    n_current: int
    n_reference: int
    min_current: int
    min_reference: int
    higher_is_drift: bool
    score: float | None = None
    threshold: float | None = None
    current_value: float | None = None  # the plain quantity behind the signal (review rate, accuracy, ...)
    reference_value: float | None = None
    note: str = ""

    @property
    def drift_detected(self) -> bool:
        return self.status == DRIFT

    @property
    def enough_data(self) -> bool:
        return self.status != NOT_ENOUGH_DATA

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift_detected": self.drift_detected}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignalResult:
        return cls(**{k: v for k, v in data.items() if k != "drift_detected"})


def not_enough_data(
    name: str, method: str, n_current: int, n_reference: int, min_current: int, min_reference: int, higher: bool
) -> SignalResult:
    """The answer below the minimum sample size: no guess either way."""
    return SignalResult(
        name,
        NOT_ENOUGH_DATA,
        method,
        n_current,
        n_reference,
        min_current,
        min_reference,
        higher,
        note=f"needs >= {min_current} current and >= {min_reference} reference rows",
    )


@dataclass(frozen=True)
class DriftVerdict:
    """Every signal of one window; drift is detected when any signal with enough data detects it."""

    signals: dict[str, SignalResult]
    window: dict[str, Any] = field(default_factory=dict)  # size, time span, model version, labelled rows
    reference: dict[str, Any] = field(default_factory=dict)  # where the reference came from, its size
    checked_at: float = 0.0
    seconds: float = 0.0

    @property
    def drift_detected(self) -> bool:
        return any(result.drift_detected for result in self.signals.values())

    @property
    def drifted(self) -> list[str]:
        return [name for name, result in self.signals.items() if result.drift_detected]

    def to_dict(self) -> dict[str, Any]:
        """One object: ``drift_detected``, ``drifted``, one entry per signal, and the window it judged."""
        return {
            "drift_detected": self.drift_detected,
            "drifted": self.drifted,
            "signals": list(self.signals),
            **{name: result.to_dict() for name, result in self.signals.items()},
            "window": self.window,
            "reference": self.reference,
            "checked_at": self.checked_at,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftVerdict:
        return cls(
            signals={name: SignalResult.from_dict(data[name]) for name in data["signals"]},
            window=data.get("window", {}),
            reference=data.get("reference", {}),
            checked_at=float(data.get("checked_at", 0.0)),
            seconds=float(data.get("seconds", 0.0)),
        )
