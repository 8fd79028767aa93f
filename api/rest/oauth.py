"""Published key material and discovery: ``/oauth/jwks`` and the OpenID configuration."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse

from auth.keys import ALGORITHM, KeyRing
from auth.tokens import TokenSettings
from domain.policy import ALL_SCOPES


class KeyRingHolder:
    """The key ring this process signs and verifies with (and the revoked clients' ids it
    refuses tokens of): loaded at start-up, reloaded
    periodically and when a token names a key this process has not seen (a rotation made by
    another process), at most once per ``min_reload_interval`` seconds on that path."""

    def __init__(
        self,
        load: Callable[[], Awaitable[KeyRing]] | None = None,
        min_reload_interval: float = 2.0,
    ) -> None:
        self._ring: KeyRing | None = None
        self._load = load
        self._min_interval = min_reload_interval
        self._loaded_at = float("-inf")

    def set(self, ring: KeyRing) -> None:
        self._ring = ring
        self._loaded_at = time.monotonic()

    async def reload(self) -> None:
        if self._load is not None:
            self.set(await self._load())

    async def reload_if_allowed(self) -> bool:
        """Reload unless that happened very recently; whether it did."""
        if self._load is None or time.monotonic() - self._loaded_at < self._min_interval:
            return False
        await self.reload()
        return True

    def __call__(self) -> KeyRing:
        if self._ring is None:
            raise RuntimeError("the signing keys are not loaded yet")
        return self._ring


def jwks_endpoint(
    keys: KeyRingHolder, longest_lifetime: timedelta, now: Callable[[], datetime]
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def jwks(request: Request) -> JSONResponse:
        """The public keys that verify our tokens, the retiring ones included while a token
        they signed may live (``longest_lifetime``: Cloud Connector service tokens live days;
        our own API checks access tokens against its own, shorter window)."""
        return JSONResponse(
            keys().jwks(now(), longest_lifetime),
            headers={"Cache-Control": "public, max-age=300"},
        )

    return jwks


def discovery_endpoint(settings: TokenSettings) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def discovery(request: Request) -> JSONResponse:
        """OpenID Connect discovery (RFC 8414 fields)."""
        issuer = settings.issuer.rstrip("/")
        return JSONResponse(
            {
                "issuer": settings.issuer,
                "jwks_uri": f"{issuer}/oauth/jwks",
                "id_token_signing_alg_values_supported": [ALGORITHM],
                "token_endpoint_auth_signing_alg_values_supported": [ALGORITHM],
                "subject_types_supported": ["public"],
                "authorization_endpoint": f"{issuer}/oauth/authorize",
                "token_endpoint": f"{issuer}/oauth/token",
                "revocation_endpoint": f"{issuer}/oauth/revoke",
                "grant_types_supported": [
                    "authorization_code",
                    "client_credentials",
                    "refresh_token",
                ],
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "revocation_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "scopes_supported": sorted(ALL_SCOPES),
            }
        )

    return discovery
