"""The real app over ASGI (httpx), on the session's database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from persistence.database import Database

from bearer import ADMIN, bearer, token_for
from clocks import SESSION_CLOCK
from graphql_client import GraphQL


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Starlette]:
    # The collector is left alone: the test process is no server (test_garbage_collection).
    # The clock reads the factories' "now", whatever the calendar says (tests/clocks.py).
    application = create_app(
        Settings(
            database_url=database_url,
            pool_max=5,
            gc_interval=0,
            webhooks_allow_http_loopback=True,
            # PROVISION_TEST_FAST_READS=0 runs the suite on the usual read path only.
            fast_reads=os.environ.get("PROVISION_TEST_FAST_READS", "1") != "0",
        ),
        clock=SESSION_CLOCK,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls as staff with every scope (most tests are not about access)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=bearer(token_for(app))
    ) as http:
        yield http


@pytest.fixture
async def anonymous(app: Starlette, clean_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client without a token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)


@pytest.fixture(scope="session")
async def gitlab_com_app(database_url: str) -> AsyncIterator[Starlette]:
    """The app with GitLab.com's admin pair configured (the session's ``app`` has none)."""
    application = create_app(
        Settings(
            database_url=database_url,
            pool_max=2,
            gc_interval=0,
            gitlab_com_admin_email=ADMIN["X-Admin-Email"],
            gitlab_com_admin_token=ADMIN["X-Admin-Token"],
        ),
        clock=SESSION_CLOCK,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def gitlab_com(
    gitlab_com_app: Starlette, clean_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """GitLab.com as it calls: the admin pair on every request, no bearer token."""
    transport = httpx.ASGITransport(app=gitlab_com_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://provision.test", headers=ADMIN
    ) as http:
        yield http
