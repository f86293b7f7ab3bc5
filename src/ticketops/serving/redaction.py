"""Replace customer PII in ticket text with typed placeholders before anything is stored or logged.

The model classifies the raw text; only the redacted form ever leaves the request (prediction log, logs).
Rules run in order, most specific first, so an e-mail's digits never become a phone number:

e-mail → ``[EMAIL]``, IBAN → ``[IBAN]``, 13–19 digit card number → ``[CARD]`` when it passes the Luhn check
(otherwise ``[NUMBER]``), phone number → ``[PHONE]``, any remaining run of 6+ digits → ``[NUMBER]``.
Privacy wins over precision: a false positive costs a placeholder, a false negative leaks data.
"""

from __future__ import annotations

import re

EMAIL = "[EMAIL]"
IBAN = "[IBAN]"
CARD = "[CARD]"
PHONE = "[PHONE]"
NUMBER = "[NUMBER]"
PLACEHOLDERS = (EMAIL, IBAN, CARD, PHONE, NUMBER)

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Printed IBANs: country code, check digits, then groups of four (upper case, so ordinary words never join);
# typed without spaces, any case.
_IBAN_RE = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b|(?i:\b[a-z]{2}\d{2}[a-z0-9]{11,30}\b)"
)
# 13–19 digits, optionally grouped by single spaces or dashes.
_CARD_RE = re.compile(r"(?<![\w+])\d(?:[ \-]?\d){12,18}(?!\w)")
# An optional +, then digits with the separators phone numbers use; the digit count decides below.
_PHONE_RE = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d[\d ().\-]{5,}\d(?!\w)")
_DIGITS_RE = re.compile(r"\d{6,}")
_TRIGGER_RE = re.compile(r"[\d@]")  # every rule needs a digit or an @


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if luhn_valid(digits) else NUMBER


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(char.isdigit() for char in text)
    international = text.startswith(("+", "(+"))
    if (international and 7 <= digits <= 15) or 9 <= digits <= 15:
        return PHONE
    return text


def redact(text: str) -> str:
    """``text`` with every e-mail, IBAN, card, phone number and long digit run replaced by its placeholder."""
    if _TRIGGER_RE.search(text) is None:
        return text  # the common case: nothing that any rule could match
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _IBAN_RE.sub(IBAN, text)
    text = _CARD_RE.sub(_card, text)
    text = _PHONE_RE.sub(_phone, text)
    return _DIGITS_RE.sub(NUMBER, text)
