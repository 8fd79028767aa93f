"""A fake tenant provisioner (the Switchboard-like API of docs/dedicated.md) on a real socket
(uvicorn in a thread): it records every call with its headers and body, and can be told to
answer the next N calls with an error."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger_peer import free_port

TOKEN = "provisioner-token"


@dataclass
class Call:
    method: str
    path: str
    body: Any
    idempotency_key: str | None
    authorization: str | None


@dataclass
class ProvisionerPeer:
    url: str
    calls: list[Call] = field(default_factory=list)
    fail_next: int = 0
    fail_message: str = "no capacity in eu-west-1"

    def reset(self) -> None:
        self.calls.clear()
        self.fail_next = 0

    def of(self, method: str, suffix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.endswith(suffix)]


def _app(peer: ProvisionerPeer) -> Starlette:
    async def handle(request: Request) -> JSONResponse:
        raw = await request.body()
        peer.calls.append(
            Call(
                request.method,
                request.url.path,
                orjson.loads(raw) if raw else None,
                request.headers.get("idempotency-key"),
                request.headers.get("authorization"),
            )
        )
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"message": "bad token"}, status_code=401)
        if peer.fail_next > 0:
            peer.fail_next -= 1
            return JSONResponse({"message": peer.fail_message}, status_code=503)
        return JSONResponse({"accepted": True}, status_code=202)

    return Starlette(
        routes=[
            Route("/api/v1/tenants", handle, methods=["POST"]),
            Route("/api/v1/tenants/{rest:path}", handle, methods=["POST", "PUT", "DELETE"]),
        ]
    )


@contextmanager
def serving_provisioner() -> Iterator[ProvisionerPeer]:
    port = free_port()
    peer = ProvisionerPeer(url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        _app(peer), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the provisioner did not start"
        time.sleep(0.02)
    try:
        yield peer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
