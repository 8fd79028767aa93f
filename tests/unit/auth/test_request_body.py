"""Request bodies read up to a limit: declared or streamed past it is no body at all."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Message

from auth.request_body import BadBody, read_body, read_json_object


def _request(*chunks: bytes, content_length: str | None = None) -> Request:
    headers = [] if content_length is None else [(b"content-length", content_length.encode())]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or (b"",))
    ]

    async def receive() -> Message:
        return messages.pop(0)

    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


async def test_a_body_within_the_limit_is_read_whole() -> None:
    assert await read_body(_request(b"ab", b"cd"), 4) == b"abcd"


@pytest.mark.parametrize(
    "request_",
    [_request(b"abc", b"de"), _request(b"ab", content_length="5"), _request(content_length="x")],
)
async def test_a_body_past_the_limit_declared_or_streamed_is_none(request_: Request) -> None:
    assert await read_body(request_, 4) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": 1' + b" " * 20, "the body is larger than 16 bytes"),
        (b'{"a": ', "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        (b"[1]", "the body must be a JSON object"),
    ],
)
async def test_why_a_body_is_no_json_object(body: bytes, reason: str) -> None:
    with pytest.raises(BadBody) as refused:
        await read_json_object(_request(body), 16)
    assert str(refused.value) == reason


async def test_a_json_object_is_returned() -> None:
    assert await read_json_object(_request(b'{"a": [1]}'), 16) == {"a": [1]}
