"""The authorization code flow over HTTP: sign-in page, code, PKCE exchange, the API with the
token, refresh rotation with family revocation on reuse, revocation, and every refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from domain.principal import PrincipalKind
from persistence.database import Database

from oauth_flow import (
    OTHER_REDIRECT_URI,
    REDIRECT_URI,
    MovableClock,
    authorize_params,
    claims,
    code_for,
    exchange,
    machine_client,
    pkce,
    portal_client,
    query_of,
    refresh,
    sign_in,
    user,
    viewer,
)


async def test_the_whole_flow_rotation_and_family_revocation(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    ada = await user(clean_db)
    verifier, challenge = pkce()

    page = await client.get(
        "/oauth/authorize", params=authorize_params(portal.client_id, challenge)
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert "Customer portal" in page.text
    assert "customers:read" in page.text
    assert "subscriptions:read" in page.text
    assert f'value="{challenge}"' in page.text

    signed_in = await sign_in(client, portal.client_id, challenge)
    assert signed_in.status_code == 302
    location = signed_in.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    returned = query_of(location)
    assert returned["state"] == "state-123"

    tokens = await exchange(client, portal.client_id, returned["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "customers:read subscriptions:read"
    assert body["expires_in"] == 900
    access = claims(body["access_token"])
    assert access["sub"] == ada.subject
    assert access["client_id"] == portal.client_id
    assert access["provision_kind"] == "PORTAL_USER"
    assert access["email"] == "ada@example.com"
    assert access["sid"]

    me = await viewer(client, body["access_token"])
    assert me.json()["data"]["viewer"] == {
        "kind": "PORTAL_USER",
        "subject": ada.subject,
        "scopes": ["customers:read", "subscriptions:read"],
    }

    rotated = await refresh(client, portal.client_id, body["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != body["refresh_token"]
    assert claims(second["access_token"])["sid"] == access["sid"]
    assert (await viewer(client, second["access_token"])).status_code == 200

    reused = await refresh(client, portal.client_id, body["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # The reuse revoked the family: the newest refresh token and the access tokens die too.
    after = await refresh(client, portal.client_id, second["refresh_token"])
    assert after.json()["error"] == "invalid_grant"
    refused = await viewer(client, second["access_token"])
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_revoking_a_refresh_token_or_an_access_token_revokes_the_sign_in(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    for kind in ("refresh_token", "access_token"):
        verifier, challenge = pkce()
        code = await code_for(client, portal.client_id, challenge)
        body = (await exchange(client, portal.client_id, code, verifier)).json()
        revoked = await client.post(
            "/oauth/revoke",
            data={"token": body[kind], "token_type_hint": kind, "client_id": portal.client_id},
        )
        assert revoked.status_code == 200, revoked.text
        assert revoked.headers["cache-control"] == "no-store"
        assert (await viewer(client, body["access_token"])).status_code == 401
        assert (await refresh(client, portal.client_id, body["refresh_token"])).json()[
            "error"
        ] == "invalid_grant"


async def test_revocation_of_unknown_and_of_session_less_tokens(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    unknown = await client.post(
        "/oauth/revoke", data={"token": "no-such-token", "client_id": portal.client_id}
    )
    assert unknown.status_code == 200
    robot = await machine_client(clean_db, PrincipalKind.STAFF)
    assert robot.client_secret
    auth = (robot.client_id, robot.client_secret)
    issued = await client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    refused = await client.post("/oauth/revoke", data={"token": token}, auth=auth)
    assert refused.status_code == 400
    assert refused.json()["error"] == "unsupported_token_type"
    anonymous = await client.post("/oauth/revoke", data={"token": token})
    assert anonymous.status_code in (400, 401)
    assert anonymous.json()["error"] == "invalid_client"


async def test_a_wrong_or_missing_verifier_is_refused(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    _, challenge = pkce()
    code = await code_for(client, portal.client_id, challenge)
    wrong = await exchange(client, portal.client_id, code, pkce()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    missing = await exchange(client, portal.client_id, code, None)
    assert missing.json()["error"] == "invalid_request"


async def test_a_reused_code_is_refused_and_revokes_what_it_gave(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    verifier, challenge = pkce()
    code = await code_for(client, portal.client_id, challenge)
    first = await exchange(client, portal.client_id, code, verifier)
    assert first.status_code == 200
    again = await exchange(client, portal.client_id, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert (await viewer(client, first.json()["access_token"])).status_code == 401
    stale = await refresh(client, portal.client_id, first.json()["refresh_token"])
    assert stale.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT_URI + "/"},  # exact match only
        {"redirect_uri": None},
        {"client_id": "cl_unknown"},
        {"client_id": None},
    ],
)
async def test_an_unknown_client_or_redirect_uri_gets_a_page_never_a_redirect(
    client: httpx.AsyncClient, clean_db: Database, overrides: dict[str, str | None]
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    _, challenge = pkce()
    params = authorize_params(portal.client_id, challenge, **overrides)
    page = await client.get("/oauth/authorize", params=params)
    assert page.status_code == 400
    assert "location" not in page.headers
    assert page.headers["content-type"].startswith("text/html")
    posted = await sign_in(client, portal.client_id, challenge, **overrides)
    assert posted.status_code == 400
    assert "location" not in posted.headers


async def test_a_different_redirect_uri_at_the_token_endpoint_is_invalid_grant(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    verifier, challenge = pkce()
    code = await code_for(client, portal.client_id, challenge)
    response = await exchange(client, portal.client_id, code, verifier, OTHER_REDIRECT_URI)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),  # defaults to plain
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "no:such"}, "invalid_scope"),
    ],
)
async def test_other_errors_go_back_to_the_client(
    client: httpx.AsyncClient,
    clean_db: Database,
    overrides: dict[str, str | None],
    error: str,
) -> None:
    portal = await portal_client(clean_db)
    _, challenge = pkce()
    params = authorize_params(portal.client_id, challenge, **overrides)
    response = await client.get("/oauth/authorize", params=params)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    assert query_of(location)["error"] == error
    assert query_of(location)["state"] == "state-123"


async def test_a_staff_user_gets_a_staff_token_and_a_confidential_client_must_authenticate(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db, confidential=True, scopes=["audit:read"])
    await user(clean_db, "grace@example.com", staff=True)
    verifier, challenge = pkce()
    code = await code_for(
        client, portal.client_id, challenge, email="grace@example.com", scope="audit:read"
    )
    no_secret = await exchange(client, portal.client_id, code, verifier)
    assert no_secret.status_code == 401
    assert no_secret.json()["error"] == "invalid_client"
    assert portal.client_secret
    tokens = await exchange(
        client, portal.client_id, code, verifier, client_secret=portal.client_secret
    )
    assert tokens.status_code == 200, tokens.text
    access = claims(tokens.json()["access_token"])
    assert access["provision_kind"] == "STAFF"
    assert access["scope"] == "audit:read"


@pytest.fixture
async def clocked(
    database_url: str, clean_db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, MovableClock]]:
    clock = MovableClock()
    app = create_app(Settings(database_url=database_url, pool_max=2, gc_interval=0), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://provision.test") as http:
            yield http, clock


async def test_a_code_lives_sixty_seconds(
    clocked: tuple[httpx.AsyncClient, MovableClock], clean_db: Database
) -> None:
    http, clock = clocked
    portal = await portal_client(clean_db)
    await user(clean_db)
    verifier, challenge = pkce()
    code = await code_for(http, portal.client_id, challenge)
    clock.advance(timedelta(seconds=61))
    late = await exchange(http, portal.client_id, code, verifier)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"
    verifier, challenge = pkce()
    code = await code_for(http, portal.client_id, challenge)
    clock.advance(timedelta(seconds=59))
    assert (await exchange(http, portal.client_id, code, verifier)).status_code == 200
