"""The auth app's tables (a piccolo app of its own).

Secrets are never stored: client secrets, authorization codes and refresh tokens as SHA-256
hex digests (they are high-entropy random strings), passwords as scrypt hashes.
"""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigSerial,
    Boolean,
    ForeignKey,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check
from piccolo.table import Table


class SigningKey(Table, tablename="auth_signing_key"):
    """A key that signs access tokens; retired keys stay published until their tokens expire."""

    id = UUID(primary_key=True)
    kid = Varchar(length=64, unique=True)
    algorithm = Varchar(length=16)
    private_key_pem = Text()
    public_jwk = JSONB()
    created_at = Timestamptz()
    retired_at = Timestamptz(null=True, default=None)


class LicenseKey(Table, tablename="auth_license_key"):
    """The RSA key that signs license keys (GitLab's envelope); one row, made on first use."""

    id = UUID(primary_key=True)
    private_key_pem = Text()
    public_key_pem = Text()
    created_at = Timestamptz()


class Client(Table, tablename="auth_client"):
    """A registered OAuth client: a machine (client credentials) or the portal (codes)."""

    id = UUID(primary_key=True)
    client_id = Varchar(length=64, unique=True)
    secret_hash = Varchar(length=64, null=True, default=None)
    kind = Varchar(length=20)
    name = Varchar(length=200)
    partner_id = Varchar(length=200, null=True, default=None)
    scopes = Array(Varchar(length=64))
    redirect_uris = Array(Text())
    grant_types = Array(Varchar(length=32))
    auth_method = Varchar(length=32)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    vocabulary = Check(
        "kind IN ('STAFF', 'PARTNER', 'GITLAB_COM', 'PORTAL_USER')"
        " AND auth_method IN ('client_secret_basic', 'client_secret_post', 'none')"
        " AND ((auth_method = 'none') = (secret_hash IS NULL))"
        " AND ((kind = 'PARTNER') = (partner_id IS NOT NULL))"
    )


class User(Table, tablename="auth_user"):
    """A person who signs in to the portal (staff too); ``subject`` is their token ``sub``."""

    id = UUID(primary_key=True)
    subject = Varchar(length=40, unique=True)
    # Unique case-insensitively: a raw index on lower(email) (second auth migration).
    email = Varchar(length=254)
    password_hash = Varchar(length=200)
    staff = Boolean(default=False)
    created_at = Timestamptz()
    # Set for a person who acts for a partner: their tokens are PARTNER tokens naming it.
    partner_id = Varchar(length=100, null=True, default=None)


class TokenFamily(Table, tablename="auth_token_family"):
    """One sign-in: the code, every refresh token rotated from it and their access tokens
    (``sid``). Revoking the family revokes them all."""

    id = UUID(primary_key=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class AuthorizationCode(Table, tablename="auth_authorization_code"):
    id = UUID(primary_key=True)
    code_hash = Varchar(length=64, unique=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    family = ForeignKey(TokenFamily, on_delete=OnDelete.cascade)
    redirect_uri = Text()
    scope = Text()
    code_challenge = Varchar(length=128)
    code_challenge_method = Varchar(length=10)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class RefreshToken(Table, tablename="auth_refresh_token"):
    id = UUID(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    family = ForeignKey(TokenFamily, on_delete=OnDelete.cascade, index=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    user = ForeignKey(User, on_delete=OnDelete.cascade)
    scope = Text()
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class FailedAttempt(Table, tablename="auth_failed_attempt"):
    """A failed sign-in or token request, counted per bucket (account, address, client)."""

    id = BigSerial(primary_key=True)
    bucket = Varchar(length=32)
    key_hash = Varchar(length=64)
    attempted_at = Timestamptz()


TABLES: list[type[Table]] = [
    SigningKey,
    Client,
    User,
    TokenFamily,
    AuthorizationCode,
    RefreshToken,
    FailedAttempt,
    LicenseKey,
]
