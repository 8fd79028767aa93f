"""Fleet (docs/instances.md): an instance's role and its retirement or replacement, and the
license column that marks a retired instance's end key. Columns only (COLUMNS, not STATEMENTS:
a schema built from ``tables.py`` has them already)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T04:31:17:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: instance roles, retirement and replacement"

COLUMNS = [
    "ALTER TABLE instance ADD COLUMN role VARCHAR(20) NOT NULL DEFAULT 'PRODUCTION'",
    "ALTER TABLE instance ADD COLUMN retired_at TIMESTAMPTZ DEFAULT null",
    "ALTER TABLE instance ADD COLUMN access_ends_on DATE DEFAULT null",
    "ALTER TABLE instance ADD COLUMN replaced_by UUID DEFAULT null",
    "ALTER TABLE instance ADD CONSTRAINT instance_role_known CHECK"
    " (role IN ('PRODUCTION', 'STAGING', 'DISASTER_RECOVERY', 'GEO_SECONDARY', 'TEST'))",
    "ALTER TABLE instance ADD CONSTRAINT instance_retired_with_end CHECK"
    " ((retired_at IS NULL) = (access_ends_on IS NULL))",
    "ALTER TABLE license ADD COLUMN retires_instance UUID DEFAULT null",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def add() -> None:
        engine = engine_finder()
        for statement in COLUMNS:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl("ALTER TABLE license DROP COLUMN IF EXISTS retires_instance")
        for column in ("replaced_by", "access_ends_on", "retired_at", "role"):
            await engine.run_ddl(f"ALTER TABLE instance DROP COLUMN IF EXISTS {column}")

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
