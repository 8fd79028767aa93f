"""Seat link's lookups piccolo's column API cannot express: the digest of licenses issued
before the column existed (whitespace-free key text, as ``license_key_digest`` computes it;
keys Provision stored never carry BEGIN/END boundary lines), and its index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T02:13:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "license key digest backfill and index"

STATEMENTS = [
    r"""UPDATE license SET key_digest = encode(sha256(convert_to(
        regexp_replace(license_key, '\s+', '', 'g'), 'UTF8')), 'hex')
        WHERE key_digest = ''""",
    "CREATE INDEX license_key_digest ON license (key_digest)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
