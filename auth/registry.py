"""Registering clients and users (the ``provision client create`` and ``user create``
commands). The secret is returned once and only its hash is kept."""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import anyio.to_thread
import asyncpg

from auth.hashing import digest, hash_password, random_secret
from auth.models import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    MACHINE_KINDS,
    REFRESH_TOKEN,
)
from auth.store import OAuthStore
from domain.errors import ValidationFailed
from domain.model.customer import validate_email
from domain.policy import ALL_SCOPES, GRANTABLE_SCOPES, grantable
from domain.principal import PrincipalKind

CLIENT_KINDS = {
    "staff": PrincipalKind.STAFF,
    "partner": PrincipalKind.PARTNER,
    "gitlab_com": PrincipalKind.GITLAB_COM,
    "portal": PrincipalKind.PORTAL_USER,
}
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024


class RegistrationError(ValueError):
    """What was asked for cannot be registered; the message says why."""


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class NewUser:
    subject: str
    email: str
    staff: bool
    partner_id: str | None = None


def _check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc or parts.scheme not in ("https", "http"):
        raise RegistrationError(f"{uri!r}: a redirect URI is absolute, without a fragment")
    if parts.scheme == "http":
        host = parts.hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise RegistrationError(f"{uri!r}: http only on the loopback interface")
    return uri


async def register_client(
    store: OAuthStore,
    *,
    kind: PrincipalKind,
    name: str,
    now: datetime,
    scopes: Iterable[str] = (),
    partner_id: str | None = None,
    redirect_uris: Iterable[str] = (),
    confidential: bool = False,
) -> NewClient:
    """Machines (staff, partner, GitLab.com) get client credentials; portal clients are
    public PKCE clients unless ``confidential``. Scopes default to all the kind may hold."""
    name = name.strip()
    if not name or len(name) > 200:
        raise RegistrationError("a client needs a name of at most 200 characters")
    requested = frozenset(scopes)
    if unknown := requested - ALL_SCOPES:
        raise RegistrationError(f"unknown scopes: {', '.join(sorted(unknown))}")
    # A portal client may carry staff scopes: a staff user signing in through it gets them.
    ceiling = GRANTABLE_SCOPES[PrincipalKind.STAFF if kind not in MACHINE_KINDS else kind]
    if beyond := requested - ceiling:
        raise RegistrationError(f"a {kind.value} client cannot hold: {', '.join(sorted(beyond))}")
    if (kind is PrincipalKind.PARTNER) != bool(partner_id):
        raise RegistrationError("a partner id is required for partner clients, and only for them")
    uris = [_check_redirect_uri(u) for u in redirect_uris]
    if kind in MACHINE_KINDS:
        if uris:
            raise RegistrationError("machine clients have no redirect URIs")
        grant_types = [CLIENT_CREDENTIALS]
        confidential = True
    elif kind is PrincipalKind.PORTAL_USER:
        if not uris:
            raise RegistrationError("a portal client needs at least one redirect URI")
        grant_types = [AUTHORIZATION_CODE, REFRESH_TOKEN]
    else:
        raise RegistrationError(f"no clients of kind {kind.value}")
    client_id = f"cl_{secrets.token_hex(16)}"
    secret = random_secret() if confidential else None
    await store.add_client(
        client_id=client_id,
        secret_hash=digest(secret) if secret else None,
        kind=kind,
        name=name,
        partner_id=partner_id,
        scopes=requested or grantable(kind),
        redirect_uris=uris,
        grant_types=grant_types,
        auth_method="client_secret_basic" if secret else "none",
        now=now,
    )
    return NewClient(client_id, secret)


async def register_user(
    store: OAuthStore,
    *,
    email: str,
    password: str,
    now: datetime,
    staff: bool = False,
    partner_id: str | None = None,
) -> NewUser:
    """A person who signs in: a customer's user, staff, or someone acting for ``partner_id``
    (whose tokens are PARTNER tokens naming it; not staff as well)."""
    if staff and partner_id:
        raise RegistrationError("a user acts for a partner or is staff, not both")
    try:
        email = validate_email(email)
    except ValidationFailed as invalid:
        raise RegistrationError(str(invalid)) from None
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise RegistrationError(
            f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    subject = f"usr_{uuid.uuid4().hex}"
    try:
        await store.add_user(
            subject=subject,
            email=email,
            password_hash=password_hash,
            staff=staff,
            now=now,
            partner_id=partner_id,
        )
    except asyncpg.UniqueViolationError:
        raise RegistrationError("a user with this email exists") from None
    return NewUser(subject, email, staff, partner_id)
