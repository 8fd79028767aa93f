"""Webhook endpoints (docs/webhooks.md): the ``webhook_endpoint`` table as
``persistence/tables.py`` declares it, and the indexes the endpoint lists and the fan-out
read (STATEMENTS)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.column_types import UUID
from piccolo.columns.column_types import Array
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.constraints import Check
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-02T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: webhook endpoints"


class Customer(Table, tablename="customer", schema=None):
    id = UUID(primary_key=True)


class WebhookEndpoint(Table, tablename="webhook_endpoint", schema=None):
    """Frozen as of this migration (a later change to tables.py is a later migration)."""

    id = UUID(primary_key=True)
    customer = ForeignKey(Customer, on_delete=OnDelete.cascade, null=True, default=None)
    partner_id = Varchar(length=100, null=True, default=None)
    url = Text()
    event_types = Array(Varchar(length=60))
    description = Text(default="")
    enabled = Boolean(default=True)
    secret = Varchar(length=100)
    previous_secret = Varchar(length=100, null=True, default=None)
    previous_secret_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    webhook_endpoint_one_owner = Check("customer IS NULL OR partner_id IS NULL")


STATEMENTS = [
    "CREATE INDEX webhook_endpoint_customer_keyset ON webhook_endpoint (customer, id)",
    "CREATE INDEX webhook_endpoint_partner_keyset ON webhook_endpoint (partner_id, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in [*WebhookEndpoint.create_table().ddl, *STATEMENTS]:
            await engine.run_ddl(statement)

    async def drop() -> None:
        await engine_finder().run_ddl("DROP TABLE IF EXISTS webhook_endpoint")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
