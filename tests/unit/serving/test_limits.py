"""Input limits and request parsing, without the service: body size (declared and streamed), UTF-8, JSON,
schema, ticket count and text length; every error names the field and the limit, never the text."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.requests import Request

from ticketops.schemas import ClassifyRequest, FeedbackRequest
from ticketops.serving.errors import ApiError
from ticketops.serving.limits import check_classify_limits, parse_json, read_body

MARKER = "zebracorn-7731"  # part of every bad ticket text below; must never appear in an error


class Stream:
    """An ASGI ``receive`` that hands out ``chunks`` one message at a time and counts the reads."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = list(chunks)
        self.reads = 0

    async def __call__(self) -> dict:
        self.reads += 1
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


def make_request(stream: Stream, content_length: str | None = None) -> Request:
    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", content_length.encode()))
    return Request({"type": "http", "method": "POST", "path": "/classify", "headers": headers}, stream)


def read(stream: Stream, max_bytes: int, content_length: str | None = None) -> bytes:
    return asyncio.run(read_body(make_request(stream, content_length), max_bytes))


def rendered(error: ApiError) -> str:
    return error.response().body.decode()


def field_names(error: ApiError) -> list[str]:
    return [problem.field for problem in error.fields]


# --- body size -------------------------------------------------------------------------------------


def test_read_body_joins_the_streamed_chunks():
    assert read(Stream([b'{"tic', b'kets": ', b"[]}"]), max_bytes=100) == b'{"tickets": []}'


def test_a_body_of_exactly_the_limit_is_accepted():
    assert read(Stream([b"x" * 10]), max_bytes=10, content_length="10") == b"x" * 10


def test_a_declared_size_over_the_limit_is_refused_before_reading_anything():
    stream = Stream([b"x" * 11])
    with pytest.raises(ApiError) as caught:
        read(stream, max_bytes=10, content_length="11")
    error = caught.value
    assert (error.status, error.code) == (413, "payload_too_large")
    assert error.fields[0].field == "body" and error.fields[0].limit == 10
    assert "10 bytes" in error.message
    assert stream.reads == 0


@pytest.mark.parametrize("content_length", [None, "4"])  # chunked, or a Content-Length that lies
def test_a_streamed_body_over_the_limit_is_refused_as_soon_as_it_is_known(content_length):
    stream = Stream([b"x" * 6, b"x" * 6, b"x" * 6, b"x" * 6])
    with pytest.raises(ApiError) as caught:
        read(stream, max_bytes=10, content_length=content_length)
    assert caught.value.status == 413 and caught.value.code == "payload_too_large"
    assert stream.reads == 2  # stopped at the chunk that crossed the limit


def test_a_content_length_that_is_not_a_number_is_a_bad_request():
    with pytest.raises(ApiError) as caught:
        read(Stream([b"{}"]), max_bytes=10, content_length="ten")
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    assert field_names(caught.value) == ["body"]


# --- JSON, UTF-8 and schema -----------------------------------------------------------------------


def test_parse_json_returns_the_validated_request():
    request = parse_json(ClassifyRequest, json.dumps({"tickets": [{"text": "card?", "id": "t1"}]}).encode())
    assert [(t.text, t.id) for t in request.tickets] == [("card?", "t1")]


def test_invalid_utf8_is_refused_with_the_byte_position_and_no_text():
    body = b'{"tickets": [{"text": "caf\xe9 ' + MARKER.encode() + b'"}]}'
    with pytest.raises(ApiError) as caught:
        parse_json(ClassifyRequest, body)
    error = caught.value
    assert (error.status, error.code) == (400, "invalid_utf8")
    position = body.index(b"\xe9")
    assert error.fields[0].message == f"invalid UTF-8 at byte {position}"
    assert MARKER not in rendered(error)


def test_malformed_json_is_refused_with_a_position_and_no_text():
    with pytest.raises(ApiError) as caught:
        parse_json(ClassifyRequest, b'{"tickets": [{"text": "' + MARKER.encode() + b'"')
    error = caught.value
    assert (error.status, error.code) == (400, "malformed_json")
    assert error.message == "request body is not valid JSON"
    assert field_names(error) == ["body"]
    assert MARKER not in rendered(error)


@pytest.mark.parametrize("body", [b"", b"  \n "])
def test_an_empty_body_says_so(body):
    with pytest.raises(ApiError) as caught:
        parse_json(ClassifyRequest, body)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400,
        "malformed_json",
        "request body is empty",
    )


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([MARKER], "body"),
        ({"tickets": []}, "tickets"),
        ({"tickets": [{"text": 42}]}, "tickets.0.text"),
        ({"tickets": [{"text": "ok"}, {"text": "  \t"}]}, "tickets.1.text"),
        ({"tickets": [{"text": f"a\x00{MARKER}"}]}, "tickets.0.text"),
        ({"tickets": [{"text": MARKER, "priority": MARKER}]}, "tickets.0.priority"),
        ({"tickets": [{"text": MARKER, "id": "x" * 129}]}, "tickets.0.id"),
    ],
)
def test_schema_problems_are_422_naming_the_field_and_never_the_text(document, field):
    with pytest.raises(ApiError) as caught:
        parse_json(ClassifyRequest, json.dumps(document).encode())
    error = caught.value
    assert (error.status, error.code) == (422, "validation_error")
    assert field in field_names(error)
    assert MARKER not in rendered(error)


def test_the_same_parser_checks_feedback():
    with pytest.raises(ApiError) as caught:
        parse_json(FeedbackRequest, json.dumps({"items": [{"id": "", "text": MARKER, "label": "x"}]}).encode())
    assert caught.value.status == 422 and field_names(caught.value) == ["items.0.id"]


# --- ticket count and text length -----------------------------------------------------------------


def classify_request(*texts: str) -> ClassifyRequest:
    return ClassifyRequest.model_validate({"tickets": [{"text": t} for t in texts]})


def test_requests_at_the_limits_pass():
    check_classify_limits(classify_request("a" * 10, "é" * 10, "b"), max_tickets=3, max_text_chars=10)


def test_too_many_tickets_is_413_with_the_count_and_the_limit():
    with pytest.raises(ApiError) as caught:
        check_classify_limits(classify_request("a", "b", "c", "d"), max_tickets=3, max_text_chars=10)
    error = caught.value
    assert (error.status, error.code) == (413, "too_many_tickets")
    (problem,) = error.fields
    assert (problem.field, problem.type, problem.limit) == ("tickets", "too_many", 3)
    assert problem.message == "4 tickets, at most 3"


def test_the_ticket_count_is_checked_before_text_length():
    with pytest.raises(ApiError) as caught:
        check_classify_limits(classify_request(MARKER * 5, "b"), max_tickets=1, max_text_chars=10)
    assert caught.value.code == "too_many_tickets"


def test_every_long_text_is_named_by_position_and_none_is_echoed():
    long_text = f"{MARKER} " * 3
    with pytest.raises(ApiError) as caught:
        check_classify_limits(classify_request(long_text, "short", long_text), max_tickets=5, max_text_chars=20)
    error = caught.value
    assert (error.status, error.code) == (413, "text_too_long")
    assert field_names(error) == ["tickets.0.text", "tickets.2.text"]
    assert all(problem.limit == 20 and problem.type == "too_long" for problem in error.fields)
    body = json.loads(rendered(error))
    assert body["error"] == "text_too_long" and body["fields"][0]["limit"] == 20
    assert MARKER not in rendered(error)


def test_text_length_counts_characters_not_bytes():
    with pytest.raises(ApiError):
        check_classify_limits(classify_request("é" * 11), max_tickets=1, max_text_chars=10)
