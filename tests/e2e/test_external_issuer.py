"""Tokens from an external OpenID provider: a key pair and its JWKS served by a local app on a
real socket. Accepted when the provider is configured, refused when it is not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings
from auth.external import ExternalIssuer, ExternalIssuerSettings
from auth.tokens import InvalidToken
from domain.model.customer import Membership
from domain.model.enums import Role
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from bearer import bearer
from clocks import TickingClock
from graphql_client import answer

ISSUER = "https://sso.example.test"
AUDIENCE = "provision-api"
VIEWER = {"query": "{ viewer { kind subject scopes } }"}
# The provider and the app that trusts it read the same time: the factories' "now".
CLOCK = TickingClock(f.NOW)


@dataclass
class Provider:
    """The external provider: its signing keys, and the JWKS it publishes."""

    url: str
    keys: list[RSAKey] = field(default_factory=list)
    fetches: int = 0

    def token(self, key: RSAKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(CLOCK.now().timestamp())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
        body.update(claims)
        return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def _new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    port = _free_port()
    state = Provider(url=f"http://127.0.0.1:{port}/jwks", keys=[_new_key("sso-1")])

    async def jwks(request: Request) -> JSONResponse:
        state.fetches += 1
        return JSONResponse(
            {"keys": [{**k.as_dict(private=False), "alg": "RS256"} for k in state.keys]}
        )

    config = uvicorn.Config(
        Starlette(routes=[Route("/jwks", jwks)]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the provider did not start"
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def trusting_app(database_url: str, provider: Provider) -> AsyncIterator[Starlette]:
    settings = Settings(
        database_url=database_url,
        pool_max=2,
        gc_interval=0,
        external_issuer=ISSUER,
        external_jwks_url=provider.url,
    )
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def trusting(trusting_app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=trusting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        yield http


async def test_a_configured_providers_token_becomes_a_principal(
    trusting: httpx.AsyncClient, provider: Provider
) -> None:
    token = provider.token(email="alice@example.test", scope="customers:read audit:read")
    response = await trusting.post("/graphql", json=VIEWER, headers=bearer(token))
    assert response.status_code == 200
    # Mapped: a portal user, its subject kept apart from ours, scopes cut to what it may hold.
    assert response.json()["data"]["viewer"] == {
        "kind": "PORTAL_USER",
        "subject": "ext:alice",
        "scopes": ["customers:read"],
    }


async def test_the_mapped_principal_sees_its_customers_through_memberships(
    trusting: httpx.AsyncClient, provider: Provider, clean_db: Database
) -> None:
    mine, theirs = f.customer("Mine"), f.customer("Theirs")
    await f.store(clean_db, mine, theirs)
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.customers.add_membership(Membership(mine.id, "ext:alice", Role.VIEWER))
        await uow.commit()
    body = (
        await trusting.post(
            "/graphql",
            json={"query": "{ customers { edges { node { company } } } }"},
            headers=bearer(provider.token()),
        )
    ).json()
    assert answer(body) == {"data": {"customers": {"edges": [{"node": {"company": "Mine"}}]}}}


async def test_the_same_token_is_refused_where_the_provider_is_not_configured(
    anonymous: httpx.AsyncClient, provider: Provider
) -> None:
    response = await anonymous.post("/graphql", json=VIEWER, headers=bearer(provider.token()))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def _hs256(provider: Provider) -> str:
    secret = OctKey.import_key(b"k" * 32)
    now = int(CLOCK.now().timestamp())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 60}
    return jwt.encode({"alg": "HS256", "kid": "sso-1"}, claims, secret)


BAD = {
    "wrong audience": lambda p: p.token(aud="someone-else"),
    "expired": lambda p: p.token(
        exp=int(CLOCK.now().timestamp()) - 600, iat=int(CLOCK.now().timestamp()) - 900
    ),
    "signed by a key it does not publish": lambda p: p.token(key=_new_key("sso-1")),
    "unknown kid": lambda p: p.token(key=_new_key("never-published")),
    "HS256": _hs256,
    "no subject": lambda p: p.token(sub=""),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_provider_tokens_are_refused(
    case: str, trusting: httpx.AsyncClient, provider: Provider
) -> None:
    response = await trusting.post("/graphql", json=VIEWER, headers=bearer(BAD[case](provider)))
    assert response.status_code == 401, case


async def test_a_key_rotation_at_the_provider_is_picked_up(provider: Provider) -> None:
    issuer = ExternalIssuer(
        ExternalIssuerSettings(
            issuer=ISSUER, jwks_url=provider.url, audience=AUDIENCE, refetch_interval_seconds=0
        )
    )
    try:
        now = CLOCK.now()
        assert (await issuer.validate(provider.token(), now))["sub"] == "alice"
        rotated = _new_key("sso-2")
        with pytest.raises(InvalidToken):  # not published yet
            await issuer.validate(provider.token(key=rotated), now)
        provider.keys.append(rotated)
        before = provider.fetches
        assert (await issuer.validate(provider.token(key=rotated, sub="bob"), now))["sub"] == "bob"
        assert provider.fetches == before + 1
        # Known keys are served from the cache: no fetch per token.
        await issuer.validate(provider.token(), now)
        assert provider.fetches == before + 1
    finally:
        provider.keys[1:] = []
        await issuer.close()


async def test_refetches_for_unknown_kids_are_rate_limited(provider: Provider) -> None:
    issuer = ExternalIssuer(
        ExternalIssuerSettings(issuer=ISSUER, jwks_url=provider.url, audience=AUDIENCE)
    )
    try:
        now: datetime = CLOCK.now()
        await issuer.validate(provider.token(), now)
        before = provider.fetches
        for n in range(5):
            with pytest.raises(InvalidToken):
                await issuer.validate(provider.token(key=_new_key(f"forged-{n}")), now)
        assert provider.fetches <= before + 1
    finally:
        await issuer.close()
