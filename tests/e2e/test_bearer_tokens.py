"""Bearer tokens over HTTP: anonymous without one, a principal with a valid one, 401 with a
challenge for anything else; the keys are published."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from api.settings import Settings
from auth.backend import KIND_CLAIM, PARTNER_CLAIM
from auth.keys import KeyRing, new_key
from auth.tokens import issue_access_token

from bearer import bearer, token_for
from graphql_client import answer

VIEWER = {"query": "{ viewer { kind subject scopes } }"}
SETTINGS = Settings().token_settings


def _token(app: Starlette, *, kind: str = "STAFF", **overrides: object) -> str:
    now = overrides.pop("now", app.state.clock.now())
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
    assert answer(body) == {
        "data": {"viewer": {"kind": "ANONYMOUS", "subject": None, "scopes": []}}
    }


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
    expired = _token(app, now=app.state.clock.now() - timedelta(hours=1))
    foreign = _token(app, ring=KeyRing((new_key(app.state.clock.now()),)))
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _tampered(app: Starlette) -> str:
    header, payload, signature = token_for(app).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _unsigned(app: Starlette) -> str:
    _, payload, _ = token_for(app).split(".")
    kid = app.state.keys().current.kid
    header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode())
    return f"{header}.{payload}."


def _hs256_with_public_key(app: Starlette) -> str:
    _, payload, _ = token_for(app).split(".")
    current = app.state.keys().current
    header = _b64(json.dumps({"alg": "HS256", "kid": current.kid, "typ": "at+jwt"}).encode())
    public_pem = current.key.as_pem(private=False)
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _elsewhere(app: Starlette, **settings: str) -> str:
    other = dataclasses.replace(SETTINGS, **settings)
    return issue_access_token(
        app.state.keys(),
        other,
        app.state.clock.now(),
        subject="x",
        client_id="x",
        scopes=["customers:read"],
        extra={KIND_CLAIM: "STAFF"},
    )


BAD_TOKENS = {
    "tampered signature": _tampered,
    "wrong issuer": lambda app: _elsewhere(app, issuer="https://evil.example"),
    "wrong audience": lambda app: _elsewhere(app, audience="another-api"),
    "expired": lambda app: token_for(app, now=app.state.clock.now() - timedelta(hours=2)),
    "unknown kid": lambda app: token_for(app, ring=KeyRing((new_key(app.state.clock.now()),))),
    "alg none": _unsigned,
    "HS256 signed with the public key": _hs256_with_public_key,
}


@pytest.mark.parametrize("attack", list(BAD_TOKENS))
async def test_each_bad_token_is_a_401_over_http(
    attack: str, app: Starlette, anonymous: httpx.AsyncClient
) -> None:
    token = BAD_TOKENS[attack](app)
    query = {"query": "{ subscriptions { totalCount } }"}
    response = await anonymous.post("/graphql", json=query, headers=bearer(token))
    assert response.status_code == 401, attack
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "data" not in response.json()
    good = await anonymous.post("/graphql", json=query, headers=bearer(token_for(app)))
    assert good.status_code == 200  # the same request with a good token passes
