"""Hand-written PII rules for what Presidio's recognizers miss (serving/redaction.py runs both).

Each rule is a compiled pattern, the placeholder of what it finds and, where the pattern alone would
catch ordinary text, a check on the match. Contextual kinds (date of birth, CVV, password, PIN, account
number, sort code) need their cue word: a date or a three-digit number alone is not PII. Names and street
addresses are found by the cues support tickets use to introduce them ("my name is", a sign-off, a
title; a house number before a street type), not by NER: see README "Redaction" for why and how well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

EMAIL = "[EMAIL]"
CARD = "[CARD]"
IBAN = "[IBAN]"
PHONE = "[PHONE]"
NUMBER = "[NUMBER]"
IP = "[IP]"
DOB = "[DOB]"
SORT_CODE = "[SORT_CODE]"
CVV = "[CVV]"
SECRET = "[SECRET]"
TOKEN = "[TOKEN]"
NATIONAL_ID = "[ID]"
ACCOUNT = "[ACCOUNT]"
NAME = "[NAME]"
ADDRESS = "[ADDRESS]"
POSTCODE = "[POSTCODE]"


@dataclass(frozen=True)
class Rule:
    """``pattern``'s group ``group`` (0: the whole match) becomes ``placeholder`` when ``accept`` says so."""

    name: str
    pattern: re.Pattern[str]
    placeholder: str | Callable[[str], str | None]
    group: int = 0


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


def iban_valid(candidate: str) -> bool:
    """ISO 13616 mod-97 check on a candidate with its separators removed."""
    compact = re.sub(r"[^0-9A-Za-z]", "", candidate).upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _card(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return CARD if luhn_valid(digits) else NUMBER


def _phone(text: str) -> str | None:
    digits = sum(char.isdigit() for char in text)
    international = text.startswith(("+", "(+", "00"))
    return PHONE if (international and 7 <= digits <= 15) or 9 <= digits <= 15 else None


def _iban(text: str) -> str | None:
    return IBAN if iban_valid(text) else None


_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_LOWER = "a-zß-öø-ÿā-ž"
_NAME_WORD = rf"[{_UPPER}](?:[{_LOWER}]|['’\-][{_UPPER}]?)+"  # O'Neill, Jean-Pierre
_FULL_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:(?:van|von|de|da|del|der|di|le|la|bin|al)[ \t]+){{0,2}}{_NAME_WORD}){{0,2}}"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    rf"(?:\d{{1,2}}[/.\-]\d{{1,2}}[/.\-]\d{{2,4}}|\d{{4}}[/.\-]\d{{1,2}}[/.\-]\d{{1,2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[ ]+(?:of[ ]+)?{_MONTH}\.?,?[ ]+\d{{2,4}}"
    rf"|{_MONTH}\.?[ ]+\d{{1,2}}(?:st|nd|rd|th)?,?[ ]+\d{{4}})"
)
_STREET_TYPE = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|place|pl|court|ct|boulevard|blvd|crescent|cres"
    r"|terrace|gardens|square|sq|hill|park|row|mews|parade|highway|hwy|grove|walk|strasse|straße|str|weg|allee|gasse)"
)
_SEPARATOR = r"(?:\s*[:=\-–]\s*|\s+(?:is|was|=)\s+(?:now\s+)?|\s+)"

RULES: tuple[Rule, ...] = (
    # --- tokens and secrets first: they may contain anything ---------------------------------------------
    Rule("jwt", re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"), TOKEN),
    Rule(
        "url-secret-parameter",
        re.compile(
            r"(?i)[?&#;](?:[\w.\-]*(?:token|key|sig|signature|secret|password|passwd|pwd|auth|code|session|sid"
            r"|jwt|otp|reset|hash)[\w.\-]*)=([^&#\s]+)"
        ),
        TOKEN,
        1,
    ),
    Rule("url-path-token", re.compile(r"(?i)(?<=/)(?=[\w\-]*\d)(?=[\w\-]*[a-z])[\w\-]{16,}(?=[/?#\s]|$)"), TOKEN),
    Rule(
        "password",
        re.compile(
            r"(?i)\b(?:password|passwd|passcode|pass word|pwd|security answer|memorable word|secret word)"
            r"(?:\s+(?:is|was)(?:\s+now)?|\s*[:=]|\s+(?:to|as))\s*[\"'“‘]?([^\s\"'”’]+?)[\"'”’]?"
            r"(?=[\s,;!?)]|\.(?:\s|$)|$)"
        ),
        SECRET,
        1,
    ),
    Rule(
        "pin",
        re.compile(
            r"(?i)\b(?:pin|pin code|pin number|otp|one[- ]time (?:code"
            r"|password|passcode)|verification code|security code is)"
            rf"{_SEPARATOR}(?:is\s+)?(\d{{3,8}})\b"
        ),
        SECRET,
        1,
    ),
    Rule(
        "cvv",
        re.compile(
            r"(?i)\b(?:cvv2?|cvc2?|csc|cid|security code|card verification (?:code"
            r"|value)|3[- ]digit(?: code)?|three[- ]digit(?: code)?)"
            r"(?:\s+(?:number|no\.?))?(?:\s+on the back)?\s*(?:[:=\-–]|is|was)?\s*(\d{3,4})\b"
        ),
        CVV,
        1,
    ),
    # --- e-mail, written out or spaced -----------------------------------------------------------------
    Rule(
        "email-spelled",
        re.compile(
            r"(?i)[\w.+\-]+\s*(?:\(at\)|\[at\]|\{at\}|\s+at\s+)\s*[\w\-]+"
            r"(?:\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*[\w\-]+)*?"
            r"\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*(?:com|net|org|co"
            r"|io|uk|de|fr|es|it|nl|eu|info|biz|me|us|ca|au|edu|gov)\b"
        ),
        EMAIL,
    ),
    Rule("email-spaced", re.compile(r"[\w.+\-]+\s*@\s*[\w\-]+(?:\s*\.\s*[\w\-]+)*"), EMAIL),
    # --- bank and card numbers, any separators -----------------------------------------------------------
    Rule("iban", re.compile(r"(?i)\b[a-z]{2}\d{2}(?:[ \-.]?[a-z0-9]{4}){2,7}(?:[ \-.]?[a-z0-9]{1,4})?\b"), _iban),
    Rule("card", re.compile(r"(?<![\w+])\d(?:[ ]?[.\-–—/_]?[ ]?\d){12,18}(?!\w)"), _card),
    Rule(
        "sort-code", re.compile(r"(?<![\w.\-])\d{2}[ ]?[\-–.][ ]?\d{2}[ ]?[\-–.][ ]?\d{2}(?![\w]|[.\-]\d)"), SORT_CODE
    ),
    Rule(
        "sort-code-cue",
        re.compile(r"(?i)\bsort[ -]?code\s*(?:is|:)?\s*(\d{2}[ ]?\d{2}[ ]?\d{2})\b"),
        SORT_CODE,
        1,
    ),
    Rule(
        "account",
        re.compile(
            r"(?i)\b(?:account|acct|a/c|acc)(?:\s+(?:number|no\.?|num|#))?\s*[:#]?\s*(?:is\s+)?(\d[\d \-]{3,}\d)\b"
        ),
        ACCOUNT,
        1,
    ),
    # --- national ids Presidio refuses as specimens or does not know -------------------------------------
    Rule("us-ssn", re.compile(r"(?<![\w\-])\d{3}[ \-.]\d{2}[ \-.]\d{4}(?![\w\-])"), NATIONAL_ID),
    Rule("uk-nino", re.compile(r"(?i)\b[a-z]{2}[ ]?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?[a-d]\b"), NATIONAL_ID),
    Rule(
        "passport-cue",
        re.compile(
            r"(?i)\b(?:passport|id card|identity card|licen[cs]e"
            r"|national id)(?:\s+(?:number|no\.?|#))?\s*[:#]?\s*(?:is\s+)?([a-z0-9]{6,12})\b"
        ),
        NATIONAL_ID,
        1,
    ),
    # --- dates of birth: a date after its cue ------------------------------------------------------------
    Rule(
        "dob",
        re.compile(
            rf"(?i)\b(?:born(?:\s+on)?|date of birth|d\.?o\.?b\.?|birth ?date|birthday)\s*(?:is|was|:|-)?\s*({_DATE})"
        ),
        DOB,
        1,
    ),
    # --- phones and long digit runs ----------------------------------------------------------------------
    Rule("phone", re.compile(r"(?<![\w+])(?:\+|\(\+?|00)?\d[\d ().\-]{5,}\d(?!\w)"), _phone),
    Rule("digits", re.compile(r"\d{6,}"), NUMBER),
    # --- names and addresses, by their cues --------------------------------------------------------------
    Rule(
        "name-cue",
        re.compile(
            r"(?:[Mm]y name is|[Nn]ame(?: is|:)|[Tt]his is|[Ii] am|[Ii]'?m|[Ss]igned|[Aa]ccount holder(?: is|:)?"
            r"|[Cc]ard ?holder(?: is|:)?|in the name of)"
            rf"[ \t]+({_FULL_NAME})"
        ),
        NAME,
        1,
    ),
    Rule(
        "name-title",
        re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Herr|Frau|Mme|M)\.?[ \t]+({_FULL_NAME})"),
        NAME,
        1,
    ),
    Rule(
        "name-signoff",
        re.compile(
            r"(?i:thanks|thank you|many thanks|regards|kind regards|best regards|best wishes|best|cheers|sincerely"
            r"|yours|br)"
            rf"[ \t]*[,!.\-–]*\s*[\-–]?[ \t]*({_FULL_NAME})[ \t]*[.!]?\s*$"
        ),
        NAME,
        1,
    ),
    Rule(
        "street-address",
        re.compile(
            rf"(?i:(?:flat|apt|apartment|unit"
            rf"|suite)\.?[ ]*\w+,?[ ]+)?\b\d{{1,5}}[A-Za-z]?,?[ ]+(?:[{_UPPER}][\w'’\-]*[ ]+){{0,4}}"
            rf"(?i:{_STREET_TYPE})\b\.?(?:,?[ ]+[{_UPPER}][{_LOWER}]+(?:[ ][{_UPPER}][{_LOWER}]+)?)?"
        ),
        ADDRESS,
    ),
    Rule(
        "street-address-de",
        re.compile(rf"\b[{_UPPER}][{_LOWER}]+(?:straße|strasse|str\.|weg|allee|gasse|platz)[ ]+\d{{1,4}}[a-z]?\b"),
        ADDRESS,
    ),
    Rule("uk-postcode", re.compile(r"(?i)\b[a-z]{1,2}\d[a-z\d]?[ ]*\d[a-z]{2}\b"), POSTCODE),
    Rule("us-zip", re.compile(r"\b[A-Z]{2}[ ]+\d{5}(?:-\d{4})?\b"), POSTCODE),
)
