"""Indexes of the provisioning ledger piccolo's column API cannot express: partial indexes for
the workers' claim (due rows, expired leases) and composite ones for staff filters (each with
id, so keyset pages by id come straight from the index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T01:56:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger claim and filter indexes"

STATEMENTS = [
    """CREATE INDEX provision_event_due ON provision_event (next_attempt_at)
        WHERE status IN ('PENDING', 'FAILED')""",
    """CREATE INDEX provision_event_leased ON provision_event (lease_until)
        WHERE status = 'RUNNING'""",
    "CREATE INDEX provision_event_status_keyset ON provision_event (status, id)",
    "CREATE INDEX provision_event_kind_keyset ON provision_event (kind, id)",
    """CREATE INDEX provision_event_subscription_keyset ON provision_event (subscription_id, id)
        WHERE subscription_id IS NOT NULL""",
    """CREATE INDEX provision_event_namespace_keyset ON provision_event (namespace_id, id)
        WHERE namespace_id IS NOT NULL""",
    "CREATE INDEX provision_event_created_at ON provision_event (created_at)",
    "CREATE INDEX provision_event_correlation ON provision_event (correlation_id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
