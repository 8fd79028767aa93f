"""What the real server answers over TCP: headers of /graphql and the probes, bearer tokens,
GET /graphql with a query string."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import httpx
import pytest

from graphql_client import answer as without_cost
from provision_process import Served
from raw_http import Connection, Response, get, post_graphql

VIEWER = "{ viewer { kind subject } }"
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")


def _assert_common_headers(answer: Response) -> None:
    assert answer.headers["content-length"] == str(len(answer.body))
    assert GENERATED_REQUEST_ID.match(answer.headers["x-request-id"]), answer.headers
    assert parsedate_to_datetime(answer.headers["date"]).tzinfo is not None
    assert answer.headers["server"] == "uvicorn"


def test_graphql_answers_json(port: int) -> None:
    with Connection(port) as connection:
        answer = connection.exchange(post_graphql(VIEWER))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    _assert_common_headers(answer)
    assert without_cost(answer.json()) == {
        "data": {"viewer": {"kind": "ANONYMOUS", "subject": None}}
    }


@pytest.mark.parametrize(
    ("path", "body"), [("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})]
)
def test_probes_answer_json(port: int, path: str, body: dict[str, str]) -> None:
    with Connection(port) as connection:
        answer = connection.exchange(get(path))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    _assert_common_headers(answer)
    assert answer.json() == body


def test_a_request_id_is_echoed(port: int) -> None:
    with Connection(port) as connection:
        answer = connection.exchange(get("/healthz", request_id="socket-trace-1"))
    assert answer.headers["x-request-id"] == "socket-trace-1"


def test_connection_close_is_honoured(port: int) -> None:
    with Connection(port) as connection:
        answer = connection.exchange(get("/healthz", close=True))
        assert connection.read_to_end() == b""
    assert answer.headers["connection"] == "close"
    assert answer.status == 200


def test_a_token_from_the_cli_is_accepted(port: int, staff_token: str) -> None:
    with Connection(port) as connection:
        answer = connection.exchange(post_graphql(VIEWER, token=staff_token))
    assert answer.status == 200
    assert without_cost(answer.json()) == {
        "data": {"viewer": {"kind": "STAFF", "subject": "socket:staff"}}
    }


def _tampered(token: str) -> str:
    tail = "AAAAAA" if token[-6:] != "AAAAAA" else "BBBBBB"
    return token[:-6] + tail


BAD_TOKENS: dict[str, Callable[[str], str]] = {
    "not a JWT": lambda _: "not-a-jwt",
    "signed by no key of ours": lambda _: "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    "our token, signature changed": _tampered,
}


@pytest.mark.parametrize("spoil", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_token_gets_401_invalid_token(
    port: int, staff_token: str, spoil: Callable[[str], str]
) -> None:
    token = spoil(staff_token)
    with Connection(port) as connection:
        answer = connection.exchange(post_graphql(VIEWER, token=token))
        # A 401 does not end the connection.
        assert connection.exchange(get("/healthz")).status == 200
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert answer.headers["content-type"] == "application/json"
    assert without_cost(answer.json()) == {
        "errors": [{"message": "invalid token", "extensions": {"code": "UNAUTHENTICATED"}}]
    }


def test_get_graphql_with_a_query_string(port: int, staff_token: str) -> None:
    target = "/graphql?" + urlencode({"query": VIEWER})
    request = get(target).replace(
        b"\r\n\r\n", f"\r\nAuthorization: Bearer {staff_token}\r\n\r\n".encode()
    )
    with Connection(port) as connection:
        answer = connection.exchange(request)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert without_cost(answer.json()) == {
        "data": {"viewer": {"kind": "STAFF", "subject": "socket:staff"}}
    }


def test_get_graphql_with_variables_over_httpx(served: Served) -> None:
    response = httpx.get(
        f"{served.base}/graphql",
        params={
            "query": "query($me: Boolean!) { viewer @include(if: $me) { kind } }",
            "variables": '{"me": true}',
        },
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert without_cost(response.json()) == {"data": {"viewer": {"kind": "ANONYMOUS"}}}


def test_get_graphql_refuses_a_mutation(port: int) -> None:
    target = "/graphql?" + urlencode({"query": "mutation { __typename }"})
    with Connection(port) as connection:
        answer = connection.exchange(get(target))
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"  # GraphQL-shaped, not text
    [error] = answer.json()["errors"]
    assert error["message"] == "mutations are not allowed when using GET"
    assert error["extensions"]["code"] == "VALIDATION_FAILED"


def test_get_graphql_without_a_query_serves_graphiql(port: int) -> None:
    request = get("/graphql").replace(b"\r\n\r\n", b"\r\nAccept: text/html\r\n\r\n")
    with Connection(port) as connection:
        answer = connection.exchange(request)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert b"graphiql" in answer.body.lower()
