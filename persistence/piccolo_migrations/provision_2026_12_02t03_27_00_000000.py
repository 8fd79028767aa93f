"""Webhook deliveries (docs/webhooks.md): the ``webhook_delivery_result`` table (each
delivery's last answer and latency), the FIFO lanes' index the ledger's claim reads, and the
index listing an endpoint's deliveries (STATEMENTS)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Timestamptz
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-02T03:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: webhook deliveries, FIFO lanes"


class WebhookDeliveryResult(Table, tablename="webhook_delivery_result", schema=None):
    """Frozen as of this migration (a later change to tables.py is a later migration)."""

    id = UUID(primary_key=True)
    endpoint_id = UUID()
    status_code = Integer(null=True, default=None)
    latency_ms = Integer(null=True, default=None)
    attempted_at = Timestamptz()


STATEMENTS = [
    # The claim skips a row while an older row of its FIFO lane is unfinished.
    """CREATE INDEX provision_event_fifo ON provision_event ((payload->>'fifo'), id)
        WHERE (payload->>'fifo') IS NOT NULL AND status IN ('PENDING', 'RUNNING', 'FAILED')""",
    # An endpoint's deliveries, newest first (WebhookEndpoint.deliveries, auto-disable).
    """CREATE INDEX provision_event_webhook_endpoint
        ON provision_event ((payload->>'endpoint_id'), id) WHERE kind = 'WEBHOOK_DELIVERY'""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in [*WebhookDeliveryResult.create_table().ddl, *STATEMENTS]:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS provision_event_webhook_endpoint")
        await engine.run_ddl("DROP INDEX IF EXISTS provision_event_fifo")
        await engine.run_ddl("DROP TABLE IF EXISTS webhook_delivery_result")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
