"""Applying piccolo migrations, and telling whether they are all applied (for /readyz)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from persistence.database import MIGRATION_LOCK, configure_piccolo

MIGRATIONS_DIR = Path(__file__).parent / "piccolo_migrations"


def known_migration_ids() -> set[str]:
    """The ids of the migration files shipped with this code."""
    ids = set()
    for path in MIGRATIONS_DIR.glob("provision_*.py"):
        for line in path.read_text().splitlines():
            if line.startswith("ID = "):
                ids.add(line.split('"')[1])
    return ids


async def migrate(dsn: str) -> str:
    """Apply what has not run yet; an advisory lock serialises concurrent starters.

    Returns piccolo's report of what it did.
    """
    configure_piccolo(dsn)
    from piccolo.apps.migrations.commands.forwards import run_forwards

    lock_connection = await asyncpg.connect(dsn)
    try:
        await lock_connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        report = io.StringIO()
        with contextlib.redirect_stdout(report):
            result = await run_forwards(app_name="all")
        if not result.success:
            raise RuntimeError(f"migrations failed: {result.message}\n{report.getvalue()}")
        return report.getvalue()
    finally:
        await lock_connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        await lock_connection.close()


async def pending_migrations(connection: asyncpg.Connection | PoolConnectionProxy) -> set[str]:
    """Migration ids of this code that the database has not applied."""
    exists = await connection.fetchval("SELECT to_regclass('migration') IS NOT NULL")
    applied: set[str] = set()
    if exists:
        rows = await connection.fetch("SELECT name FROM migration WHERE app_name = 'provision'")
        applied = {row["name"] for row in rows}
    return known_migration_ids() - applied
