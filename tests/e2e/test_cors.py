"""A browser front end on an allowed origin can call the API (CORS), others cannot; every
answer carries headers that keep browsers from sniffing, framing or leaking it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from persistence.database import Database

import factories as f
from clocks import TickingClock

PORTAL = "https://portal.example"
PREFLIGHT = {
    "Origin": PORTAL,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture(scope="module")
async def open_to_portal(database_url: str) -> AsyncIterator[Starlette]:
    settings = Settings(
        database_url=database_url, pool_max=2, gc_interval=0, cors_origins=(PORTAL,)
    )
    application = create_app(settings, clock=TickingClock(f.NOW))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def browser(
    open_to_portal: Starlette, clean_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=open_to_portal)
    async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
        yield http


@pytest.mark.parametrize("path", ["/graphql", "/oauth/token", "/oauth/revoke"])
async def test_a_preflight_from_an_allowed_origin_is_answered(
    browser: httpx.AsyncClient, path: str
) -> None:
    response = await browser.options(path, headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


async def test_the_answer_to_an_allowed_origin_may_be_read(browser: httpx.AsyncClient) -> None:
    response = await browser.post(
        "/graphql", json={"query": "{ viewer { kind } }"}, headers={"Origin": PORTAL}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_another_origin_gets_no_cors_grant(browser: httpx.AsyncClient) -> None:
    elsewhere = {**PREFLIGHT, "Origin": "https://evil.example"}
    refused = await browser.options("/graphql", headers=elsewhere)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    answered = await browser.post(
        "/graphql", json={"query": "{ viewer { kind } }"}, headers={"Origin": elsewhere["Origin"]}
    )
    assert "access-control-allow-origin" not in answered.headers


async def test_by_default_no_origin_is_allowed(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.options("/graphql", headers=PREFLIGHT)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_answers_carry_security_headers(anonymous: httpx.AsyncClient) -> None:
    data = await anonymous.post("/graphql", json={"query": "{ viewer { kind } }"})
    page = await anonymous.get("/graphql", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    for response in (data, page, await anonymous.get("/healthz")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert data.headers["content-security-policy"].startswith("default-src 'none'")
