"""Helpers for the OAuth e2e tests: register clients and users, walk the browser part of the
authorization code flow over HTTP, and read a JWT's claims (no verification: the API does)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from auth.registry import NewClient, NewUser, register_client, register_user
from auth.store import OAuthStore
from domain.principal import PrincipalKind
from persistence.database import Database

import factories as f

REDIRECT_URI = "https://portal.example/callback"
OTHER_REDIRECT_URI = "https://portal.example/other"
PASSWORD = "correct horse battery staple"
NOW = f.NOW


class MovableClock:
    """A clock that stands still at the factories' "now" until the test moves it."""

    def __init__(self) -> None:
        self._now = f.NOW

    def now(self) -> datetime:
        return self._now

    def today(self) -> Any:
        return self._now.date()

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def store(db: Database) -> OAuthStore:
    return OAuthStore(lambda: db.pool)


async def portal_client(db: Database, *, confidential: bool = False, **kwargs: Any) -> NewClient:
    return await register_client(
        store(db),
        kind=PrincipalKind.PORTAL_USER,
        name=kwargs.pop("name", "Customer portal"),
        now=NOW,
        redirect_uris=[REDIRECT_URI, OTHER_REDIRECT_URI],
        confidential=confidential,
        **kwargs,
    )


async def machine_client(db: Database, kind: PrincipalKind, **kwargs: Any) -> NewClient:
    return await register_client(
        store(db), kind=kind, name=kwargs.pop("name", f"{kind.value} robot"), now=NOW, **kwargs
    )


async def user(db: Database, email: str = "ada@example.com", *, staff: bool = False) -> NewUser:
    return await register_user(store(db), email=email, password=PASSWORD, now=NOW, staff=staff)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_params(
    client_id: str, challenge: str | None, /, **overrides: str | None
) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "customers:read subscriptions:read",
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def sign_in(
    http: httpx.AsyncClient,
    client_id: str,
    challenge: str,
    /,
    *,
    email: str = "ada@example.com",
    password: str = PASSWORD,
    **overrides: str | None,
) -> httpx.Response:
    form = {**authorize_params(client_id, challenge, **overrides), "email": email}
    form["password"] = password
    return await http.post("/oauth/authorize", data=form)


async def code_for(
    http: httpx.AsyncClient, client_id: str, challenge: str, **overrides: str | None
) -> str:
    response = await sign_in(http, client_id, challenge, **overrides)
    assert response.status_code == 302, response.text
    return query_of(response.headers["location"])["code"]


async def exchange(
    http: httpx.AsyncClient,
    client_id: str,
    code: str,
    verifier: str | None,
    redirect_uri: str = REDIRECT_URI,
    **extra: str,
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": redirect_uri,
        **extra,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return await http.post("/oauth/token", data=form)


async def refresh(http: httpx.AsyncClient, client_id: str, token: str) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token},
    )


async def viewer(http: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": "{ viewer { kind subject scopes } }"},
        headers={"Authorization": f"Bearer {access_token}"},
    )


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded
