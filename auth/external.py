"""Access tokens from an external OpenID provider (a company's SSO, for instance).

Accepted only when ``PROVISION_EXTERNAL_ISSUER`` and ``PROVISION_EXTERNAL_JWKS_URL`` are set.
The provider's keys are fetched from its JWKS URL and cached; an unknown ``kid`` refetches them,
at most once per ``refetch_interval``, so a key rotation at the provider is picked up and a
stream of forged kids cannot hammer it. Its claims map onto a principal by configuration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from auth.tokens import InvalidToken
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind

logger = logging.getLogger("provision.auth.external")

# Asymmetric algorithms only: an HMAC "key" from a JWKS would be public.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


@dataclass(frozen=True)
class ExternalIssuerSettings:
    """Which provider to trust, and how its claims become a principal."""

    issuer: str
    jwks_url: str
    audience: str
    kind: PrincipalKind = PrincipalKind.PORTAL_USER
    """The kind every token of this provider stands for."""
    subject_claim: str = "sub"
    subject_prefix: str = "ext:"
    """Keeps the provider's subjects apart from ours: memberships name ``ext:<sub>``."""
    email_claim: str = "email"
    scope_claim: str = "scope"
    """Space-separated (``scope``) or a list (``scp``); missing: every scope the kind may hold."""
    partner_claim: str | None = None
    leeway_seconds: int = 30
    jwks_cache_seconds: float = 300.0
    refetch_interval_seconds: float = 30.0


@dataclass
class _Keys:
    keys: KeySet | None = None
    fetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ExternalIssuer:
    def __init__(
        self, settings: ExternalIssuerSettings, http: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self._http = http
        self._keys = _Keys()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _fetch(self, *, because_unknown_kid: bool) -> KeySet | None:
        state, now = self._keys, time.monotonic()
        async with state.lock:
            age = now - state.fetched_at
            fresh = age < self.settings.jwks_cache_seconds
            if state.keys is not None and fresh and not because_unknown_kid:
                return state.keys
            if because_unknown_kid and age < self.settings.refetch_interval_seconds:
                return state.keys
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=5.0)
            try:
                response = await self._http.get(self.settings.jwks_url)
                response.raise_for_status()
                state.keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError) as error:
                # Keep serving with the keys we had; the next token tries again later.
                logger.warning("external JWKS not refreshed: %s", type(error).__name__)
            state.fetched_at = now
            return state.keys

    async def validate(self, token: str, now: datetime) -> dict[str, Any]:
        """The token's claims, or ``InvalidToken``."""
        keys = await self._fetch(because_unknown_kid=False)
        if keys is None:
            raise InvalidToken("the external provider's keys are unavailable")
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:  # the provider may have rotated: look again
            keys = await self._fetch(because_unknown_kid=True) or keys
            try:
                decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            except (JoseError, ValueError) as error:
                raise InvalidToken(f"external token refused: {type(error).__name__}") from None
        except (JoseError, ValueError) as error:
            raise InvalidToken(f"external token refused: {type(error).__name__}") from None
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=self.settings.leeway_seconds,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as error:
            raise InvalidToken(f"external claims refused: {type(error).__name__}") from None
        return dict(decoded.claims)

    def principal(self, claims: dict[str, Any]) -> Principal:
        """The principal the provider's claims stand for, per the configured mapping."""
        mapping = self.settings
        subject = claims.get(mapping.subject_claim)
        if not isinstance(subject, str | int) or not str(subject):
            raise InvalidToken("the external token names no subject")
        raw_scopes = claims.get(mapping.scope_claim)
        if raw_scopes is None:
            scopes = grantable(mapping.kind)
        else:
            listed = raw_scopes.split() if isinstance(raw_scopes, str) else raw_scopes
            scopes = grantable(mapping.kind, frozenset(str(s) for s in listed))
        email = claims.get(mapping.email_claim)
        partner = claims.get(mapping.partner_claim) if mapping.partner_claim else None
        return Principal(
            kind=mapping.kind,
            subject=f"{mapping.subject_prefix}{subject}",
            scopes=scopes,
            email=str(email) if isinstance(email, str) and email else None,
            partner_id=str(partner) if partner else None,
        )
