"""Bearer tokens over HTTP: anonymous without one, a principal with a valid one, 401 with a
challenge for anything else; the keys are published."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from api.clock import SystemClock
from api.settings import Settings
from auth.backend import KIND_CLAIM, PARTNER_CLAIM
from auth.keys import KeyRing, new_key
from auth.tokens import issue_access_token

VIEWER = {"query": "{ viewer { kind subject scopes } }"}
SETTINGS = Settings().token_settings


def _token(app: Starlette, *, kind: str = "STAFF", **overrides: object) -> str:
    now = overrides.pop("now", SystemClock().now())
    ring = overrides.pop("ring", app.state.keys())
    return issue_access_token(
        ring,  # type: ignore[arg-type]
        SETTINGS,
        now,  # type: ignore[arg-type]
        subject="client:support-console",
        client_id="support-console",
        scopes=["subscriptions:read", "customers:read"],
        extra={KIND_CLAIM: kind, PARTNER_CLAIM: None, **overrides},
    )


async def test_without_a_token_the_caller_is_anonymous(anonymous: httpx.AsyncClient) -> None:
    body = (await anonymous.post("/graphql", json=VIEWER)).json()
    assert body == {"data": {"viewer": {"kind": "ANONYMOUS", "subject": None, "scopes": []}}}


async def test_a_valid_token_makes_the_principal(client: httpx.AsyncClient, app: Starlette) -> None:
    response = await client.post(
        "/graphql", json=VIEWER, headers={"Authorization": f"Bearer {_token(app)}"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"] == {
        "kind": "STAFF",
        "subject": "client:support-console",
        "scopes": ["customers:read", "subscriptions:read"],
    }


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "bearer a.b.c",
    ],
)
async def test_a_bad_authorization_header_is_a_401_challenge(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.post("/graphql", json=VIEWER, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_expired_foreign_and_kindless_tokens_are_refused(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    expired = _token(app, now=SystemClock().now() - timedelta(hours=1))
    foreign = _token(app, ring=KeyRing((new_key(SystemClock().now()),)))
    nobody = _token(app, kind="ANONYMOUS")
    unknown = _token(app, kind="ROOT")
    for token in (expired, foreign, nobody, unknown):
        response = await client.post(
            "/graphql", json=VIEWER, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token


async def test_the_keys_and_discovery_are_published(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    jwks = (await client.get("/oauth/jwks")).json()
    current = app.state.keys().current.kid
    assert current in {key["kid"] for key in jwks["keys"]}
    assert all(set(key) >= {"kty", "n", "e", "kid", "alg", "use"} for key in jwks["keys"])
    assert not any("d" in key for key in jwks["keys"])
    discovery = (await client.get("/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == SETTINGS.issuer
    assert discovery["jwks_uri"].endswith("/oauth/jwks")
