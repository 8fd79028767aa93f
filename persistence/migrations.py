"""Applying piccolo migrations, and telling whether they are all applied (for /readyz)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from persistence.database import MIGRATION_LOCK, configure_piccolo


def known_migration_ids() -> set[tuple[str, str]]:
    """(app, migration id) of every migration file of every app in piccolo's registry."""
    os.environ.setdefault("PICCOLO_CONF", "persistence.piccolo_conf")
    from piccolo.conf.apps import Finder

    ids = set()
    for app in Finder().get_app_configs():
        for path in Path(app.resolved_migrations_folder_path).glob("*.py"):
            for line in path.read_text().splitlines():
                if line.startswith("ID = "):
                    ids.add((app.app_name, line.split('"')[1]))
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


async def pending_migrations(
    connection: asyncpg.Connection | PoolConnectionProxy,
) -> set[tuple[str, str]]:
    """(app, migration id) of this code's migrations that the database has not applied."""
    exists = await connection.fetchval("SELECT to_regclass('migration') IS NOT NULL")
    applied: set[tuple[str, str]] = set()
    if exists:
        rows = await connection.fetch("SELECT app_name, name FROM migration")
        applied = {(row["app_name"], row["name"]) for row in rows}
    return known_migration_ids() - applied
