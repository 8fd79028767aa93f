"""What the authorization server works with: clients, users, codes and refresh tokens as
loaded from the database, shaped as authlib's mixins expect. No secret is held here, and no
``repr`` shows a hash (authlib logs clients with ``%r``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from auth.hashing import matches_digest
from domain.principal import PrincipalKind

MACHINE_KINDS = frozenset({PrincipalKind.STAFF, PrincipalKind.PARTNER, PrincipalKind.GITLAB_COM})
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type's name


@dataclass(frozen=True)
class ClientRecord(ClientMixin):  # type: ignore[misc]
    id: uuid.UUID
    client_id: str
    kind: PrincipalKind
    name: str
    scopes: frozenset[str]
    redirect_uris: tuple[str, ...]
    grant_types: frozenset[str]
    auth_method: str
    partner_id: str | None = None
    secret_hash: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"<Client {self.client_id}>"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the authorization request must name its redirect URI

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """Requested ∩ registered (everything registered when nothing was asked for);
        ``None`` (invalid_scope) when nothing of what was asked for is allowed."""
        if not scope:
            return " ".join(sorted(self.scopes))
        allowed = set(scope.split()) & self.scopes
        return " ".join(sorted(allowed)) if allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match, RFC 9700 §4.1.3

    def check_client_secret(self, client_secret: str) -> bool:
        return matches_digest(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A client with a secret may send it either way (Basic or form); a public one has none.
        if self.secret_hash is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and AUTHORIZATION_CODE in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class UserRecord:
    id: uuid.UUID
    subject: str
    email: str
    staff: bool
    password_hash: str = field(default="", repr=False)
    partner_id: str | None = None
    """The partner this person acts for (their tokens are PARTNER tokens), if any."""

    @property
    def kind(self) -> PrincipalKind:
        if self.partner_id:
            return PrincipalKind.PARTNER
        return PrincipalKind.STAFF if self.staff else PrincipalKind.PORTAL_USER


@dataclass(frozen=True)
class SignedInUser:
    """A user as a grant sees them: who, and the sign-in (token family) the tokens belong to."""

    user: UserRecord
    family_id: uuid.UUID


@dataclass(frozen=True)
class CodeRecord(AuthorizationCodeMixin):  # type: ignore[misc]
    id: uuid.UUID
    client_pk: uuid.UUID
    user_pk: uuid.UUID
    family_id: uuid.UUID
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime
    used_at: datetime | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class RefreshTokenRecord(TokenMixin):  # type: ignore[misc]
    id: uuid.UUID
    family_id: uuid.UUID
    client_pk: uuid.UUID
    user_pk: uuid.UUID
    scope: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    def check_client(self, client: ClientRecord) -> bool:
        return client.id == self.client_pk

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class AccessTokenRecord(TokenMixin):  # type: ignore[misc]
    """A valid access token presented for revocation; only its family can be revoked."""

    client_id: str
    family_id: uuid.UUID

    def check_client(self, client: ClientRecord) -> bool:
        return client.client_id == self.client_id
