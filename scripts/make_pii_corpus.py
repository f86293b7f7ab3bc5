"""Write tests/fixtures/pii_corpus.jsonl: support tickets with the PII each one carries, labelled by kind.

Why generated: every value is synthetic (test card numbers, specimen IBANs, documentation IP ranges, made-up
people), so the corpus can be committed; the formats are the ones the redaction probe of issue 14 found
leaking (spelled-out and full-width e-mails, cards with dots, dashes, no-break and zero-width spaces, lower-case
and dashed IBANs, ...) and the usual ones. Clean tickets (amounts, order numbers under six digits, plain dates)
must come through unchanged. Run: ``python scripts/make_pii_corpus.py``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pii_corpus.jsonl"
ZW = "\u200b"
NBSP = "\u00a0"

KINDS: dict[str, tuple[list[str], list[str]]] = {
    # kind: (templates with {v}, values in the formats customers type)
    "email": (
        [
            "please reply to {v} about the refund",
            "my email is {v}, the card still has not arrived",
            "contact me at {v} asap!!",
            "I changed my address to {v} but the statement went to the old one",
        ],
        [
            "jane.doe@example.com",
            "jane.doe at example dot com",
            "bob @ example.org",
            "ana＠example.es",
            "josé.müller@exämple.de",
            "tom(at)mail(dot)net",
            "li.wei [at] example [dot] co [dot] uk",
            "first.last+bank@sub.example.co.uk",
            "MIXED.Case@Example.IO",
            "k" + ZW + "im@example.com",
            "sam_o'neil@example.ie",
            "priya @ example . in",
        ],
    ),
    "phone": (
        [
            "call me on {v} after five",
            "my number is {v}",
            "you can text {v} if easier",
        ],
        [
            "+44 20 7946 0958",
            "(555) 123-4567",
            "555.123.4567",
            "07700 900123",
            "+1-415-555-2671",
            "0044 7700 900 456",
            "+49 (0)30 901820",
            "+33 1 23 45 67 89",
            "020" + NBSP + "7946" + NBSP + "0018",
            "+91 98765 43210",
        ],
    ),
    "card": (
        [
            "my card {v} was declined",
            "card number {v} stopped working yesterday",
            "I was charged twice on {v}",
            "pls block {v} it was stolen",
        ],
        [
            "4111 1111 1111 1111",
            "4111.1111.1111.1111",
            "4111 - 1111 - 1111 - 1111",
            "5500-0000-0000-0004",
            "378282246310005",
            "4111" + NBSP + "1111" + NBSP + "1111" + NBSP + "1111",
            "4111" + ZW + "1111" + ZW + "1111" + ZW + "1111",
            "６０１１ １１１１ １１１１ １１１７",
            "5105/1051/0510/5100",
            "4012888888881881",
            "3530 1113 3330 0000",
            "4111_1111_1111_1111",
        ],
    ),
    "iban": (
        [
            "send it to {v} please",
            "my iban is {v}",
            "refund to IBAN: {v}",
        ],
        [
            "GB82 WEST 1234 5698 7654 32",
            "gb82 west 1234 5698 7654 32",
            "GB82-WEST-1234-5698-7654-32",
            "DE89370400440532013000",
            "de89 3704 0044 0532 0130 00",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NL91ABNA0417164300",
            "es91-2100-0418-4502-0005-1332",
            "IT60 X054 2811 1010 0000 0123 456",
            "GB29NWBK60161331926819",
        ],
    ),
    "account": (
        [
            "account number {v} shows the wrong balance",
            "acct {v} was frozen",
            "transfer from a/c {v} never arrived",
        ],
        ["12345678", "1234 5678", "00112233", "9876-5432", "31926819", "55 66 77 88", "40308669"],
    ),
    "sort_code": (
        [
            "sort code {v}, please check",
            "the sort code is {v}",
            "paid into {v} 31926819 yesterday",
        ],
        ["60-16-13", "20 00 00", "401276", "30-94-57", "12.34.56", "08 - 90 - 00"],
    ),
    "national_id": (
        [
            "my national insurance number is {v}",
            "ssn {v} for the tax form",
            "ID: {v}",
            "passport number {v} for verification",
        ],
        [
            "QQ 12 34 56 C",
            "AB123456D",
            "123-45-6789",
            "078 05 1120",
            "12345678Z",
            "RSSMRA85T10A562S",
            "ABCPD1234E",
            "2345 6789 0124",
            "X1234567L",
            "533380006",
        ],
    ),
    "dob": (
        [
            "I was born on {v} if you need it",
            "date of birth {v}",
            "DOB: {v}",
            "my birthday is {v}",
        ],
        [
            "12/03/1985",
            "1985-03-12",
            "3rd of March 1979",
            "March 3, 1979",
            "03.07.1990",
            "7 Jan 2001",
            "29-02-1996",
            "Dec 25th 1970",
        ],
    ),
    "password": (
        [
            "my password is {v} and it does not work",
            "password: {v}",
            "I set the password to {v} yesterday",
            "pwd={v}",
        ],
        ["hunter2", "Tr0ub4dor&3", "correct-horse-battery", "S3cret!", "qwerty123", "P@ssw0rd", "letmein"],
    ),
    "pin": (
        [
            "my PIN is {v}",
            "pin {v} is blocked now",
            "the one-time code {v} expired",
            "PIN: {v}",
        ],
        ["1234", "0000", "4821", "975310", "5555", "112358"],
    ),
    "cvv": (
        [
            "the CVV is {v}",
            "cvc {v} on the back",
            "security code {v} rejected",
            "3-digit code: {v}",
        ],
        ["123", "987", "4567", "042", "311"],
    ),
    "ip": (
        [
            "login from {v} was not me",
            "your site blocks my IP {v}",
            "someone at {v} used my account",
        ],
        ["192.0.2.44", "203.0.113.7", "198.51.100.23", "10.0.0.12", "2001:db8::8a2e:370:7334", "172.16.254.1"],
    ),
    "url_token": (
        [
            "the link {v} does not work",
            "reset link: {v}",
            "I clicked {v} and got an error",
        ],
        [
            "https://bank.example.com/reset?token=Zx81kP0qLmN4aQ7",
            "https://example.com/verify?user=3&code=991823",
            "http://app.example.net/s/a8F3kLq92ZpX07mWd1",
            "https://example.org/login#access_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz",
            "https://example.com/api?api_key=AKIA0000EXAMPLE1234",
            "https://pay.example.com/confirm?session_id=cs_live_a1B2c3D4e5F6",
            "https://example.com/unsubscribe?sig=9f86d081884c7d65",
        ],
    ),
    "name": (
        [
            "Hi, my name is {v} and my card is lost",
            "This is {v}, I need help with a transfer",
            "card is in the name of {v}",
            "Thanks,\n{v}",
            "Dear team, Mr {v} here, refund please",
            "I'm {v} and I was charged twice",
            "Kind regards, {v}",
        ],
        [
            "Ada Lovelace",
            "John Smith",
            "María José García",
            "Zoë O'Neill",
            "Łukasz Nowak",
            "Jean-Pierre Dubois",
            "Priya Patel",
            "Chen Wei",
            "Olu Adeyemi",
            "Anna van der Berg",
            "Sean",
            "Fatima Al Hassan",
        ],
    ),
    "address": (
        [
            "please send the new card to {v}",
            "my address is {v}",
            "I moved to {v} last month",
            "deliver to {v} not the old one",
        ],
        [
            "221B Baker Street, London",
            "10 Downing St",
            "Flat 3, 12 High Street",
            "1600 Pennsylvania Avenue",
            "42 Elm Road, Leeds",
            "Hauptstraße 5",
            "7 Rose Lane",
            "350 Fifth Ave",
            "15 Oak Drive, Bristol",
            "Apt 4B, 99 Park Place",
        ],
    ),
}

CLEAN = [
    "I still have not received my new card",
    "I was charged 1.50 extra on a 100 transfer",
    "the payment on 2019-03-12 is missing, 3 days ago",
    "why is my top up of 20 pounds pending?",
    "card ending 1234 declined",
    "order 5521 arrived damaged",
    "the exchange rate on 12/03 was wrong",
    "I sent 250 EUR on Monday and it is still pending",
    "how long does a SEPA transfer take?",
    "my virtual card does not work at the station",
    "the app crashes on version 3.2.1",
    "can I change my PIN at an ATM?",
    "I forgot my password, how do I reset it?",
    "where do I find the CVV on my card?",
    "the fee was 0.5% instead of 0.3%",
    "two payments of 9.99 on 1 March",
    "I ordered a card 2 weeks ago",
    "is there a limit of 3000 per day?",
    "my account was charged 3 times",
    "Please close my account",
    "The ATM kept my card at 10 pm",
    "transfer 4 of 5 failed",
    "Thanks for the help!",
    "I am waiting since Tuesday",
    "my refund of 45.20 has not arrived",
]


def tickets() -> list[dict]:
    rows = []
    for kind, (templates, values) in KINDS.items():
        for value, template in zip(values, itertools.cycle(templates)):
            rows.append({"text": template.format(v=value), "pii": [{"kind": kind, "value": value}]})
    # a few tickets carry several kinds at once
    rows.append(
        {
            "text": "I'm Ada Lovelace, email ada@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958",
            "pii": [
                {"kind": "name", "value": "Ada Lovelace"},
                {"kind": "email", "value": "ada@example.com"},
                {"kind": "card", "value": "4111 1111 1111 1111"},
                {"kind": "phone", "value": "+44 20 7946 0958"},
            ],
        }
    )
    rows.append(
        {
            "text": "sort code 60-16-13 account 31926819, DOB 12/03/1985, my password is hunter2",
            "pii": [
                {"kind": "sort_code", "value": "60-16-13"},
                {"kind": "account", "value": "31926819"},
                {"kind": "dob", "value": "12/03/1985"},
                {"kind": "password", "value": "hunter2"},
            ],
        }
    )
    rows.extend({"text": text, "pii": []} for text in CLEAN)
    return rows


def main() -> None:
    rows = tickets()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{OUT}: {len(rows)} tickets, {sum(len(r['pii']) for r in rows)} PII values")


if __name__ == "__main__":
    main()
