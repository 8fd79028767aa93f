"""A key rotation made by another process (``provision keys rotate``, another worker) reaches a
running server: tokens signed with the new key are accepted, tokens signed before the rotation
keep working for one token lifetime (the grace), and the JWKS publishes both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from auth.keys import rotate
from auth.tokens import issue_access_token
from domain.policy import grantable
from domain.principal import PrincipalKind

from bearer import SETTINGS, bearer, token_for
from clocks import TickingClock
from factories import NOW
from graphql_client import answer

VIEWER = {"query": "{ viewer { kind } }"}


@pytest.fixture(scope="module")
async def running(database_url: str) -> AsyncIterator[Starlette]:
    application = create_app(
        Settings(database_url=database_url, pool_max=2, gc_interval=0), clock=TickingClock(NOW)
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_a_rotation_elsewhere_is_picked_up_and_old_tokens_still_work(
    running: Starlette, database_url: str, app: Starlette
) -> None:
    before = token_for(running)
    old_kid = running.state.keys().current.kid
    connection = await asyncpg.connect(database_url)
    try:
        rotated = await rotate(connection, running.state.clock.now())  # as another process would
    finally:
        await connection.close()
    after = token_for(running, ring=rotated)
    assert rotated.current.kid != old_kid
    # Pretend the server loaded its keys a minute ago (reloads on demand are rate limited).
    running.state.keys._loaded_at -= 60

    transport = httpx.ASGITransport(app=running)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        for token in (after, before):
            response = await http.post("/graphql", json=VIEWER, headers=bearer(token))
            assert response.status_code == 200, response.text
            assert answer(response.json()) == {"data": {"viewer": {"kind": "STAFF"}}}
        published = {key["kid"] for key in (await http.get("/oauth/jwks")).json()["keys"]}
    assert {old_kid, rotated.current.kid} <= published
    assert running.state.keys().current.kid == rotated.current.kid  # it now signs with it
    await app.state.keys.reload()  # the session's app (other tests) learns the new key too


async def test_a_retired_key_verifies_for_one_token_lifetime_and_no_longer(
    database_url: str, app: Starlette
) -> None:
    """The grace is one token lifetime from the rotation, also for a token already verified
    (and remembered) by the server. The token here outlives the grace on purpose: minted with
    a longer lifetime than the server's (as before ``PROVISION_TOKEN_LIFETIME`` was lowered),
    only its key can end it."""
    clock = TickingClock(NOW)
    settings = Settings(database_url=database_url, pool_max=2, gc_interval=0)
    server = create_app(settings, clock=clock)
    async with server.router.lifespan_context(server):
        long_lived = issue_access_token(
            server.state.keys(),
            replace(SETTINGS, lifetime=timedelta(days=1)),
            clock.now(),
            subject="test:staff",
            client_id="e2e-tests",
            scopes=grantable(PrincipalKind.STAFF),
            extra={"provision_kind": "STAFF"},
        )
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
            assert (
                await http.post("/graphql", json=VIEWER, headers=bearer(long_lived))
            ).status_code == 200
            connection = await asyncpg.connect(database_url)
            try:
                await rotate(connection, clock.now())
            finally:
                await connection.close()
            await server.state.keys.reload()  # what the periodic refresh does
            clock.advance(settings.token_settings.lifetime - timedelta(seconds=5))
            within = await http.post("/graphql", json=VIEWER, headers=bearer(long_lived))
            assert within.status_code == 200, within.text
            fresh = token_for(server)
            clock.advance(timedelta(seconds=10))  # the grace is over
            await server.state.keys.reload()
            after = await http.post("/graphql", json=VIEWER, headers=bearer(long_lived))
            assert after.status_code == 401, after.text
            assert after.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            ok = await http.post("/graphql", json=VIEWER, headers=bearer(fresh))
            assert ok.status_code == 200, ok.text
    await app.state.keys.reload()  # the session's app signs with the new key
