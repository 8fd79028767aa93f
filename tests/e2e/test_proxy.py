"""``provision serve`` behind a reverse proxy, as docs/deploy.md advises: a real ``serve``
process with ``--proxy-headers --forwarded-allow-ips …`` and a small proxy of ours in front on
127.0.0.1 that forwards ``X-Forwarded-For`` (the address it was called from), ``-Proto``
(``https``: it "terminates TLS") and ``-Host``.

The clients call the proxy from other loopback addresses (127.0.0.2, 127.0.0.3: the whole of
127/8 is the loopback interface), so each is a different client to the proxy. With the proxy
trusted, what depends on the client's address and scheme sees the forwarded values: the
token endpoint's failure limit counts per client address, and the access line names the
client and ``https``. With the proxy not in ``--forwarded-allow-ips``, the headers are
ignored: every client is the proxy's 127.0.0.1 (one shared limit), on ``http``. Either way
the URLs Provision publishes are its configured issuer's, never the forwarded host's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from persistence.database import Database

from provision_process import environment, free_port, serving

# Two `provision serve` processes, each started and stopped: over 15 s on a shared machine.
pytestmark = pytest.mark.slow

ISSUER = "https://provision.example"
PROXY = "127.0.0.1"
ALICE, BOB = "127.0.0.2", "127.0.0.3"
LIMIT = 3
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
    "content-length",
    "host",
}


def reverse_proxy(upstream: str) -> Starlette:
    """What nginx's ``proxy_set_header X-Forwarded-For $remote_addr`` (and -Proto, -Host)
    does: the client's own forwarded headers are replaced, never passed on."""
    clients: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=upstream, timeout=30) as upstream_client:
            clients.append(upstream_client)
            yield

    async def forward(request: Request) -> Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in HOP_BY_HOP and not k.startswith("x-forwarded-")
        }
        assert request.client is not None
        headers["x-forwarded-for"] = request.client.host
        headers["x-forwarded-proto"] = "https"
        headers["x-forwarded-host"] = request.headers["host"]
        answer = await clients[0].request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=await request.body(),
        )
        return Response(
            answer.content,
            status_code=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k not in HOP_BY_HOP},
        )

    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"]
    return Starlette(
        routes=[Route("/{path:path}", forward, methods=methods)],
        lifespan=lifespan,
    )


@contextmanager
def behind_proxy(database_url: str, tmp_path: Path, allow: str) -> Iterator[tuple[str, Path]]:
    """``provision serve --proxy-headers --forwarded-allow-ips ALLOW`` and the proxy in
    front; yields the proxy's URL and the server's log (JSON lines)."""
    env = environment(tmp_path / "unused-data", database_url)
    env.update(
        {
            "PROVISION_ISSUER": ISSUER,
            "PROVISION_LOG_FORMAT": "json",
            "PROVISION_TOKEN_FAILURES_PER_ADDRESS": str(LIMIT),
            "PROVISION_TOKEN_FAILURES_PER_CLIENT": "1000",
        }
    )
    args = ("--proxy-headers", "--forwarded-allow-ips", allow)
    with serving(env, tmp_path / allow.replace("*", "all"), args=args) as served:
        port = free_port()
        with _serving_edge(reverse_proxy(served.base), port):
            yield f"http://{PROXY}:{port}", served.log


@contextmanager
def _serving_edge(app: Starlette, port: int) -> Iterator[None]:
    """The proxy under uvicorn in a thread; its own uvicorn must not read forwarded headers
    (it is the edge: nothing in front of it is trusted)."""
    config = uvicorn.Config(
        app, host=PROXY, port=port, log_level="warning", proxy_headers=False, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the proxy stopped while starting"
        assert time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client_at(address: str, proxy: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address``."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, base_url=proxy, timeout=30)


def bad_token_request(http: httpx.Client, n: int) -> int:
    """A client-credentials request with a wrong secret: a counted failure (a new client id
    each time, so only the per-address limit can trip)."""
    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(f"cl_nobody_{n}", "wrong"),
        headers={"x-forwarded-for": "198.51.100.99"},  # the proxy must not pass it on
    )
    return response.status_code


def access_line(log: Path, request_id: str) -> dict[str, Any]:
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger") == "provision.access" and record.get("request_id") == request_id:
            return dict(record)
    raise AssertionError(f"no access line for {request_id}:\n{log.read_text()}")


def test_a_trusted_proxy_gives_the_client_address_and_scheme(
    clean_db: Database, database_url: str, tmp_path: Path
) -> None:
    with (
        behind_proxy(database_url, tmp_path, PROXY) as (proxy, log),
        client_at(ALICE, proxy) as alice,
        client_at(BOB, proxy) as bob,
    ):
        # Alice's failures count against Alice's address, not Bob's.
        assert [bad_token_request(alice, n) for n in range(LIMIT)] == [401] * LIMIT
        limited = alice.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("cl_x", "wrong")
        )
        assert limited.status_code == 429
        assert limited.json()["error"] == "temporarily_unavailable"
        assert bad_token_request(bob, 99) == 401

        probe = bob.get("/healthz", headers={"x-request-id": "proxy-trusted-1"})
        assert probe.status_code == 200
        discovery = bob.get("/.well-known/openid-configuration").json()
    line = access_line(log, "proxy-trusted-1")
    assert (line["client"], line["scheme"]) == (BOB, "https")
    assert line["path"] == "/healthz"
    # Published URLs are the configured issuer's, not the forwarded host's.
    assert discovery["issuer"] == ISSUER
    assert discovery["token_endpoint"] == f"{ISSUER}/oauth/token"


def test_an_untrusted_proxy_is_ignored(
    clean_db: Database, database_url: str, tmp_path: Path
) -> None:
    # The proxy is 127.0.0.1; only 127.0.0.9 is trusted.
    with (
        behind_proxy(database_url, tmp_path, "127.0.0.9") as (proxy, log),
        client_at(ALICE, proxy) as alice,
        client_at(BOB, proxy) as bob,
    ):
        assert [bad_token_request(alice, n) for n in range(LIMIT)] == [401] * LIMIT
        # Every client is the proxy's address: Bob shares Alice's limit.
        assert bad_token_request(bob, 99) == 429

        probe = bob.get("/healthz", headers={"x-request-id": "proxy-untrusted-1"})
        assert probe.status_code == 200
        discovery = bob.get("/.well-known/openid-configuration").json()
    line = access_line(log, "proxy-untrusted-1")
    assert (line["client"], line["scheme"]) == (PROXY, "http")
    assert discovery["issuer"] == ISSUER
