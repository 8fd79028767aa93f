"""A fake OpenID provider on a real socket (uvicorn in a thread): discovery, JWKS, authorize and
token endpoints, its RSA key generated here. ``/authorize`` signs the configured person in at
once (or denies, when told) and redirects back with a code; ``/token`` checks the client's
secret, the code, its redirect URI and the PKCE verifier, then answers with an ID token whose
claims the test may spoil (``claims``), or signed by a key it does not publish (``forge``)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ledger_peer import free_port

CLIENT_ID = "provision-at-sso"
CLIENT_SECRET = "sso-client-secret-for-tests"


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    method: str | None


@dataclass
class OpenIDPeer:
    url: str
    now: Callable[[], datetime]
    key: RSAKey = field(default_factory=lambda: _key("op-1"))
    subject: str = "op-user-1"
    email: str = "wile@acme.example"
    email_verified: bool = True
    deny: bool = False
    down: bool = False
    """Every endpoint answers 503, as a provider being restarted."""
    forge: bool = False
    """Sign the ID token with a key the JWKS does not hold (the same ``kid``)."""
    claims: dict[str, Any] = field(default_factory=dict)
    """Claims to override in the next ID tokens (``nonce``, ``aud``, ``exp``...)."""
    grants: dict[str, Grant] = field(default_factory=dict)
    authorize_calls: list[dict[str, str]] = field(default_factory=list)
    token_calls: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.subject, self.email, self.email_verified = "op-user-1", "wile@acme.example", True
        self.deny = self.down = self.forge = False
        self.claims.clear()
        self.grants.clear()
        self.authorize_calls.clear()
        self.token_calls.clear()

    def id_token(self, grant: Grant, access_token: str) -> str:
        issued = int(self.now().timestamp())
        body: dict[str, Any] = {
            "iss": self.url,
            "sub": self.subject,
            "aud": grant.client_id,
            "iat": issued,
            "exp": issued + 300,
            "email": self.email,
            "email_verified": self.email_verified,
        }
        if grant.nonce is not None:
            body["nonce"] = grant.nonce
        body.update(self.claims)
        key = _key(self.key.kid or "op-1") if self.forge else self.key
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, body, key)


def _app(peer: OpenIDPeer) -> Starlette:
    def unavailable() -> Response | None:
        return JSONResponse({"error": "down"}, status_code=503) if peer.down else None

    async def discovery(request: Request) -> Response:
        return unavailable() or JSONResponse(
            {
                "issuer": peer.url,
                "authorization_endpoint": f"{peer.url}/authorize",
                "token_endpoint": f"{peer.url}/token",
                "jwks_uri": f"{peer.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def jwks(request: Request) -> Response:
        return unavailable() or JSONResponse(
            {"keys": [{**peer.key.as_dict(private=False), "alg": "RS256", "use": "sig"}]}
        )

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        peer.authorize_calls.append(params)
        redirect_uri = params["redirect_uri"]
        back = {"state": params.get("state", "")}
        if peer.deny:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            peer.grants[code] = Grant(
                params["client_id"],
                redirect_uri,
                params.get("nonce"),
                params.get("code_challenge"),
                params.get("code_challenge_method"),
            )
            back["code"] = code
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    async def token(request: Request) -> Response:
        if (down := unavailable()) is not None:
            return down
        form = dict(parse_qsl((await request.body()).decode()))
        peer.token_calls.append(form)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = peer.grants.pop(str(form.get("code", "")), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if grant.method != "S256" or challenge != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "why": "pkce"}, status_code=400)
        access_token = secrets.token_urlsafe(24)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": peer.id_token(grant, access_token),
            }
        )

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
        ]
    )


@contextmanager
def serving_openid_provider(now: Callable[[], datetime]) -> Iterator[OpenIDPeer]:
    port = free_port()
    peer = OpenIDPeer(url=f"http://127.0.0.1:{port}", now=now)
    config = uvicorn.Config(
        _app(peer), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the OpenID provider did not start"
        time.sleep(0.02)
    try:
        yield peer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
