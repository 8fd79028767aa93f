"""``provision token issue``, ``keys rotate``, ``client create``, ``client list``,
``client revoke`` and ``user create``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from api.cli.partners import partner_exists
from api.cli.support import with_connection
from api.settings import Settings

if TYPE_CHECKING:
    from auth.store import ClientListing

MAX_LISTED = 1000


def issue_token(
    settings: Settings,
    kind: str | None,
    subject: str | None,
    scopes: list[str],
    client_id: str | None = None,
    user_email: str | None = None,
    partner: str | None = None,
    subscription: uuid.UUID | None = None,
) -> int:
    """Mint a short-lived access token (operators and local development only): for a made-up
    principal (--kind, --subject), or for a registered client (--client) or user (--user)."""
    import asyncpg

    from auth.backend import KIND_CLAIM, PARTNER_CLAIM, SUBSCRIPTION_CLAIM
    from auth.keys import load_or_create
    from auth.server import EMAIL_CLAIM, token_scopes
    from auth.store import OAuthStore
    from auth.tokens import issue_access_token
    from domain.policy import grantable
    from domain.principal import PrincipalKind
    from integrations.clock import SystemClock

    async def mint(connection: asyncpg.Connection, dsn: str) -> str | None:
        now = SystemClock().now()
        ring = await load_or_create(connection, now)
        store = OAuthStore(lambda: connection)
        requested = " ".join(scopes) or None
        extra: dict[str, object]
        if client_id:
            client = await store.get_client(client_id)
            if client is None:
                return None
            sub, token_client = client.client_id, client.client_id
            granted = token_scopes(client.scopes, client.kind, requested)
            extra = {KIND_CLAIM: client.kind.value}
            if client.partner_id:
                extra[PARTNER_CLAIM] = client.partner_id
        elif user_email:
            user = await store.get_user_by_email(user_email)
            if user is None:
                return None
            sub, token_client = user.subject, "provision-cli"
            granted = grantable(user.kind, frozenset(scopes) if scopes else None)
            extra = {KIND_CLAIM: user.kind.value, EMAIL_CLAIM: user.email}
            if user.partner_id:
                extra[PARTNER_CLAIM] = user.partner_id
        else:
            assert kind
            assert subject
            principal_kind = PrincipalKind(kind)
            sub, token_client = subject, "provision-cli"
            granted = grantable(principal_kind, frozenset(scopes) if scopes else None)
            extra = {KIND_CLAIM: principal_kind.value}
            if partner:
                extra[PARTNER_CLAIM] = partner
            if subscription:
                extra[SUBSCRIPTION_CLAIM] = str(subscription)
        return issue_access_token(
            ring,
            settings.token_settings,
            now,
            subject=sub,
            client_id=token_client,
            scopes=granted,
            extra=extra,
        )

    token = with_connection(settings, mint)
    if token is None:
        print("no such client or user", file=sys.stderr)
        return 1
    print(token)
    return 0


def rotate_keys(settings: Settings, revoke_old: bool = False) -> int:
    """A new signing key. The old keys keep verifying for one token lifetime, or, with
    ``revoke_old``, are deleted: their tokens are refused from each server's next reload."""
    import asyncpg

    from auth.keys import Rotation, rotate_reporting
    from integrations.clock import SystemClock

    async def run(connection: asyncpg.Connection, dsn: str) -> Rotation:
        return await rotate_reporting(connection, SystemClock().now(), revoke_old=revoke_old)

    rotation = with_connection(settings, run)
    kid = rotation.ring.current.kid
    refresh = f"within PROVISION_KEY_REFRESH ({settings.key_refresh_seconds:g} s)"
    if revoke_old:
        print(
            f"new signing key {kid}; {len(rotation.revoked)} old key(s) revoked: running"
            f" servers refuse every token they signed {refresh}",
            file=sys.stderr,
        )
    else:
        lifetime = settings.token_lifetime_seconds
        print(
            f"new signing key {kid}; running servers sign with it {refresh}; tokens signed"
            f" before keep working until they expire (at most {lifetime} s)",
            file=sys.stderr,
        )
    print(kid)
    return 0


def _listing_row(client: ClientListing) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "kind": client.kind.value,
        "name": client.name,
        "partner": client.partner_id,
        "scopes": list(client.scopes),
        "created_at": client.created_at.isoformat(),
        "revoked_at": client.revoked_at.isoformat() if client.revoked_at else None,
    }


def list_clients(settings: Settings, args: argparse.Namespace) -> int:
    """The registered clients, oldest first, ``--limit`` of them after ``--after``."""
    import asyncpg

    from auth.store import OAuthStore

    if not 1 <= args.limit <= MAX_LISTED:
        print(f"--limit is 1 to {MAX_LISTED}", file=sys.stderr)
        return 2

    async def run(connection: asyncpg.Connection, dsn: str) -> list[ClientListing]:
        # One more than asked: whether there is a next page.
        return await OAuthStore(lambda: connection).list_clients(
            limit=args.limit + 1, after=args.after
        )

    clients = with_connection(settings, run)
    more = len(clients) > args.limit
    clients = clients[: args.limit]
    if args.json:
        print(json.dumps([_listing_row(c) for c in clients]))
    else:
        columns = ("CLIENT ID", "KIND", "NAME", "PARTNER", "SCOPES", "CREATED", "REVOKED")
        rows = [columns] + [
            (
                c.client_id,
                c.kind.value,
                c.name,
                c.partner_id or "-",
                ",".join(c.scopes) or "-",
                f"{c.created_at:%Y-%m-%dT%H:%M:%SZ}",
                f"{c.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if c.revoked_at else "-",
            )
            for c in clients
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    if more:
        print(
            f"more clients: --after {clients[-1].client_id} shows the next page",
            file=sys.stderr,
        )
    return 0


def revoke_client(settings: Settings, client_id: str) -> int:
    """Revoke a client: no new tokens, its refresh tokens and sign-ins end at once, and its
    access tokens are refused by every server within PROVISION_KEY_REFRESH. Exit 0 when it
    is revoked (now or before), 1 for an unknown id."""
    import asyncpg

    from auth.store import OAuthStore
    from integrations.clock import SystemClock

    async def run(connection: asyncpg.Connection, dsn: str) -> tuple[datetime | None, datetime]:
        now = SystemClock().now()
        return await OAuthStore(lambda: connection).revoke_client(client_id, now), now

    revoked_at, now = with_connection(settings, run)
    if revoked_at is None:
        print(f"no such client: {client_id!r}", file=sys.stderr)
        return 1
    if revoked_at < now:
        print(f"client {client_id} was already revoked at {revoked_at:%Y-%m-%dT%H:%M:%SZ}")
    else:
        print(
            f"client {client_id} revoked; running servers refuse its access tokens within"
            f" PROVISION_KEY_REFRESH ({settings.key_refresh_seconds:g} s)"
        )
    return 0


def create_client(settings: Settings, args: argparse.Namespace) -> int:
    import asyncpg

    from auth.registry import CLIENT_KINDS, RegistrationError, register_client
    from auth.store import OAuthStore
    from integrations.clock import SystemClock

    async def create(connection: asyncpg.Connection, dsn: str) -> dict[str, str | None]:
        if args.partner and not await partner_exists(connection, args.partner):
            raise RegistrationError(
                f"no partner {args.partner!r}: register it first (provision partner create)"
            )
        new = await register_client(
            OAuthStore(lambda: connection),
            kind=CLIENT_KINDS[args.kind],
            name=args.name,
            now=SystemClock().now(),
            scopes=args.scope,
            partner_id=args.partner,
            redirect_uris=args.redirect_uri,
            confidential=args.confidential,
        )
        return {"client_id": new.client_id, "client_secret": new.client_secret}

    try:
        created = with_connection(settings, create)
    except RegistrationError as refused:
        print(f"client not created: {refused}", file=sys.stderr)
        return 2
    print(json.dumps(created))
    return 0


def create_user(settings: Settings, args: argparse.Namespace) -> int:
    import asyncpg

    from auth.registry import RegistrationError, register_user
    from auth.store import OAuthStore
    from domain.model.customer import Membership
    from domain.model.enums import Role
    from integrations.clock import SystemClock
    from persistence.database import Database
    from persistence.repositories import PostgresCustomers

    if (args.customer is None) != (args.role is None):
        print("--customer and --role go together", file=sys.stderr)
        return 2
    if args.partner and (args.staff or args.customer is not None):
        print("--partner goes without --staff and --customer", file=sys.stderr)
        return 2
    password = os.environ.get("PROVISION_USER_PASSWORD") or getpass.getpass("Password: ")

    async def create(connection: asyncpg.Connection, dsn: str) -> dict[str, object]:
        if args.partner and not await partner_exists(connection, args.partner):
            raise RegistrationError(
                f"no partner {args.partner!r}: register it first (provision partner create)"
            )
        user = await register_user(
            OAuthStore(lambda: connection),
            email=args.email,
            password=password,
            now=SystemClock().now(),
            staff=args.staff,
            partner_id=args.partner,
        )
        if args.customer is not None:
            db = Database(dsn, pool_min=1, pool_max=1)
            await db.start()
            try:
                membership = Membership(args.customer, user.subject, Role(args.role))
                await PostgresCustomers(db).add_membership(membership)
            except asyncpg.ForeignKeyViolationError:
                raise RegistrationError("no such customer (the user was created)") from None
            finally:
                await db.stop()
        created: dict[str, object] = {
            "subject": user.subject,
            "email": user.email,
            "staff": user.staff,
        }
        if user.partner_id:
            created["partner"] = user.partner_id
        return created

    try:
        created = with_connection(settings, create)
    except RegistrationError as refused:
        print(f"user not created: {refused}", file=sys.stderr)
        return 2
    print(json.dumps(created))
    return 0
