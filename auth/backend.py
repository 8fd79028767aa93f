"""The resource side: a starlette authentication backend that turns a bearer token into a
domain ``Principal``.

No Authorization header: the request goes on as anonymous. A bearer token that does not
validate: HTTP 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750), and the
reason is logged, never sent.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NamedTuple

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from auth.admin_pair import AdminPair, sent_pair
from auth.external import ExternalIssuer
from auth.keys import KeyRing
from auth.tokens import InvalidToken, RevokedClient, TokenSettings, validate_access_token
from domain.principal import Principal, PrincipalKind

logger = logging.getLogger("provision.auth")

KIND_CLAIM = "provision_kind"
PARTNER_CLAIM = "provision_partner"
SUBSCRIPTION_CLAIM = "provision_subscription"
EMAIL_CLAIM = "email"


class PrincipalUser(BaseUser):
    """Starlette's view of an authenticated caller; the domain sees ``principal``."""

    def __init__(self, principal: Principal, client_id: str | None = None) -> None:
        self.principal = principal
        self.client_id = client_id
        """The OAuth client the token was issued to (``client_id`` claim), when it names one."""

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.subject or ""


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The principal an access token stands for."""
    try:
        kind = PrincipalKind(claims.get(KIND_CLAIM, ""))
    except ValueError:
        raise InvalidToken("unknown principal kind") from None
    if kind is PrincipalKind.ANONYMOUS:
        raise InvalidToken("a token cannot stand for nobody")
    subscription = claims.get(SUBSCRIPTION_CLAIM)
    try:
        subscription_id = uuid.UUID(str(subscription)) if subscription else None
    except ValueError:
        raise InvalidToken("the subscription claim is not a UUID") from None
    email = claims.get(EMAIL_CLAIM)
    return Principal(
        kind=kind,
        subject=str(claims["sub"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        partner_id=claims.get(PARTNER_CLAIM),
        subscription_id=subscription_id,
        email=str(email) if email else None,
    )


def _unverified_part(token: str, index: int, name: str) -> str | None:
    try:
        part = token.split(".")[index]
        fields = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return None
    value = fields.get(name) if isinstance(fields, dict) else None
    return value if isinstance(value, str) else None


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` a JWT claims, read without verifying it: only to pick the verifier."""
    return _unverified_part(token, 1, "iss")


VERIFIED_CACHE_SIZE = 4096


class _Verified(NamedTuple):
    principal: Principal
    scopes: list[str]
    session: str | None
    expires_at: float
    kid: str | None  # the key that verified it: a deleted or outlived key ends the token
    client_id: str | None  # a revoked client ends it too


class BearerTokenBackend(AuthenticationBackend):
    def __init__(
        self,
        keys: Callable[[], KeyRing],
        settings: TokenSettings,
        now: Callable[[], datetime],
        is_revoked: Callable[[str], Awaitable[bool]] | None = None,
        external: ExternalIssuer | None = None,
        reload_keys: Callable[[], Awaitable[bool]] | None = None,
        admin_pair: AdminPair | None = None,
        admin_principal: Principal | None = None,
    ) -> None:
        self._keys = keys
        self._settings = settings
        self._now = now
        self._is_revoked = is_revoked  # asked only for tokens with a session id (``sid``)
        self._external = external
        self._reload_keys = reload_keys  # after a rotation elsewhere; says whether it reloaded
        # GitLab.com's admin header pair stands for ``admin_principal`` (protocols-next §3.3).
        self._admin_pair = admin_pair
        self._admin_principal = admin_principal
        # Clients send one token for many requests: its verified principal is kept (keyed by the
        # whole token, signature included) until the token expires. Revocation is still asked:
        # the family (``sid``) each time, the key and the client against the current ring.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return self._admin(conn)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header is not a bearer token")
        token = token.strip()
        external = self._external
        try:
            if external is not None and unverified_issuer(token) == external.settings.issuer:
                principal = external.principal(await external.validate(token, self._now()))
                return AuthCredentials(sorted(principal.scopes)), PrincipalUser(principal)
            verified = self._remembered(token) or await self._verify(token)
        except InvalidToken as refused:
            logger.info("bearer token refused: %s", refused.reason)
            raise AuthenticationError("invalid token") from None
        sid = verified.session
        if sid and self._is_revoked is not None and await self._is_revoked(sid):
            logger.info("bearer token refused: its session is revoked")
            raise AuthenticationError("invalid token")
        return AuthCredentials(verified.scopes), PrincipalUser(
            verified.principal, verified.client_id
        )

    def _admin(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """The GitLab.com principal for the configured admin pair; a wrong pair is refused
        like a bad token. Without a configured pair the headers are ignored here (the REST
        routes refuse them themselves), as is GitLab's public default pair."""
        pair = sent_pair(conn.headers)
        if pair is None or self._admin_pair is None or self._admin_principal is None:
            return None
        if not self._admin_pair.matches(*pair):
            logger.info("admin header pair refused")
            raise AuthenticationError("invalid admin credentials")
        principal = self._admin_principal
        return AuthCredentials(sorted(principal.scopes)), PrincipalUser(principal)

    def _remembered(self, token: str) -> _Verified | None:
        verified = self._verified.get(token)
        if verified is None:
            return None
        now = self._now()
        ring = self._keys()
        if (
            now.timestamp() >= verified.expires_at + self._settings.leeway_seconds
            or verified.kid is None
            or not ring.verifies(verified.kid, now, self._settings.lifetime)
            or verified.client_id in ring.revoked_clients
        ):
            # Verified again from scratch: refused if its key or client is no longer good.
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return verified

    async def _verify(self, token: str) -> _Verified:
        claims = await self._validate(token)
        principal = principal_from_claims(claims)
        sid = claims.get("sid")
        client_id = claims.get("client_id")
        verified = _Verified(
            principal,
            sorted(principal.scopes),
            str(sid) if sid else None,
            float(claims["exp"]),
            _unverified_part(token, 0, "kid"),  # verified by now: the key it names signed it
            str(client_id) if client_id is not None else None,
        )
        self._verified[token] = verified
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return verified

    async def _validate(self, token: str) -> dict[str, Any]:
        try:
            return validate_access_token(self._keys(), self._settings, token, self._now())
        except RevokedClient:
            raise  # revocations are for good: no reload (a revoked client may keep calling)
        except InvalidToken:
            if self._reload_keys is None or not await self._reload_keys():
                raise
        return validate_access_token(self._keys(), self._settings, token, self._now())


def invalid_token_response(conn: HTTPConnection, error: AuthenticationError) -> Response:
    """RFC 6750 §3: 401 with a ``WWW-Authenticate`` challenge naming ``invalid_token``."""
    return JSONResponse(
        {"errors": [{"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
