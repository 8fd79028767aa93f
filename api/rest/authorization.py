"""The authorization server's routes: ``/oauth/token``, ``/oauth/authorize``, ``/oauth/revoke``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.logs import bind
from auth.endpoints import OAuthEndpoints
from auth.external_signin import CALLBACK_PATH, START_PATH, ExternalSignIn
from auth.external_signin_endpoints import ExternalSignInEndpoints
from auth.keys import KeyRing
from auth.rate_limit import FailureLimiter
from auth.server import OAuthSettings, ProvisionAuthorizationServer
from auth.store import OAuthStore
from auth.tokens import TokenSettings

# These authenticate *clients* (HTTP Basic or form credentials) themselves; a bearer-token
# backend would refuse their Basic header. /metrics checks its own static token (not a JWT);
# the Azure webhook its own bearer (the marketplace's, api/rest/marketplaces.py).
CLIENT_AUTHENTICATED_PATHS = frozenset(
    {"/oauth/token", "/oauth/revoke", "/metrics", "/marketplaces/azure/webhook"}
)


class BearerAuthenticationMiddleware(AuthenticationMiddleware):
    """Starlette's authentication middleware, except on the client-authenticated paths; the
    principal's kind goes into the request's log context."""

    def __init__(self, app: ASGIApp, *args: Any, **kwargs: Any) -> None:
        super().__init__(_LogPrincipalKind(app), *args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in CLIENT_AUTHENTICATED_PATHS:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _LogPrincipalKind:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if user is not None:  # None on the client-authenticated paths
            principal = getattr(user, "principal", None)
            bind(principal_kind=principal.kind.value if principal is not None else "ANONYMOUS")
        await self.app(scope, receive, send)


def authorization_server_routes(
    store: OAuthStore,
    keys: Callable[[], KeyRing],
    tokens: TokenSettings,
    settings: OAuthSettings,
    limiter: FailureLimiter,
    now: Callable[[], datetime],
    external_signin: ExternalSignIn | None = None,
) -> list[Route]:
    """With ``external_signin``, the sign-in page also offers the external OpenID provider."""
    server = ProvisionAuthorizationServer(store, keys, tokens, settings, now)
    endpoints = OAuthEndpoints(
        server, limiter, external_signin.name if external_signin is not None else None
    )
    routes = [
        Route("/oauth/token", endpoints.token, methods=["POST"]),
        Route("/oauth/authorize", endpoints.authorize, methods=["GET", "POST"]),
        Route("/oauth/revoke", endpoints.revoke, methods=["POST"]),
    ]
    if external_signin is not None:
        federated = ExternalSignInEndpoints(endpoints, external_signin)
        routes += [
            Route(START_PATH, federated.start, methods=["POST"]),
            Route(CALLBACK_PATH, federated.callback, methods=["GET"]),
        ]
    return routes
