"""A fake GitLab.com for the provisioning tests, and our API served on a real socket for it.

The fake verifies every ``X-Customers-Dot-Internal-Token`` the way GitLab does: it fetches our
``/.well-known/openid-configuration`` and JWKS over HTTP and checks the signature, iss, sub,
aud and exp. It records each provision call and can be told to misbehave: answer 500 to the
first N calls, 422 with some sections failed, or never answer the first call (its worker is
killed).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings

from ledger_peer import free_port


@dataclass
class Call:
    namespace: str
    body: dict[str, Any]
    claims: dict[str, Any]


@dataclass
class FakeGitLab:
    url: str
    portal: str
    """Our issuer, where the discovery document is fetched (GitLab's configured portal URL)."""
    calls: list[Call] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    fail_times: int = 0
    failing_sections: Counter[str] = field(default_factory=Counter)
    """Section name → how many more calls answer it with an error."""
    hang_first: bool = False
    closing: bool = False

    def reset(self) -> None:
        self.calls.clear()
        self.refusals.clear()
        self.fail_times = 0
        self.failing_sections.clear()
        self.hang_first = False


async def _verify(fake: FakeGitLab, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as http:
        discovery = (await http.get(f"{fake.portal}/.well-known/openid-configuration")).json()
        jwks = (await http.get(discovery["jwks_uri"])).json()
    decoded = jwt.decode(
        token,
        KeySet.import_key_set(jwks),
        algorithms=discovery["id_token_signing_alg_values_supported"],
    )
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        sub={"essential": True, "value": "customers-dot-internal-api"},
        aud={"essential": True, "value": "gitlab-subscriptions"},
        exp={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.claims)


def _app(fake: FakeGitLab) -> Starlette:
    async def provision(request: Request) -> Response:
        token = request.headers.get("x-customers-dot-internal-token", "")
        try:
            claims = await _verify(fake, token)
        except (JoseError, ValueError) as error:
            fake.refusals.append(type(error).__name__)
            return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
        body = await request.json()
        fake.calls.append(Call(request.path_params["id"], body, claims))
        if fake.hang_first and len(fake.calls) == 1:
            while not fake.closing:  # noqa: ASYNC110 - a plain flag set by the test thread
                await asyncio.sleep(0.05)
            return Response(status_code=503)
        if len(fake.calls) <= fake.fail_times:
            return JSONResponse({"message": "500 Internal Server Error"}, status_code=500)
        sections: dict[str, dict[str, str]] = {}
        for name in body["provision"]:
            if fake.failing_sections[name] > 0:
                fake.failing_sections[name] -= 1
                sections[name] = {"status": "error", "message": f"{name} could not be saved"}
            else:
                sections[name] = {"status": "success"}
        failed = any(s["status"] == "error" for s in sections.values())
        return JSONResponse(
            {
                "status": "error" if failed else "success",
                "message": "some sections failed" if failed else None,
                "payload": sections,
            },
            status_code=422 if failed else 200,
        )

    return Starlette(
        routes=[
            Route(
                "/api/v4/internal/gitlab_subscriptions/namespaces/{id}/provision",
                provision,
                methods=["POST"],
            )
        ]
    )


@contextmanager
def _serving(app: Any, port: int, lifespan: str) -> Iterator[uvicorn.Server]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan=lifespan,
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving_api(database_url: str, port: int | None = None, **settings: Any) -> Iterator[str]:
    """Our API on a real socket (its issuer is its own URL), with any other ``settings``;
    yields that URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(
        Settings(
            database_url=database_url,
            issuer=url,
            port=port,
            pool_max=2,
            gc_interval=0,
            **settings,
        )
    )
    with _serving(app, port, "on"):
        yield url


@contextmanager
def serving_gitlab(portal: str) -> Iterator[FakeGitLab]:
    port = free_port()
    fake = FakeGitLab(url=f"http://127.0.0.1:{port}", portal=portal)
    with _serving(_app(fake), port, "off"):
        try:
            yield fake
        finally:
            fake.closing = True  # a hanging call returns, so the server can stop
