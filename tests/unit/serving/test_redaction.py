"""Redaction: every PII kind becomes its typed placeholder; ordinary ticket text is left alone."""

from __future__ import annotations

import pytest

from ticketops.serving.pii_rules import ACCOUNT
from ticketops.serving.redaction import CARD, EMAIL, IBAN, NUMBER, PHONE, luhn_valid, redact

# (text, raw value that must disappear, placeholder that must appear)
PII_CASES = [
    ("please reply to jane.doe+bank@example.co.uk today", "jane.doe+bank@example.co.uk", EMAIL),
    ("my card 4111 1111 1111 1111 was declined", "4111 1111 1111 1111", CARD),
    ("card number 5500-0000-0000-0004 stopped working", "5500-0000-0000-0004", CARD),
    ("charged twice on 378282246310005", "378282246310005", CARD),
    ("send it to GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32", IBAN),
    ("iban de89370400440532013000 is mine", "de89370400440532013000", IBAN),
    ("call me on +44 20 7946 0958 after five", "+44 20 7946 0958", PHONE),
    ("my number is (555) 123-4567", "(555) 123-4567", PHONE),
    ("reference 99887766 still pending", "99887766", NUMBER),
    ("card 4111 1111 1111 1112 (mistyped) was refused", "4111 1111 1111 1112", NUMBER),
]


@pytest.mark.parametrize(("text", "raw", "placeholder"), PII_CASES)
def test_each_pii_kind_is_replaced_by_its_placeholder(text: str, raw: str, placeholder: str) -> None:
    out = redact(text)
    assert raw not in out
    assert placeholder in out
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) >= 6:
        assert digits not in "".join(ch for ch in out if ch.isdigit())


@pytest.mark.parametrize(
    "text",
    [
        "I still have not received my new card",
        "I was charged 1.50 extra on a 100 transfer",
        "the payment on 2019-03-12 is missing, 3 days ago",
        "why is my top up of 20 pounds pending?",
        "card ending 1234 declined",
    ],
)
def test_ordinary_ticket_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_several_kinds_in_one_ticket() -> None:
    text = "I'm a@b.io, card 4111111111111111, phone +1 415 555 2671, acct 12345678"
    out = redact(text)
    assert out == f"I'm {EMAIL}, card {CARD}, phone {PHONE}, acct {ACCOUNT}"


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
