"""Signing keys for access tokens: kept in the database, made on first start, rotated by staff.

The newest key that is not retired signs; every key not retired, or retired for less than a
token lifetime, verifies and is published in the JWKS, so tokens signed before a planned
rotation keep working until they expire. A rotation that revokes the old keys deletes them:
every token they signed is refused as soon as a server reloads its ring.

The ring also carries the ids of the revoked clients, loaded with the keys, so every server
refuses a revoked client's tokens (self-contained JWTs) within one reload.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from joserfc.jwk import KeySet, RSAKey

ALGORITHM = "RS256"
KEY_BITS = 2048
KEY_LOCK = 7_204_115  # pg_advisory_xact_lock key: one process makes the first key


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: RSAKey
    created_at: datetime
    retired_at: datetime | None = None

    def verifies_at(self, now: datetime, token_lifetime: timedelta) -> bool:
        return self.retired_at is None or now < self.retired_at + token_lifetime


@dataclass(frozen=True)
class KeyRing:
    """What verifies a token, as loaded: the keys, and the clients whose tokens no longer
    count. Immutable, so a rotation or a reload builds a new ring."""

    keys: tuple[SigningKey, ...]
    revoked_clients: frozenset[str] = frozenset()

    @property
    def current(self) -> SigningKey:
        active = [k for k in self.keys if k.retired_at is None]
        if not active:
            raise LookupError("no active signing key")
        return max(active, key=lambda k: k.created_at)

    def verifies(self, kid: str, now: datetime, token_lifetime: timedelta) -> bool:
        """Whether the key ``kid`` still verifies tokens (for tokens verified earlier)."""
        return any(k.kid == kid and k.verifies_at(now, token_lifetime) for k in self.keys)

    def verification_keys(self, now: datetime, token_lifetime: timedelta) -> KeySet:
        return KeySet([k.key for k in self.keys if k.verifies_at(now, token_lifetime)])

    def jwks(self, now: datetime, token_lifetime: timedelta) -> dict[str, Any]:
        """The public keys as published at ``/oauth/jwks``."""
        return {
            "keys": [
                {**k.key.as_dict(private=False), "use": "sig", "alg": ALGORITHM}
                for k in self.keys
                if k.verifies_at(now, token_lifetime)
            ]
        }


def new_key(now: datetime) -> SigningKey:
    kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
    key = RSAKey.generate_key(KEY_BITS, parameters={"kid": kid}, private=True)
    return SigningKey(kid=kid, key=key, created_at=now)


def _from_row(row: asyncpg.Record) -> SigningKey:
    key = RSAKey.import_key(row["private_key_pem"], parameters={"kid": row["kid"]})
    return SigningKey(
        kid=row["kid"], key=key, created_at=row["created_at"], retired_at=row["retired_at"]
    )


async def _insert(connection: asyncpg.Connection, key: SigningKey) -> None:
    await connection.execute(
        "INSERT INTO auth_signing_key (id, kid, algorithm, private_key_pem, public_jwk,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        uuid.uuid4(),
        key.kid,
        ALGORITHM,
        key.key.as_pem(private=True).decode(),
        json.dumps(key.key.as_dict(private=False)),
        key.created_at,
    )


async def load(connection: asyncpg.Connection) -> KeyRing:
    """The key ring as stored (another process may have rotated it, or revoked a client,
    since start-up)."""
    rows = await connection.fetch(
        "SELECT kid, private_key_pem, created_at, retired_at FROM auth_signing_key"
        " ORDER BY created_at"
    )
    revoked = await connection.fetch(
        "SELECT client_id FROM auth_client WHERE revoked_at IS NOT NULL"
    )
    return KeyRing(
        tuple(_from_row(row) for row in rows),
        frozenset(row["client_id"] for row in revoked),
    )


async def load_or_create(connection: asyncpg.Connection, now: datetime) -> KeyRing:
    """The key ring; the first call on an empty database makes the first key."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", KEY_LOCK)
        ring = await load(connection)
        if not any(k.retired_at is None for k in ring.keys):
            await _insert(connection, new_key(now))
            ring = await load(connection)
    return ring


@dataclass(frozen=True)
class Rotation:
    ring: KeyRing
    revoked: tuple[str, ...]  # the kids deleted (``revoke_old``)


async def rotate(
    connection: asyncpg.Connection, now: datetime, *, revoke_old: bool = False
) -> KeyRing:
    """Make a new signing key and retire the others: they keep verifying for one token
    lifetime, or, with ``revoke_old``, are deleted and verify nothing from the next reload."""
    return (await rotate_reporting(connection, now, revoke_old=revoke_old)).ring


async def rotate_reporting(
    connection: asyncpg.Connection, now: datetime, *, revoke_old: bool = False
) -> Rotation:
    """``rotate``, saying which keys it revoked."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", KEY_LOCK)
        revoked: list[str] = []
        if revoke_old:
            rows = await connection.fetch("DELETE FROM auth_signing_key RETURNING kid")
            revoked = sorted(row["kid"] for row in rows)
        else:
            await connection.execute(
                "UPDATE auth_signing_key SET retired_at = $1 WHERE retired_at IS NULL", now
            )
        await _insert(connection, new_key(now))
        return Rotation(await load(connection), tuple(revoked))
