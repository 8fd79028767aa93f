"""The OAuth tables through asyncpg: clients, users, codes, refresh tokens, token families.

Works on a pool or a single connection (the CLI). Each check-and-set is one statement, so two
processes racing for the same code or refresh token cannot both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from auth.models import (
    ClientRecord,
    CodeRecord,
    RefreshTokenRecord,
    UserRecord,
)
from domain.principal import PrincipalKind

Executor = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True)
class ClientListing:
    """A client as ``provision client list`` shows it (no secret, no hash)."""

    client_id: str
    kind: PrincipalKind
    name: str
    partner_id: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


_CLIENT_COLUMNS = (
    "id, client_id, secret_hash, kind, name, partner_id, scopes, redirect_uris, grant_types,"
    " auth_method"
)
_USER_COLUMNS = "id, subject, email, staff, password_hash, partner_id"


def _client(row: asyncpg.Record) -> ClientRecord:
    return ClientRecord(
        id=row["id"],
        client_id=row["client_id"],
        kind=PrincipalKind(row["kind"]),
        name=row["name"],
        scopes=frozenset(row["scopes"]),
        redirect_uris=tuple(row["redirect_uris"]),
        grant_types=frozenset(row["grant_types"]),
        auth_method=row["auth_method"],
        partner_id=row["partner_id"],
        secret_hash=row["secret_hash"],
    )


def _user(row: asyncpg.Record) -> UserRecord:
    return UserRecord(
        id=row["id"],
        subject=row["subject"],
        email=row["email"],
        staff=row["staff"],
        password_hash=row["password_hash"],
        partner_id=row["partner_id"],
    )


class OAuthStore:
    def __init__(self, executor: Callable[[], Executor]) -> None:
        self._executor = executor

    @property
    def _db(self) -> Executor:
        return self._executor()

    # -- clients and users --------------------------------------------------------------

    async def get_client(self, client_id: str) -> ClientRecord | None:
        """An active client (a revoked one does not exist for the server)."""
        row = await self._db.fetchrow(
            f"SELECT {_CLIENT_COLUMNS} FROM auth_client"  # noqa: S608 - constant columns
            " WHERE client_id = $1 AND revoked_at IS NULL",
            client_id,
        )
        return _client(row) if row else None

    async def add_client(
        self,
        *,
        client_id: str,
        secret_hash: str | None,
        kind: PrincipalKind,
        name: str,
        partner_id: str | None,
        scopes: Iterable[str],
        redirect_uris: Iterable[str],
        grant_types: Iterable[str],
        auth_method: str,
        now: datetime,
    ) -> None:
        await self._db.execute(
            "INSERT INTO auth_client (id, client_id, secret_hash, kind, name, partner_id, scopes,"
            " redirect_uris, grant_types, auth_method, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            uuid.uuid4(),
            client_id,
            secret_hash,
            kind.value,
            name,
            partner_id,
            sorted(scopes),
            list(redirect_uris),
            sorted(grant_types),
            auth_method,
            now,
        )

    async def revoke_client(self, client_id: str, now: datetime) -> datetime | None:
        """Revoke a client, its sign-ins (token families) and their refresh tokens at once;
        idempotent. When it was revoked (earlier, or now), or ``None`` for an unknown id."""
        # One statement: data-modifying CTEs all run, in one snapshot.
        row = await self._db.fetchrow(
            "WITH client AS (UPDATE auth_client SET revoked_at = coalesce(revoked_at, $2)"
            " WHERE client_id = $1 RETURNING id, revoked_at),"
            " families AS (UPDATE auth_token_family f SET revoked_at = $2 FROM client"
            " WHERE f.client = client.id AND f.revoked_at IS NULL),"
            " refresh AS (UPDATE auth_refresh_token t SET revoked_at = $2 FROM client"
            " WHERE t.client = client.id AND t.revoked_at IS NULL)"
            " SELECT revoked_at FROM client",
            client_id,
            now,
        )
        if row is None:
            return None
        revoked_at: datetime = row["revoked_at"]
        return revoked_at

    async def list_clients(self, *, limit: int, after: str | None = None) -> list[ClientListing]:
        """Clients, revoked ones included, oldest first; ``after`` a client id (the last of
        the previous page)."""
        rows = await self._db.fetch(
            "SELECT client_id, kind, name, partner_id, scopes, created_at, revoked_at"
            " FROM auth_client"
            " WHERE $1::text IS NULL OR (created_at, client_id) >"
            " (SELECT created_at, client_id FROM auth_client WHERE client_id = $1)"
            " ORDER BY created_at, client_id LIMIT $2",
            after,
            limit,
        )
        return [
            ClientListing(
                client_id=row["client_id"],
                kind=PrincipalKind(row["kind"]),
                name=row["name"],
                partner_id=row["partner_id"],
                scopes=tuple(sorted(row["scopes"])),
                created_at=row["created_at"],
                revoked_at=row["revoked_at"],
            )
            for row in rows
        ]

    async def get_user(self, user_pk: uuid.UUID) -> UserRecord | None:
        row = await self._db.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM auth_user WHERE id = $1",  # noqa: S608
            user_pk,
        )
        return _user(row) if row else None

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        row = await self._db.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM auth_user WHERE lower(email) = lower($1)",  # noqa: S608
            email,
        )
        return _user(row) if row else None

    async def add_user(
        self,
        *,
        subject: str,
        email: str,
        password_hash: str,
        staff: bool,
        now: datetime,
        partner_id: str | None = None,
    ) -> None:
        await self._db.execute(
            "INSERT INTO auth_user (id, subject, email, password_hash, staff, created_at,"
            " partner_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            uuid.uuid4(),
            subject,
            email,
            password_hash,
            staff,
            now,
            partner_id,
        )

    # -- authorization codes ------------------------------------------------------------

    async def add_code(
        self,
        *,
        code_hash: str,
        client: ClientRecord,
        user: UserRecord,
        redirect_uri: str,
        scope: str,
        code_challenge: str,
        code_challenge_method: str,
        now: datetime,
        expires_at: datetime,
    ) -> uuid.UUID:
        """Store a code and open the token family its tokens will belong to."""
        family_id = uuid.uuid4()
        await self._db.execute(
            'WITH family AS (INSERT INTO auth_token_family (id, client, "user", created_at)'
            " VALUES ($1, $2, $3, $4) RETURNING id)"
            ' INSERT INTO auth_authorization_code (id, code_hash, client, "user", family,'
            " redirect_uri, scope, code_challenge, code_challenge_method, created_at, expires_at)"
            " SELECT $5, $6, $2, $3, family.id, $7, $8, $9, $10, $4, $11 FROM family",
            family_id,
            client.id,
            user.id,
            now,
            uuid.uuid4(),
            code_hash,
            redirect_uri,
            scope,
            code_challenge,
            code_challenge_method,
            expires_at,
        )
        return family_id

    async def find_code(self, code_hash: str) -> CodeRecord | None:
        row = await self._db.fetchrow(
            'SELECT id, client, "user", family, redirect_uri, scope, code_challenge,'
            " code_challenge_method, expires_at, used_at"
            " FROM auth_authorization_code WHERE code_hash = $1",
            code_hash,
        )
        if row is None:
            return None
        return CodeRecord(
            id=row["id"],
            client_pk=row["client"],
            user_pk=row["user"],
            family_id=row["family"],
            redirect_uri=row["redirect_uri"],
            scope=row["scope"],
            code_challenge=row["code_challenge"],
            code_challenge_method=row["code_challenge_method"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
        )

    async def claim_code(self, code_pk: uuid.UUID, now: datetime) -> bool:
        """Mark the code used; ``False`` when another request used it first."""
        row = await self._db.fetchrow(
            "UPDATE auth_authorization_code SET used_at = $2"
            " WHERE id = $1 AND used_at IS NULL RETURNING id",
            code_pk,
            now,
        )
        return row is not None

    # -- refresh tokens and families ----------------------------------------------------

    async def add_refresh_token(
        self,
        *,
        token_hash: str,
        family_id: uuid.UUID,
        client: ClientRecord,
        user: UserRecord,
        scope: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self._db.execute(
            'INSERT INTO auth_refresh_token (id, token_hash, family, client, "user", scope,'
            " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            uuid.uuid4(),
            token_hash,
            family_id,
            client.id,
            user.id,
            scope,
            now,
            expires_at,
        )

    async def find_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        """The token; ``revoked_at`` is set when the token or its family is revoked."""
        row = await self._db.fetchrow(
            'SELECT t.id, t.family, t.client, t."user", t.scope, t.expires_at, t.used_at,'
            " coalesce(t.revoked_at, f.revoked_at) AS revoked_at"
            " FROM auth_refresh_token t JOIN auth_token_family f ON f.id = t.family"
            " WHERE t.token_hash = $1",
            token_hash,
        )
        if row is None:
            return None
        return RefreshTokenRecord(
            id=row["id"],
            family_id=row["family"],
            client_pk=row["client"],
            user_pk=row["user"],
            scope=row["scope"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
            revoked_at=row["revoked_at"],
        )

    async def claim_refresh_token(self, token_pk: uuid.UUID, now: datetime) -> bool:
        """Mark the token rotated; ``False`` when it was used or revoked meanwhile."""
        row = await self._db.fetchrow(
            "UPDATE auth_refresh_token SET used_at = $2"
            " WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL RETURNING id",
            token_pk,
            now,
        )
        return row is not None

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        """Revoke a sign-in: its refresh tokens die, and its access tokens (``sid``) with it."""
        await self._db.execute(
            "WITH family AS (UPDATE auth_token_family SET revoked_at = $2"
            " WHERE id = $1 AND revoked_at IS NULL RETURNING id)"
            " UPDATE auth_refresh_token SET revoked_at = $2"
            " WHERE family = $1 AND revoked_at IS NULL",
            family_id,
            now,
        )

    async def family_revoked(self, sid: str) -> bool:
        """For the bearer backend: is the token family ``sid`` revoked? A ``sid`` that is not
        one of ours (another issuer's session id) is not revoked here."""
        try:
            family_id = uuid.UUID(sid)
        except ValueError:
            return False
        revoked = await self._db.fetchval(
            "SELECT revoked_at IS NOT NULL FROM auth_token_family WHERE id = $1", family_id
        )
        return bool(revoked)
