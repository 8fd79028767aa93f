"""Connections over TCP: keep-alive, pipelining, many at once, clients that stall or vanish."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from graphql_client import answer as without_cost
from provision_process import Served
from raw_http import Connection, get, post_graphql

VIEWER = "{ viewer { kind subject } }"
ANONYMOUS = {"data": {"viewer": {"kind": "ANONYMOUS", "subject": None}}}


def test_keep_alive_answers_two_requests_on_one_connection(port: int) -> None:
    with Connection(port) as connection:
        first = connection.exchange(get("/healthz"))
        second = connection.exchange(post_graphql(VIEWER))
        assert connection.silent_for(0.2), "the connection stays open after both answers"
    assert first.status == second.status == 200
    assert "connection" not in first.headers  # HTTP/1.1's default: keep-alive
    assert first.json() == {"status": "ok"}
    assert without_cost(second.json()) == ANONYMOUS


def test_httpx_reuses_its_connection(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=5) as client:
        local_addresses = set()
        responses = []
        for path in ("/healthz", "/readyz", "/healthz"):
            response = client.get(path)
            responses.append(response)
            local_addresses.add(response.extensions["network_stream"].get_extra_info("client_addr"))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert {r.http_version for r in responses} == {"HTTP/1.1"}
    assert len(local_addresses) == 1, local_addresses


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    # The first needs the database, the last does not: answers still come in request order.
    pipeline = (
        get("/readyz", request_id="pipe-1")
        + post_graphql(VIEWER, request_id="pipe-2")
        + get("/healthz", request_id="pipe-3")
    )
    with Connection(port) as connection:
        connection.send(pipeline)
        answers = [connection.read_response() for _ in range(3)]
        assert connection.silent_for(0.2)
    assert [a.headers["x-request-id"] for a in answers] == ["pipe-1", "pipe-2", "pipe-3"]
    assert [without_cost(a.json()) for a in answers] == [
        {"status": "ready"},
        ANONYMOUS,
        {"status": "ok"},
    ]


def test_twenty_connections_at_once_are_all_answered(port: int) -> None:
    connections = [Connection(port) for _ in range(20)]
    try:
        # Every connection is open and has sent its request before any answer is read.
        for number, connection in enumerate(connections):
            connection.send(post_graphql(VIEWER, request_id=f"conn-{number}"))
        answers = [connection.read_response() for connection in connections]
    finally:
        for connection in connections:
            connection.close()
    assert [a.status for a in answers] == [200] * 20
    assert [a.headers["x-request-id"] for a in answers] == [f"conn-{n}" for n in range(20)]
    assert all(without_cost(a.json()) == ANONYMOUS for a in answers)
    assert len({c.local_port for c in connections}) == 20


async def test_twenty_concurrent_httpx_requests_with_a_token(
    served: Served, staff_token: str
) -> None:
    async with httpx.AsyncClient(
        base_url=served.base,
        timeout=10,
        limits=httpx.Limits(max_connections=20),
        headers={"Authorization": f"Bearer {staff_token}"},
    ) as client:
        responses = await asyncio.gather(
            *(client.post("/graphql", json={"query": VIEWER}) for _ in range(20))
        )
    assert {r.status_code for r in responses} == {200}
    assert all(
        without_cost(r.json()) == {"data": {"viewer": {"kind": "STAFF", "subject": "socket:staff"}}}
        for r in responses
    )


HALF_REQUESTS = {
    "half a request line": b"POST /gra",
    "half the headers": b"POST /graphql HTTP/1.1\r\nHost: provision.test\r\nContent-Le",
    "headers, half the body": post_graphql(VIEWER)[:-10],
}


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "reset"])
@pytest.mark.parametrize("half", HALF_REQUESTS.values(), ids=HALF_REQUESTS.keys())
def test_a_client_that_vanishes_mid_request_breaks_nothing(
    port: int, half: bytes, reset: bool
) -> None:
    with Connection(port) as bystander:
        assert bystander.exchange(get("/healthz")).status == 200
        vanishing = Connection(port)
        vanishing.send(half)
        time.sleep(0.05)  # the server has read the half request
        if reset:
            vanishing.abort()
        else:
            vanishing.close()
        # The open keep-alive connection and a new one are both still served.
        assert without_cost(bystander.exchange(post_graphql(VIEWER)).json()) == ANONYMOUS
        with Connection(port) as newcomer:
            assert without_cost(newcomer.exchange(post_graphql(VIEWER)).json()) == ANONYMOUS


def test_a_slow_client_gets_its_answer(port: int) -> None:
    request = post_graphql(VIEWER)
    head_end = request.index(b"\r\n\r\n") + 4
    pieces = [request[:10], request[10:head_end]]
    pieces += [request[at : at + 8] for at in range(head_end, len(request), 8)]
    with Connection(port) as connection:
        started = time.monotonic()
        for piece in pieces:
            connection.send(piece)
            time.sleep(0.1)
        answer = connection.read_response()
    assert time.monotonic() - started >= 0.1 * len(pieces)
    assert len(pieces) >= 6
    assert answer.status == 200
    assert without_cost(answer.json()) == ANONYMOUS
