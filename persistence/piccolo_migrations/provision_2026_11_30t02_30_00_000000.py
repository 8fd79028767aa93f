"""Namespace trials: one per namespace and type (two racing applications cannot both win),
and the index the expiry job claims ended trials by (``reverted_on``, added just before)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T02:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one trial per namespace and type; ended-trial index"

STATEMENTS = [
    """CREATE UNIQUE INDEX trial_one_per_namespace_and_type ON trial (namespace, type)
        WHERE namespace IS NOT NULL""",
    """CREATE INDEX trial_ended_unreverted ON trial (ends_on)
        WHERE namespace IS NOT NULL AND reverted_on IS NULL""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
