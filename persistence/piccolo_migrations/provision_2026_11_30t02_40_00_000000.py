"""Emails once per subject: a unique index on the ledger payload's ``once`` key (the outbox's
``record_once`` inserts ON CONFLICT DO NOTHING against it), and the index the expiring-
subscription reminder reads (subscriptions that will not renew, by end date)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T02:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "emails once per subject; subscriptions ending without renewal"

STATEMENTS = [
    """CREATE UNIQUE INDEX provision_event_once ON provision_event ((payload->>'once'))
        WHERE (payload->>'once') IS NOT NULL""",
    """CREATE INDEX subscription_ending_without_renewal ON subscription (end_date)
        WHERE cancelled_at IS NULL AND (NOT auto_renew OR cancel_at_period_end)""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
