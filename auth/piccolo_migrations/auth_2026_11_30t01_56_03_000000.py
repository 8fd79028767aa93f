"""What piccolo's column API cannot say for the license signing key: there is only one.
(A separate migration: piccolo runs a migration's raw statements before its new tables.)"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T01:56:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "license signing key: a single row"

STATEMENTS = [
    # A unique index over a constant admits one row: a second key is an error, not a choice.
    "CREATE UNIQUE INDEX auth_license_key_one ON auth_license_key ((true))",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
