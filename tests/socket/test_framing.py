"""Request framing over TCP: malformed request lines, Content-Length that lies, chunked bodies."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from graphql_client import answer as without_cost
from provision_process import Served
from raw_http import UVICORN_400, Connection, Response, get, post_graphql

VIEWER = "{ viewer { kind } }"
BODY = b'{"query": "{ viewer { kind } }"}'
ANONYMOUS = {"data": {"viewer": {"kind": "ANONYMOUS"}}}


def _assert_refused_by_uvicorn(answer: Response) -> None:
    assert answer.status == 400
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["connection"] == "close"
    assert answer.body == UVICORN_400


MALFORMED = {
    "no request line": b"GARBAGE\r\n\r\n",
    "a method only": b"GET\r\n\r\n",
    "lower-case method": b"get /healthz HTTP/1.1\r\nHost: provision.test\r\n\r\n",
    "space in the target": b"GET /heal thz HTTP/1.1\r\nHost: provision.test\r\n\r\n",
    "unknown version": b"GET /healthz HTTP/9.9\r\nHost: provision.test\r\n\r\n",
    "bare LF line ends": b"GET /healthz HTTP/1.1\nHost: provision.test\n\n",
    "header without colon": b"GET /healthz HTTP/1.1\r\nHost: provision.test\r\nOops\r\n\r\n",
    "TLS hello on plain HTTP": bytes.fromhex("16030100a5010000a10303") + bytes(40),
    "non-numeric Content-Length": b"POST /graphql HTTP/1.1\r\nHost: p\r\nContent-Length: x\r\n\r\n",
    "negative Content-Length": b"POST /graphql HTTP/1.1\r\nHost: p\r\nContent-Length: -1\r\n\r\n",
    "two Content-Lengths": (
        b"POST /graphql HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"
    ),
    "Content-Length and chunked": (
        b"POST /graphql HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": (
        b"POST /graphql HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    ),
}


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_is_answered_400_and_closed(port: int, request_bytes: bytes) -> None:
    with Connection(port) as connection:
        connection.send(request_bytes)
        _assert_refused_by_uvicorn(connection.read_response())
        assert connection.read_to_end() == b""


def test_a_body_longer_than_its_content_length_is_refused(port: int) -> None:
    # The bytes past Content-Length are read as the next request, which is no request.
    lying = (
        b"POST /graphql HTTP/1.1\r\nHost: provision.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10\r\n\r\n" + BODY
    )
    with Connection(port) as connection:
        connection.send(lying)
        answers = connection.responses_until_closed()
    # One answer when the server reads it all at once (usual on loopback); the 10 bytes of
    # JSON are refused on their own first if it reads the parts apart.
    assert 1 <= len(answers) <= 2, answers
    assert all(400 <= a.status < 500 for a in answers), answers
    _assert_refused_by_uvicorn(answers[-1])


def test_a_body_shorter_than_its_content_length_is_waited_for(port: int) -> None:
    # The server cannot tell a short body from a slow one: it waits (no read timeout), and
    # when the client half-closes it drops the request without an answer.
    short = (
        b"POST /graphql HTTP/1.1\r\nHost: provision.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + BODY
    )
    with Connection(port) as connection:
        connection.send(short)
        assert connection.silent_for(1.0), "no answer while the body may still come"
        connection.shut_write()
        assert connection.read_to_end() == b""
    with Connection(port) as next_client:
        assert next_client.exchange(get("/healthz")).status == 200


def test_the_missing_bytes_complete_a_short_body(port: int) -> None:
    request = post_graphql(VIEWER)
    with Connection(port) as connection:
        connection.send(request[:-5])
        assert connection.silent_for(0.3)
        answer = connection.exchange(request[-5:])
    assert answer.status == 200
    assert without_cost(answer.json()) == ANONYMOUS


def test_a_chunked_post_is_served(port: int) -> None:
    chunks = [BODY[:7], BODY[7:20], BODY[20:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: provision.test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked
    )
    with Connection(port) as connection:
        answer = connection.exchange(request)
        # The connection stays usable after a chunked request.
        assert connection.exchange(get("/healthz")).status == 200
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert without_cost(answer.json()) == ANONYMOUS


def test_httpx_streams_a_body_of_unknown_length_chunked(served: Served) -> None:
    def body() -> Iterator[bytes]:
        yield BODY[:9]
        yield BODY[9:]

    response = httpx.post(
        f"{served.base}/graphql",
        content=body(),
        headers={"content-type": "application/json"},
        timeout=5,
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 200
    assert without_cost(response.json()) == ANONYMOUS
