"""The authorization server: authlib's framework-independent ``AuthorizationServer`` and
grants, run in a worker thread (they are synchronous); their storage hooks reach the async
store through ``anyio.from_thread.run``.

Grants: ``client_credentials`` (machines and partners), ``authorization_code`` with PKCE S256
(portal users) and ``refresh_token`` (rotated on every use; a rotated token used again revokes
its whole family). RFC 7009 revocation. Access tokens are ours (``auth.tokens``).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeGrant,
    AuthorizationServer,
    ClientCredentialsGrant,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from auth.backend import KIND_CLAIM, PARTNER_CLAIM
from auth.hashing import digest, random_secret
from auth.keys import KeyRing
from auth.models import (
    AccessTokenRecord,
    ClientRecord,
    CodeRecord,
    RefreshTokenRecord,
    SignedInUser,
    UserRecord,
)
from auth.store import OAuthStore
from auth.tokens import InvalidToken, TokenSettings, issue_access_token, validate_access_token
from domain.policy import ALL_SCOPES, grantable
from domain.principal import PrincipalKind

logger = logging.getLogger("provision.auth.server")

SESSION_CLAIM = "sid"
EMAIL_CLAIM = "email"
SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
ANY_AUTH_METHOD = [*SECRET_AUTH_METHODS, "none"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class OAuthSettings:
    """Lifetimes and failed-attempt limits of the authorization server."""

    code_lifetime: timedelta = timedelta(seconds=60)
    refresh_token_lifetime: timedelta = timedelta(days=30)
    limit_window: timedelta = timedelta(minutes=15)
    signin_failures_per_account: int = 5
    signin_failures_per_address: int = 20
    token_failures_per_client: int = 10
    token_failures_per_address: int = 30


@dataclass(frozen=True)
class Call:
    """One HTTP request as the server sees it: method, path, headers and parameters (the
    query for GET, the form for POST), already read and size-checked by the route."""

    method: str
    path: str
    headers: Any
    params: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: list[tuple[str, str]]


def token_scopes(
    client_scopes: frozenset[str], kind: PrincipalKind, requested: str | None
) -> frozenset[str]:
    """Requested ∩ the client's ∩ what the kind may hold; all of the client's (that the kind
    may hold) when nothing was requested."""
    wanted = frozenset(requested.split()) if requested else None
    return grantable(kind, wanted) & client_scopes


class TokenResponse(dict[str, Any]):
    """The token endpoint's JSON body. Its ``repr`` names the keys only: authlib logs it
    (``Issue token %r to %r``) at debug level."""

    def __repr__(self) -> str:
        return f"<token response {sorted(self)} (values withheld)>"


class UnsupportedTokenType(OAuth2Error):  # type: ignore[misc]
    """RFC 7009 §2.2.1, answered with 400 (authlib's class answers 401)."""

    error = "unsupported_token_type"


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: Iterable[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in params:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, call: Call, uri: str) -> None:
        super().__init__(call.method, uri, headers=call.headers)
        self.payload = _Payload(call.params)

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data


def _on_loop(function: Callable[..., Coroutine[Any, Any, _T]], *args: Any) -> _T:
    """Run an async store call on the event loop from authlib's worker thread."""
    return anyio.from_thread.run(function, *args)


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE is required for every authorization request, with S256 only: ``plain`` (also the
    default when no method is named) gives nothing against a leaked authorization request."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class ProvisionAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self,
        store: OAuthStore,
        keys: Callable[[], KeyRing],
        token_settings: TokenSettings,
        settings: OAuthSettings,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self.store = store
        self.keys = keys
        self.token_settings = token_settings
        self.settings = settings
        self.now = now
        self._base_uri = token_settings.issuer.rstrip("/")
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_ClientCredentials)
        self.register_grant(_AuthorizationCode, [S256Challenge(required=True)])
        self.register_grant(_RefreshToken)
        self.register_endpoint(_Revocation)

    # -- what authlib asks of a framework integration -----------------------------------

    def create_oauth2_request(self, request: Call | OAuth2Request) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        # The issuer is this server's public address: authlib refuses non-TLS URIs, and
        # behind a TLS-terminating proxy the request's own URL says http.
        return _Request(request, self._base_uri + request.path)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Reply:
        return Reply(status, body, headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def query_client(self, client_id: str) -> ClientRecord | None:
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
            return None
        return _on_loop(self.store.get_client, client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        refresh_token = token.get("refresh_token")
        if refresh_token is None:
            return  # access tokens are self-contained JWTs; nothing to keep
        signed_in: SignedInUser = request.user
        now = self.now()
        _on_loop(
            lambda: self.store.add_refresh_token(
                token_hash=digest(refresh_token),
                family_id=signed_in.family_id,
                client=request.client,
                user=signed_in.user,
                scope=token["scope"],
                now=now,
                expires_at=now + self.settings.refresh_token_lifetime,
            )
        )

    # -- tokens ---------------------------------------------------------------------------

    def _generate_token(
        self,
        grant_type: str,
        client: ClientRecord,
        user: SignedInUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> TokenResponse:
        extra: dict[str, Any]
        if user is None:
            kind = client.kind
            subject = client.client_id
            extra = {KIND_CLAIM: kind.value}
            if client.partner_id:
                extra[PARTNER_CLAIM] = client.partner_id
        else:
            kind = user.user.kind
            subject = user.user.subject
            extra = {
                KIND_CLAIM: kind.value,
                EMAIL_CLAIM: user.user.email,
                SESSION_CLAIM: str(user.family_id),
            }
            if user.user.partner_id:
                extra[PARTNER_CLAIM] = user.user.partner_id
        scopes = token_scopes(client.scopes, kind, scope)
        if scope and not scopes:
            raise InvalidScopeError()
        access_token = issue_access_token(
            self.keys(),
            self.token_settings,
            self.now(),
            subject=subject,
            client_id=client.client_id,
            scopes=scopes,
            extra=extra,
        )
        token = TokenResponse(
            access_token=access_token,
            token_type="Bearer",  # noqa: S106 - the RFC 6750 token type
            expires_in=int(self.token_settings.lifetime.total_seconds()),
            scope=" ".join(sorted(scopes)),
        )
        if include_refresh_token and user is not None:
            token["refresh_token"] = random_secret()
        return token

    def revoke_family(self, family_id: uuid.UUID, why: str) -> None:
        logger.warning("token family %s revoked: %s", family_id, why)
        _on_loop(self.store.revoke_family, family_id, self.now())


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS


class _AuthorizationCode(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD
    server: ProvisionAuthorizationServer

    def generate_authorization_code(self) -> str:
        return random_secret()

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: UserRecord = request.user
        client: ClientRecord = request.client
        # What the user's kind may not hold is cut here, so the code carries the final scope.
        scope = " ".join(sorted(grantable(user.kind, frozenset(request.scope.split()))))
        now = self.server.now()
        data = request.payload.data
        _on_loop(
            lambda: self.server.store.add_code(
                code_hash=digest(code),
                client=client,
                user=user,
                redirect_uri=request.payload.redirect_uri,
                scope=scope,
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                now=now,
                expires_at=now + self.server.settings.code_lifetime,
            )
        )

    def query_authorization_code(self, code: str, client: ClientRecord) -> CodeRecord | None:
        if len(code) > 256:
            return None
        found: CodeRecord | None = _on_loop(self.server.store.find_code, digest(code))
        if found is None or found.client_pk != client.id:
            return None
        if found.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
            self.server.revoke_family(found.family_id, "authorization code used twice")
            return None
        if found.expires_at <= self.server.now():
            return None
        return found

    def authenticate_user(self, authorization_code: CodeRecord) -> SignedInUser | None:
        # Every check has passed (client, redirect URI, PKCE): take the code, atomically.
        if not _on_loop(self.server.store.claim_code, authorization_code.id, self.server.now()):
            self.server.revoke_family(authorization_code.family_id, "code raced and reused")
            raise InvalidGrantError("Invalid 'code' in request.")
        user = _on_loop(self.server.store.get_user, authorization_code.user_pk)
        return SignedInUser(user, authorization_code.family_id) if user else None

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        return None  # kept, marked used, so that a second use is recognised


class _RefreshToken(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: ProvisionAuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshTokenRecord | None:
        if len(refresh_token) > 256:
            return None
        found: RefreshTokenRecord | None = _on_loop(
            self.server.store.find_refresh_token, digest(refresh_token)
        )
        if found is None or found.revoked_at is not None:
            return None
        if found.used_at is not None:
            # A rotated token came back: either the client or a thief holds a copy. The
            # server cannot tell which, so the whole family goes (RFC 9700 §4.14.2).
            self.server.revoke_family(found.family_id, "rotated refresh token used again")
            return None
        if found.expires_at <= self.server.now():
            return None
        return found

    def authenticate_user(self, refresh_token: RefreshTokenRecord) -> SignedInUser | None:
        if not _on_loop(self.server.store.claim_refresh_token, refresh_token.id, self.server.now()):
            self.server.revoke_family(refresh_token.family_id, "refresh token raced and reused")
            raise InvalidGrantError()
        user = _on_loop(self.server.store.get_user, refresh_token.user_pk)
        return SignedInUser(user, refresh_token.family_id) if user else None

    def revoke_old_credential(self, refresh_token: RefreshTokenRecord) -> None:
        return None  # claim_refresh_token already marked it rotated


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. A refresh token, or an access token with a ``sid``, revokes its family.
    Client-credentials access tokens carry no ``sid``: they are short-lived JWTs checked
    without a database, so there is nothing to revoke them by (``unsupported_token_type``)."""

    CLIENT_AUTH_METHODS = ANY_AUTH_METHOD
    server: ProvisionAuthorizationServer

    def check_params(self, request: OAuth2Request, client: ClientRecord) -> None:
        token = request.form.get("token")
        if not token or len(token) > 4096:
            raise InvalidRequestError("Missing or oversized 'token'.")
        # An unknown token_type_hint is ignored (RFC 7009 §2.1).

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> AccessTokenRecord | RefreshTokenRecord | None:
        server = self.server
        if token_string.count(".") == 2:
            try:
                claims = validate_access_token(
                    server.keys(), server.token_settings, token_string, server.now()
                )
            except InvalidToken:
                return None  # not ours, or expired: nothing left to revoke
            sid = claims.get(SESSION_CLAIM)
            if not sid:
                raise UnsupportedTokenType(
                    "This access token has no session to revoke; it expires by itself."
                )
            try:
                return AccessTokenRecord(str(claims.get("client_id")), uuid.UUID(str(sid)))
            except ValueError:
                return None
        if len(token_string) > 256:
            return None
        found: RefreshTokenRecord | None = _on_loop(
            server.store.find_refresh_token, digest(token_string)
        )
        return found

    def revoke_token(self, token: AccessTokenRecord | RefreshTokenRecord, request: Any) -> None:
        _on_loop(self.server.store.revoke_family, token.family_id, self.server.now())
