"""Usage from license usage files (docs/usage-file.md): two nullable columns on
``usage_report``, as ``persistence/tables.py`` declares them - ``source`` (NULL for seat link,
``USAGE_FILE`` for a row of an uploaded file) and ``license`` (the license whose key the file
carried). Additive: seat-link rows keep NULL in both."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T04:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: usage_report.source and usage_report.license"

COLUMNS = [
    'ALTER TABLE "usage_report" ADD COLUMN "source" VARCHAR(20) DEFAULT null',
    'ALTER TABLE "usage_report" ADD COLUMN "license" UUID REFERENCES "license" ("id")'
    " ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null",
    'ALTER TABLE "usage_report" ADD CONSTRAINT usage_report_source_known'
    " CHECK (source IS NULL OR source IN ('USAGE_FILE'))",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def add() -> None:
        engine = engine_finder()
        for statement in COLUMNS:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            'ALTER TABLE "usage_report" DROP COLUMN IF EXISTS "license",'
            ' DROP COLUMN IF EXISTS "source"'
        )

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
