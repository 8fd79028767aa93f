"""The portal's own OAuth client: a public PKCE client with a fixed id, registered (or brought
up to date) when the app starts, so the portal needs no setup step."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from auth.models import AUTHORIZATION_CODE, REFRESH_TOKEN
from domain.policy import grantable
from domain.principal import PrincipalKind

PORTAL_CLIENT_ID = "provision-portal"
PORTAL_CLIENT_NAME = "Provision customer portal"
PORTAL_PATH = "/portal/"


def portal_redirect_uri(issuer: str) -> str:
    """The portal page itself receives the code: ``<issuer>/portal/``."""
    return issuer.rstrip("/") + PORTAL_PATH


async def ensure_portal_client(pool: asyncpg.Pool, issuer: str, now: datetime) -> None:
    """Register the portal's client, or give it this issuer's redirect URI and today's
    scopes. A revoked portal client stays revoked (``provision client revoke``)."""
    await pool.execute(
        "INSERT INTO auth_client (id, client_id, secret_hash, kind, name, partner_id, scopes,"
        " redirect_uris, grant_types, auth_method, created_at)"
        " VALUES ($1, $2, NULL, $3, $4, NULL, $5, $6, $7, 'none', $8)"
        " ON CONFLICT (client_id) DO UPDATE SET redirect_uris = EXCLUDED.redirect_uris,"
        " scopes = EXCLUDED.scopes"
        " WHERE auth_client.redirect_uris IS DISTINCT FROM EXCLUDED.redirect_uris"
        " OR auth_client.scopes IS DISTINCT FROM EXCLUDED.scopes",
        uuid.uuid4(),
        PORTAL_CLIENT_ID,
        PrincipalKind.PORTAL_USER.value,
        PORTAL_CLIENT_NAME,
        sorted(grantable(PrincipalKind.PORTAL_USER)),
        [portal_redirect_uri(issuer)],
        sorted([AUTHORIZATION_CODE, REFRESH_TOKEN]),
        now,
    )
