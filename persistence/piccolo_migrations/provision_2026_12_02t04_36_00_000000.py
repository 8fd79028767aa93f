"""GitLab Dedicated tenants (docs/dedicated.md): the ``dedicated_tenant`` and
``dedicated_callback`` tables as ``persistence/tables.py`` declares them."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.column_types import JSONB
from piccolo.columns.column_types import UUID
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.constraints import Check
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-02T04:36:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: dedicated tenants"


class Subscription(Table, tablename="subscription", schema=None):
    id = UUID(primary_key=True)


class DedicatedTenant(Table, tablename="dedicated_tenant", schema=None):
    """Frozen as of this migration (a later change to tables.py is a later migration)."""

    id = UUID(primary_key=True)
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade, unique=True)
    facts = JSONB()
    state = Varchar(length=20)
    history = JSONB(default=[])
    last_error = Text(null=True, default=None)
    failed_from = Varchar(length=20, null=True, default=None)
    license_id = UUID(null=True, default=None)
    tenant_url = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    dedicated_tenant_state_known = Check(
        "state IN ('ORDERED', 'ONBOARDING_INVITED', 'PROVISIONING', 'ACTIVE', 'CHANGING',"
        " 'DEPROVISIONING', 'GONE', 'FAILED')"
    )


class DedicatedCallback(Table, tablename="dedicated_callback", schema=None):
    """Frozen as of this migration."""

    id = Varchar(length=200, primary_key=True)
    received_at = Timestamptz()


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in [
            *DedicatedTenant.create_table().ddl,
            *DedicatedCallback.create_table().ddl,
        ]:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl("DROP TABLE IF EXISTS dedicated_callback")
        await engine.run_ddl("DROP TABLE IF EXISTS dedicated_tenant")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
