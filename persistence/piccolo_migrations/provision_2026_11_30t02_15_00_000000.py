"""One self-managed trial per email and type, as a partial unique index (two first trials that
race cannot both win)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T02:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one self-managed trial per email and type"

STATEMENTS = [
    """CREATE UNIQUE INDEX trial_one_per_email_and_type ON trial (lower(email), type)
        WHERE subscription IS NOT NULL""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
