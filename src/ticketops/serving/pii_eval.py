"""Judge redaction on a labelled corpus: which PII values would still be stored raw, per kind.

Why here and not in a test: the benchmark (benchmarks/pii.py) and the suite's zero-leak test must judge
the same way. A value counts as removed only when nothing of it survives that could identify it: its
normalised text is gone (any letter case), its digits are not left in a row (separators ignored, for values
with six digits or more), and for a name no part of it is left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ticketops.serving.textnorm import normalise

STRUCTURED = (
    "email",
    "phone",
    "card",
    "iban",
    "account",
    "sort_code",
    "national_id",
    "dob",
    "password",
    "pin",
    "cvv",
    "ip",
    "url_token",
)
NER_KINDS = ("name", "address")
_SEPARATORS = re.compile(r"[\s.\-–/_()]")


@dataclass(frozen=True)
class Labelled:
    text: str
    pii: tuple[tuple[str, str], ...]  # (kind, value)


@dataclass
class Outcome:
    """Per kind: values seen and values still present; plus clean tickets the redaction changed."""

    seen: dict[str, int] = field(default_factory=dict)
    leaked: dict[str, list[str]] = field(default_factory=dict)
    clean_total: int = 0
    clean_changed: list[str] = field(default_factory=list)

    def recall(self, kind: str) -> float | None:
        seen = self.seen.get(kind, 0)
        return None if not seen else 1.0 - len(self.leaked.get(kind, [])) / seen

    def structured_leaks(self) -> int:
        return sum(len(self.leaked.get(kind, [])) for kind in STRUCTURED)


def load_corpus(path: Path) -> list[Labelled]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Labelled(r["text"], tuple((p["kind"], p["value"]) for p in r["pii"])) for r in rows]


def survives(kind: str, value: str, redacted: str) -> bool:
    """Whether ``value`` (or an identifying part of it) is still in ``redacted``."""
    plain = normalise(value)
    if plain.casefold() in redacted.casefold():
        return True
    digits = re.sub(r"\D", "", plain)
    if len(digits) >= 6 and digits in _SEPARATORS.sub("", redacted):
        return True
    if kind == "name":
        words = set(re.findall(r"\w+", redacted.casefold()))
        return any(part.casefold() in words for part in re.findall(r"\w{2,}", plain))
    return False


def evaluate(corpus: Iterable[Labelled], redact: Callable[[str], str]) -> Outcome:
    outcome = Outcome()
    for ticket in corpus:
        redacted = redact(ticket.text)
        if not ticket.pii:
            outcome.clean_total += 1
            if redacted != normalise(ticket.text):
                outcome.clean_changed.append(redacted)
            continue
        for kind, value in ticket.pii:
            outcome.seen[kind] = outcome.seen.get(kind, 0) + 1
            if survives(kind, value, redacted):
                outcome.leaked.setdefault(kind, []).append(redacted)
    return outcome
