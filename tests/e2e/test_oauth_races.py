"""Concurrency on real PostgreSQL: a code, or a refresh token, sent many times at once is
redeemed once at most (the claim is one conditional UPDATE), and the losers' reuse revokes
the sign-in, as a replay would."""

from __future__ import annotations

import asyncio

import httpx

from persistence.database import Database

from oauth_flow import code_for, exchange, pkce, portal_client, refresh, user, viewer

RACERS = 10


async def test_one_code_exchanged_ten_times_at_once_gives_at_most_one_token(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    verifier, challenge = pkce()
    code = await code_for(client, portal.client_id, challenge)

    answers = await asyncio.gather(
        *(exchange(client, portal.client_id, code, verifier) for _ in range(RACERS))
    )

    granted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(granted) <= 1
    assert all(a.status_code == 400 and a.json()["error"] == "invalid_grant" for a in refused)
    # A code used twice revokes what it gave (RFC 6749 §4.1.2): the winner's token is dead too.
    for answer in granted:
        assert (await viewer(client, answer.json()["access_token"])).status_code == 401


async def test_one_refresh_token_used_ten_times_at_once_rotates_once_then_the_family_dies(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    portal = await portal_client(clean_db)
    await user(clean_db)
    verifier, challenge = pkce()
    code = await code_for(client, portal.client_id, challenge)
    first = (await exchange(client, portal.client_id, code, verifier)).json()

    answers = await asyncio.gather(
        *(refresh(client, portal.client_id, first["refresh_token"]) for _ in range(RACERS))
    )

    granted = [a for a in answers if a.status_code == 200]
    assert len(granted) <= 1
    assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code != 200)
    # Nine replays of a rotated token: the whole family is revoked, the winner's tokens with it.
    for answer in granted:
        rotated = answer.json()
        assert (
            await refresh(client, portal.client_id, rotated["refresh_token"])
        ).status_code == 400
        assert (await viewer(client, rotated["access_token"])).status_code == 401
    assert (await viewer(client, first["access_token"])).status_code == 401
    families = await clean_db.fetch("SELECT revoked_at FROM auth_token_family")
    assert [row["revoked_at"] is not None for row in families] == [True]
