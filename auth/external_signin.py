"""Signing in on Provision's sign-in page through an external OpenID provider (a company's SSO).

Provision is the provider's OpenID client: the sign-in page's "Sign in with <name>" button
starts the authorization-code flow at the provider with PKCE (S256), ``state`` and ``nonce``;
the provider sends the person back to ``/oauth/external/callback``, where the code is exchanged
and the ID token verified (signature by the provider's JWKS, ``iss``, ``aud``, ``exp``,
``nonce``, with authlib's ``CodeIDToken`` over joserfc). The person then continues the
``/oauth/authorize`` request they came with, as after a password sign-in.

What the flow must remember between the two requests (the pending authorization request,
``state``, ``nonce`` and the PKCE verifier) travels in a cookie signed with Provision's own
signing key ring: short-lived, ``HttpOnly``, ``SameSite=Lax`` and scoped to the callback path,
so any server process can finish a flow another began and nothing is kept server-side.

The provider's metadata (``/.well-known/openid-configuration``) and keys are cached; an unknown
``kid`` refetches the keys at most once per ``refetch_interval_seconds``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from auth.external import ALGORITHMS
from auth.keys import ALGORITHM, KeyRing

logger = logging.getLogger("provision.auth.external_signin")

CALLBACK_PATH = "/oauth/external/callback"
START_PATH = "/oauth/external/start"
COOKIE_NAME = "provision_external_signin"
STATE_TYPE = "signin-state+jwt"
MAX_COOKIE_BYTES = 3800  # browsers drop cookies over 4096 bytes


@dataclass(frozen=True)
class ExternalSignInSettings:
    """The provider people may sign in with, and Provision's client registration there."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str = "your organization's account"
    """What the sign-in page's button says: "Sign in with <name>"."""
    scope: str = "openid email"
    leeway_seconds: int = 30
    metadata_cache_seconds: float = 300.0
    refetch_interval_seconds: float = 30.0
    state_lifetime: timedelta = timedelta(minutes=10)
    timeout_seconds: float = 5.0


class SignInRefused(Exception):
    """The external sign-in cannot go on. ``message`` is for the person (shown on the page);
    ``reason`` is for the log and never holds a code, a token or a secret."""

    def __init__(self, message: str, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason
        self.status = status


UNAVAILABLE = (
    "The sign-in provider cannot be reached right now. Try again in a while, or sign in with "
    "your Provision email and password."
)
EXPIRED = (
    "This sign-in has expired or was not started in this browser. Go back to the application "
    "you came from and start again."
)
NOT_TRUSTED = (
    "The sign-in provider's answer could not be trusted, so you are not signed in. Try again."
)


@dataclass(frozen=True)
class Pending:
    """An external sign-in under way: the authorization request it continues, and what the
    provider's answer must match."""

    params: list[tuple[str, str]]
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    subject: str
    email: str | None
    email_verified: bool


@dataclass
class _Cache:
    value: Any = None
    fetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ExternalSignIn:
    def __init__(
        self,
        settings: ExternalSignInSettings,
        *,
        keys: Callable[[], KeyRing],
        issuer: str,
        now: Callable[[], datetime],
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self._ring = keys
        self._issuer = issuer
        self.redirect_uri = issuer.rstrip("/") + CALLBACK_PATH
        self._now = now
        self._http = http
        self._metadata = _Cache()
        self._jwks = _Cache()

    @property
    def name(self) -> str:
        return self.settings.name

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.timeout_seconds)
        return self._http

    # -- the provider's metadata and keys ---------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        cache = self._metadata
        async with cache.lock:
            age = time.monotonic() - cache.fetched_at
            if cache.value is not None and age < self.settings.metadata_cache_seconds:
                return dict(cache.value)
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                response = await self._client().get(url)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as error:
                raise SignInRefused(
                    UNAVAILABLE, f"discovery failed: {type(error).__name__}", status=502
                ) from None
            if not isinstance(document, dict) or document.get("issuer") != self.settings.issuer:
                raise SignInRefused(
                    UNAVAILABLE, "discovery names another issuer or is malformed", status=502
                )
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise SignInRefused(UNAVAILABLE, f"discovery has no {name}", status=502)
            cache.value, cache.fetched_at = document, time.monotonic()
            return dict(document)

    async def _keys(self, *, because_unknown_kid: bool) -> KeySet:
        cache = self._jwks
        async with cache.lock:
            age = time.monotonic() - cache.fetched_at
            fresh = age < self.settings.metadata_cache_seconds
            if cache.value is not None and (
                (fresh and not because_unknown_kid)
                or (because_unknown_kid and age < self.settings.refetch_interval_seconds)
            ):
                keys: KeySet = cache.value
                return keys
            metadata = await self.metadata()
            try:
                response = await self._client().get(metadata["jwks_uri"])
                response.raise_for_status()
                cache.value = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError) as error:
                logger.warning("external sign-in JWKS not fetched: %s", type(error).__name__)
                if cache.value is None:
                    raise SignInRefused(UNAVAILABLE, "JWKS unavailable", status=502) from None
            cache.fetched_at = time.monotonic()
            keys = cache.value
            return keys

    # -- the state cookie -----------------------------------------------------------------

    def _seal(self, pending: Pending) -> str:
        key = self._ring().current
        issued = int(self._now().timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self.redirect_uri,
            "iat": issued,
            "exp": issued + int(self.settings.state_lifetime.total_seconds()),
            "state": pending.state,
            "nonce": pending.nonce,
            "cv": pending.verifier,
            "req": [list(pair) for pair in pending.params],
        }
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": STATE_TYPE}
        return jwt.encode(header, claims, key.key, algorithms=[ALGORITHM])

    def pending(self, cookie: str | None) -> Pending:
        """The sign-in this browser started, from its cookie; ``SignInRefused`` when there is
        none, or it is forged or expired."""
        if not cookie or len(cookie) > MAX_COOKIE_BYTES:
            raise SignInRefused(EXPIRED, "no sign-in state cookie")
        now = self._now()
        ring = self._ring()
        try:
            decoded = jwt.decode(
                cookie,
                ring.verification_keys(now, self.settings.state_lifetime),
                algorithms=[ALGORITHM],
            )
            if decoded.header.get("typ") != STATE_TYPE:
                raise SignInRefused(EXPIRED, "the cookie is not a sign-in state")
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "value": self.redirect_uri},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise SignInRefused(EXPIRED, f"sign-in state refused: {type(error).__name__}") from None
        claims = decoded.claims
        try:
            params = [(str(k), str(v)) for k, v in claims["req"]]
            return Pending(params, str(claims["state"]), str(claims["nonce"]), str(claims["cv"]))
        except (KeyError, TypeError, ValueError):
            raise SignInRefused(EXPIRED, "sign-in state malformed") from None

    # -- the flow -------------------------------------------------------------------------

    async def start(self, params: list[tuple[str, str]]) -> tuple[str, str]:
        """Where to send the browser at the provider, and the state cookie to set."""
        metadata = await self.metadata()
        pending = Pending(
            params,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),
        )
        cookie = self._seal(pending)
        if len(cookie) > MAX_COOKIE_BYTES:
            raise SignInRefused(
                "This authorization request is too large to continue through the sign-in "
                "provider. Sign in with your Provision email and password instead.",
                "sign-in state too large for a cookie",
            )
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            self.settings.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope=self.settings.scope,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return url, cookie

    @staticmethod
    def check_state(pending: Pending, state: str | None) -> None:
        if not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise SignInRefused(EXPIRED, "state does not match the sign-in state cookie")

    async def identity(self, pending: Pending, code: str) -> Identity:
        """Exchange the code and verify the ID token it brings; ``SignInRefused`` otherwise."""
        metadata = await self.metadata()
        id_token, access_token = await self._exchange(metadata, pending, code)
        keys = await self._keys(because_unknown_kid=False)
        try:
            try:
                decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except InvalidKeyIdError:  # the provider may have rotated its keys: look again
                keys = await self._keys(because_unknown_kid=True)
                decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                options={
                    "iss": {"essential": True, "value": self.settings.issuer},
                    "aud": {"essential": True, "value": self.settings.client_id},
                    "exp": {"essential": True},
                },
                params={
                    "nonce": pending.nonce,
                    "client_id": self.settings.client_id,
                    "access_token": access_token,
                },
            )
            claims.validate(now=int(self._now().timestamp()), leeway=self.settings.leeway_seconds)
        except (JoseError, ValueError, TypeError) as error:
            raise SignInRefused(
                NOT_TRUSTED, f"ID token refused: {type(error).__name__}: {error}"
            ) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise SignInRefused(NOT_TRUSTED, "ID token names no subject")
        email = claims.get("email")
        return Identity(
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
        )

    async def _exchange(
        self, metadata: dict[str, Any], pending: Pending, code: str
    ) -> tuple[str, str | None]:
        settings = self.settings
        extra: dict[str, str] = {}
        methods = metadata.get("token_endpoint_auth_methods_supported") or []
        auth: httpx.BasicAuth | None = None
        if methods and "client_secret_basic" not in methods and "client_secret_post" in methods:
            extra = {"client_id": settings.client_id, "client_secret": settings.client_secret}
        else:  # RFC 6749 §2.3.1: both parts form-encoded before Basic
            auth = httpx.BasicAuth(
                quote(settings.client_id, safe=""), quote(settings.client_secret, safe="")
            )
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=self.redirect_uri,
            code=code,
            code_verifier=pending.verifier,
            **extra,
        )
        try:
            response = await self._client().post(
                metadata["token_endpoint"],
                content=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                auth=auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            raise SignInRefused(
                UNAVAILABLE, f"token request failed: {type(error).__name__}", status=502
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500:
            raise SignInRefused(
                UNAVAILABLE, f"token endpoint answered {response.status_code}", status=502
            )
        if response.status_code != 200 or not isinstance(answer, dict):
            error_code = answer.get("error") if isinstance(answer, dict) else None
            raise SignInRefused(
                NOT_TRUSTED,
                f"token endpoint answered {response.status_code} ({error_code or 'no error'})",
                status=502,
            )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused(NOT_TRUSTED, "token response has no id_token", status=502)
        access_token = answer.get("access_token")
        return id_token, access_token if isinstance(access_token, str) else None
