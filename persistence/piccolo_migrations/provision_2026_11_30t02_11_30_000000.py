"""Staff operations on the ledger, what piccolo's column API cannot express: RESOLVED in the
status CHECK (with its reason and time set exactly then), an index for the summary's counts by
status and kind, and keyset indexes for the audit trail's filters ((object_id, id) replaces the
index on object_id alone, dropped by the previous migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T02:11:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "resolved status check, ledger summary and audit keyset indexes"

STATEMENTS = [
    """ALTER TABLE provision_event DROP CONSTRAINT provision_event_status,
        ADD CONSTRAINT provision_event_status CHECK (
        status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD', 'RESOLVED'))""",
    """ALTER TABLE provision_event ADD CONSTRAINT provision_event_resolution CHECK (
        (status = 'RESOLVED') = (resolved_at IS NOT NULL AND resolved_reason IS NOT NULL))""",
    "CREATE INDEX provision_event_status_kind ON provision_event (status, kind)",
    "CREATE INDEX audit_entry_object_keyset ON audit_entry (object_id, id)",
    "CREATE INDEX audit_entry_actor_keyset ON audit_entry (actor_subject, id)",
    "CREATE INDEX audit_entry_action_keyset ON audit_entry (action, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
