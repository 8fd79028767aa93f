"""The authorization server's routes: ``/oauth/token``, ``/oauth/authorize``, ``/oauth/revoke``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.routing import Route

from auth.endpoints import OAuthEndpoints
from auth.keys import KeyRing
from auth.rate_limit import FailureLimiter
from auth.server import OAuthSettings, ProvisionAuthorizationServer
from auth.store import OAuthStore
from auth.tokens import TokenSettings


def authorization_server_routes(
    store: OAuthStore,
    keys: Callable[[], KeyRing],
    tokens: TokenSettings,
    settings: OAuthSettings,
    limiter: FailureLimiter,
    now: Callable[[], datetime],
) -> list[Route]:
    server = ProvisionAuthorizationServer(store, keys, tokens, settings, now)
    endpoints = OAuthEndpoints(server, limiter)
    return [
        Route("/oauth/token", endpoints.token, methods=["POST"]),
        Route("/oauth/authorize", endpoints.authorize, methods=["GET", "POST"]),
        Route("/oauth/revoke", endpoints.revoke, methods=["POST"]),
    ]
