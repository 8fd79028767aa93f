"""A group has at most one linked subscription: a unique index, so two links racing for one
group cannot both win (the use case lets an ended subscription go first)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T02:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one subscription per namespace"

STATEMENTS = [
    """CREATE UNIQUE INDEX subscription_one_per_namespace ON subscription (namespace)
        WHERE namespace IS NOT NULL""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
