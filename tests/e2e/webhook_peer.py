"""A webhook receiver for the e2e tests: a Starlette app on a real socket (uvicorn in a thread)
that verifies every delivery with the ``standardwebhooks`` package - an implementation
independent of ours - and can be told to fail (500) for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledger_peer import free_port


@dataclass
class Attempt:
    headers: dict[str, str]
    body: bytes
    verified: dict[str, Any] | None
    """What ``Webhook(secret).verify`` returned; None when it refused (``refusal``)."""
    refusal: str | None
    status: int


@dataclass
class WebhookPeer:
    url: str
    secret: str | None = None
    failing: bool = False
    """Answer 500 to every delivery (after verifying it) while set."""
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    @property
    def accepted(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == 204]


def _app(peer: WebhookPeer) -> Starlette:
    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        verified: dict[str, Any] | None = None
        refusal: str | None = None
        try:
            assert peer.secret is not None, "the test did not give the peer its secret"
            verified = Webhook(peer.secret).verify(body, headers)
        except WebhookVerificationError as error:
            refusal = str(error)
        status = 400 if refusal else 500 if peer.failing else 204
        peer.attempts.append(Attempt(headers, body, verified, refusal, status))
        return Response(status_code=status)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@contextmanager
def serving_webhook_peer() -> Iterator[WebhookPeer]:
    port = free_port()
    peer = WebhookPeer(url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        _app(peer), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the webhook peer did not start"
        time.sleep(0.02)
    try:
        yield peer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
