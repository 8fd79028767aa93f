"""Access tokens: JWTs per RFC 9068, signed with the key ring's current key.

Validation is async-free and needs no database: the signature (RS256 only, the key chosen by
``kid``), then ``iss``, ``aud``, ``exp`` and ``iat``, then ``client_id`` against the ring's
revoked clients (loaded with the keys).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from auth.keys import ALGORITHM, KeyRing

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type, not a secret


class InvalidToken(Exception):
    """The bearer token cannot be trusted; ``reason`` is for logs, never for clients."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RevokedClient(InvalidToken):
    """The token is sound but its client is revoked: reloading the keys cannot save it."""


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    lifetime: timedelta = timedelta(minutes=15)
    leeway_seconds: int = 30


def issue_access_token(
    ring: KeyRing,
    settings: TokenSettings,
    now: datetime,
    *,
    subject: str,
    client_id: str,
    scopes: Iterable[str],
    extra: dict[str, Any] | None = None,
) -> str:
    key = ring.current
    issued = int(now.timestamp())
    claims = {
        **(extra or {}),
        "iss": settings.issuer,
        "sub": subject,
        "aud": settings.audience,
        "iat": issued,
        "exp": issued + int(settings.lifetime.total_seconds()),
        "jti": secrets.token_urlsafe(16),
        "client_id": client_id,
        "scope": " ".join(sorted(set(scopes))),
    }
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": TOKEN_TYPE}
    return jwt.encode(header, claims, key.key, algorithms=[ALGORITHM])


def validate_access_token(
    ring: KeyRing, settings: TokenSettings, token: str, now: datetime
) -> dict[str, Any]:
    """The token's claims, or ``InvalidToken``."""
    keys = ring.verification_keys(now, settings.lifetime)
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as error:
        raise InvalidToken(f"undecodable or badly signed: {type(error).__name__}") from None
    if decoded.header.get("typ") != TOKEN_TYPE:
        raise InvalidToken("not an access token")
    registry = jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=settings.leeway_seconds,
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except JoseError as error:
        raise InvalidToken(f"claims refused: {type(error).__name__}") from None
    if decoded.claims.get("client_id") in ring.revoked_clients:
        raise RevokedClient("its client is revoked")
    return dict(decoded.claims)
