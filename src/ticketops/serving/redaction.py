"""Replace customer PII in ticket text with typed placeholders before anything is stored or logged.

The model classifies the raw text; only the redacted form ever leaves the request (prediction log, spool,
logs, and from the log the feedback batches, training data, reference samples and drift windows).

1. Normalise (ticketops.serving.textnorm): NFKC folds full-width ``＠``/digits and no-break spaces, and zero-width
   characters are removed, so a card number typed with zero-width spaces is a card number.
2. Find spans with Microsoft Presidio's pattern recognizers where they fit (e-mail, card with Luhn, IBAN
   with its per-country check, IP v4/v6, UK postcode and several national ids) and with the rules in
   pii_rules.py for what they miss (written-out or spaced e-mails, cards with dots or `` - ``, lower-case
   or dashed IBANs, dates of birth, sort codes, CVVs, passwords and PINs, URL tokens, phones, account
   numbers, names and street addresses by their cues). Presidio's phone recognizer (libphonenumber over
   eight regions) costs ~17 ms per ticket with digits; the digit-count rule costs microseconds.
3. Overlapping spans merge (their union is replaced): privacy wins over precision, a false positive costs
   a placeholder, a false negative leaks data.

Presidio is imported on first use (``warm_up`` at model load), not at import: it pulls in spaCy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ticketops.serving.pii_rules import (
    CARD,
    EMAIL,
    IBAN,
    IP,
    NATIONAL_ID,
    NUMBER,
    PHONE,
    RULES,
    luhn_valid,
)
from ticketops.serving.textnorm import normalise

__all__ = ["CARD", "EMAIL", "IBAN", "NUMBER", "PHONE", "PLACEHOLDERS", "luhn_valid", "redact", "warm_up"]

Span = tuple[int, int, str]
# Presidio scores a bare pattern with no validation or context low (a date as an Indian PAN: 0.01); what it is
# sure of scores 0.5-1.0. Weak guesses are left to the rules, which know the cues.
MIN_SCORE = 0.3

_PRESIDIO_PLACEHOLDERS = {
    "EMAIL_ADDRESS": EMAIL,
    "CREDIT_CARD": CARD,
    "IBAN_CODE": IBAN,
    "IP_ADDRESS": IP,
}
PLACEHOLDERS = tuple(
    sorted({*_PRESIDIO_PLACEHOLDERS.values(), *(r.placeholder for r in RULES if isinstance(r.placeholder, str))})
)

_lock = threading.Lock()
_recognizers: list | None = None


def _presidio() -> list:
    """Presidio's pattern recognizers, built once; the e-mail one without its online TLD lookup."""
    global _recognizers
    with _lock:
        if _recognizers is None:
            from presidio_analyzer.predefined_recognizers import (
                CreditCardRecognizer,
                EmailRecognizer,
                EsNifRecognizer,
                IbanRecognizer,
                InAadhaarRecognizer,
                InPanRecognizer,
                IpRecognizer,
                ItFiscalCodeRecognizer,
                UkNinoRecognizer,
            )

            class OfflineEmailRecognizer(EmailRecognizer):
                """tldextract would fetch the public suffix list from the internet on the request path."""

                def validate_result(self, pattern_text: str) -> bool | None:
                    return None

            _recognizers = [
                OfflineEmailRecognizer(),
                CreditCardRecognizer(),
                IbanRecognizer(),
                IpRecognizer(),
                UkNinoRecognizer(),
                EsNifRecognizer(),
                ItFiscalCodeRecognizer(),
                InPanRecognizer(),
                InAadhaarRecognizer(),
            ]
        return _recognizers


def warm_up() -> None:
    """Import and build the recognizers now (model load), not on the first logged ticket."""
    redact("warm up a@b.io 4111 1111 1111 1111")


def _presidio_spans(text: str) -> Iterable[Span]:
    upper = text.translate(_ASCII_UPPER)  # IBANs typed in lower case; same length, so offsets hold
    for recognizer in _presidio():
        source = upper if "IBAN_CODE" in recognizer.supported_entities else text
        for result in recognizer.analyze(source, recognizer.supported_entities, None):
            if result.score < MIN_SCORE:
                continue
            yield result.start, result.end, _PRESIDIO_PLACEHOLDERS.get(result.entity_type, NATIONAL_ID)


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _rule_spans(text: str) -> Iterable[Span]:
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            start, end = match.span(rule.group)
            if start < 0 or start == end:
                continue
            placeholder = rule.placeholder if isinstance(rule.placeholder, str) else rule.placeholder(match[rule.group])
            if placeholder is not None:
                yield start, end, placeholder


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping spans become one (their union), named by the longest of them."""
    merged: list[list] = []
    for start, end, placeholder in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            if end > last[1]:
                last[1] = end
            continue
        merged.append([start, end, placeholder])
    return [(s, e, p) for s, e, p in merged]


def redact(text: str) -> str:
    """``text`` normalised, with every PII value the recognizers and rules find replaced by its placeholder."""
    text = normalise(text)
    spans = _merge([*_presidio_spans(text), *_rule_spans(text)])
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for start, end, placeholder in spans:
        out.append(text[position:start])
        out.append(placeholder)
        position = end
    out.append(text[position:])
    return "".join(out)
