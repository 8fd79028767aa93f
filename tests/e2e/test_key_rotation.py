"""A key rotation made by another process (``provision keys rotate``, another worker) reaches a
running server: tokens signed with the new key are accepted, tokens signed before the rotation
keep working, and the JWKS publishes both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from auth.keys import rotate

from bearer import bearer, token_for
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
