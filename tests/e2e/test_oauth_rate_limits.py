"""Sign-in tells nobody whether an email exists, and failed attempts are limited per account,
per address and per client, with 429 and Retry-After."""

from __future__ import annotations

import re

import httpx

from domain.principal import PrincipalKind
from persistence.database import Database

from oauth_flow import PASSWORD, machine_client, pkce, portal_client, sign_in, user

KNOWN = "ada@example.com"
UNKNOWN = "nobody@example.com"


def _without_echo(html: str, email: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html.replace(email, "EMAIL"))


async def test_a_wrong_password_and_an_unknown_email_answer_alike(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, KNOWN)
    _, challenge = pkce()
    known = await sign_in(client, portal.client_id, challenge, email=KNOWN, password="wrong-pass")
    unknown = await sign_in(client, portal.client_id, challenge, email=UNKNOWN, password="x")
    assert known.status_code == unknown.status_code == 200
    assert "The email or password is wrong." in known.text
    assert _without_echo(known.text, KNOWN) == _without_echo(unknown.text, UNKNOWN)
    assert dict(known.headers).keys() == dict(unknown.headers).keys()
    missing = await client.post(
        "/oauth/authorize", data={"client_id": portal.client_id, "email": KNOWN}
    )
    assert missing.status_code == 400  # no redirect_uri: a page, not a redirect
    garbage = await client.post("/oauth/authorize", json={"client_id": portal.client_id})
    assert garbage.status_code == 400


async def test_an_account_is_limited_alike_whether_it_exists(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db, KNOWN)
    _, challenge = pkce()
    answers = {}
    for email in (KNOWN, UNKNOWN):
        for _ in range(5):
            wrong = await sign_in(client, portal.client_id, challenge, email=email, password="no")
            assert wrong.status_code == 200
        limited = await sign_in(client, portal.client_id, challenge, email=email.upper())
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert "Too many failed sign-in attempts" in limited.text
        answers[email] = _without_echo(limited.text, email.upper())
    assert answers[KNOWN] == answers[UNKNOWN]
    # The right password does not get through either while the account is limited.
    still = await sign_in(client, portal.client_id, challenge, email=KNOWN, password=PASSWORD)
    assert still.status_code == 429


async def test_an_address_is_limited_across_accounts(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    _, challenge = pkce()
    for n in range(20):
        response = await sign_in(
            client, portal.client_id, challenge, email=f"guess{n}@example.com", password="no"
        )
        assert response.status_code == 200
    limited = await sign_in(client, portal.client_id, challenge, email="fresh@example.com")
    assert limited.status_code == 429


async def test_failed_token_requests_are_limited_per_client(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    robot = await machine_client(clean_db, PrincipalKind.STAFF)
    assert robot.client_secret
    for _ in range(10):
        wrong = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(robot.client_id, "no")
        )
        assert wrong.status_code == 401
    limited = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(robot.client_id, robot.client_secret),
    )
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["cache-control"] == "no-store"
    other = await machine_client(clean_db, PrincipalKind.STAFF)
    assert other.client_secret
    fine = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(other.client_id, other.client_secret),
    )
    assert fine.status_code == 200
