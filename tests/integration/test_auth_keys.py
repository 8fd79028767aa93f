"""Signing keys in PostgreSQL: made once on first start (even by racing workers), rotated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from auth.keys import load_or_create, rotate
from auth.tokens import TokenSettings, issue_access_token, validate_access_token
from persistence.database import Database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SETTINGS = TokenSettings(issuer="https://provision.test", audience="provision-api")


async def _fresh(db: Database) -> None:
    await db.fetch("TRUNCATE auth_signing_key")


async def test_racing_first_starts_make_one_key(db: Database, database_url: str) -> None:
    await _fresh(db)
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        rings = await asyncio.gather(*(load_or_create(c, NOW) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    assert {ring.current.kid for ring in rings} == {rings[0].current.kid}
    assert await db.fetchval("SELECT count(*) FROM auth_signing_key") == 1
    stored = await db.fetchrow("SELECT private_key_pem, public_jwk FROM auth_signing_key")
    assert stored is not None
    assert "PRIVATE KEY" in stored["private_key_pem"]
    assert '"d"' not in stored["public_jwk"]


async def test_a_restart_reuses_the_key_and_rotation_keeps_old_tokens_valid(
    db: Database, database_url: str
) -> None:
    await _fresh(db)
    connection = await asyncpg.connect(database_url)
    try:
        first = await load_or_create(connection, NOW)
        again = await load_or_create(connection, NOW + timedelta(hours=1))
        assert again.current.kid == first.current.kid
        token = issue_access_token(
            first, SETTINGS, NOW, subject="client:ops", client_id="ops", scopes=["staff"]
        )
        rotated = await rotate(connection, NOW + timedelta(minutes=1))
    finally:
        await connection.close()
    assert rotated.current.kid != first.current.kid
    assert validate_access_token(rotated, SETTINGS, token, NOW + timedelta(minutes=2))["sub"]
    kids = {k["kid"] for k in rotated.jwks(NOW + timedelta(minutes=2), SETTINGS.lifetime)["keys"]}
    assert kids == {first.current.kid, rotated.current.kid}
