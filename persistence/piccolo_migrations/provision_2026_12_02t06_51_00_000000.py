"""Sandbox tenants and their test clocks (docs/test-clock.md): ``customer.sandbox`` and
``customer.clock_offset``. Columns only (a schema built from ``tables.py`` has them already)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T06:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: sandbox tenants and their clock offsets"

COLUMNS = [
    "ALTER TABLE customer ADD COLUMN sandbox BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE customer ADD COLUMN clock_offset INTERVAL NOT NULL DEFAULT"
    " '0 weeks 0 days 0 hours 0 minutes 0 seconds 0 milliseconds 0 microseconds'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def add() -> None:
        engine = engine_finder()
        for statement in COLUMNS:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        for column in ("clock_offset", "sandbox"):
            await engine.run_ddl(f"ALTER TABLE customer DROP COLUMN IF EXISTS {column}")

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
