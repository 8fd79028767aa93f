"""Partners and channel transfers (docs/partners.md): the ``partner`` and ``channel_transfer``
tables as ``persistence/tables.py`` declares them, the index the transfer job reads (STATEMENTS),
and a partner row for every partner id subscriptions already carry, named after its id
(BACKFILL; staff rename them), and for those of webhook endpoints and partner OAuth clients."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.column_types import UUID
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.constraints import Check
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-02T03:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: partners and channel transfers"


class Subscription(Table, tablename="subscription", schema=None):
    id = UUID(primary_key=True)


class Partner(Table, tablename="partner", schema=None):
    """Frozen as of this migration (a later change to tables.py is a later migration)."""

    id = Varchar(length=100, primary_key=True)
    name = Varchar(length=200)
    kind = Varchar(length=20)
    created_at = Timestamptz()
    partner_kind_known = Check("kind IN ('RESELLER', 'DISTRIBUTOR', 'MARKETPLACE')")


class ChannelTransfer(Table, tablename="channel_transfer", schema=None):
    """Frozen as of this migration."""

    id = UUID(primary_key=True)
    subscription = ForeignKey(Subscription, on_delete=OnDelete.cascade, index=True)
    from_channel = Varchar(length=20)
    from_partner_id = Varchar(length=100, null=True, default=None)
    to_channel = Varchar(length=20)
    to_partner_id = Varchar(length=100, null=True, default=None)
    effective_at = Timestamptz()
    reason = Text()
    requested_at = Timestamptz()
    requested_by = Varchar(length=200, null=True, default=None)
    status = Varchar(length=12)
    applied_at = Timestamptz(null=True, default=None)
    channel_transfer_status_known = Check("status IN ('PENDING', 'APPLIED', 'SUPERSEDED')")
    channel_transfer_applied_when_applied = Check(
        "(status = 'APPLIED') = (applied_at IS NOT NULL)"
    )


STATEMENTS = [
    "CREATE INDEX channel_transfer_due ON channel_transfer (effective_at)"
    " WHERE status = 'PENDING'",
]

BACKFILL = [
    # One row per distinct partner id, as old as its first subscription; MARKETPLACE when
    # every subscription it sold came through a marketplace, else RESELLER.
    "INSERT INTO partner (id, name, kind, created_at)"
    " SELECT partner_id, partner_id,"
    "        CASE WHEN bool_and(channel = 'MARKETPLACE') THEN 'MARKETPLACE' ELSE 'RESELLER' END,"
    "        min(created_at)"
    "   FROM subscription WHERE partner_id IS NOT NULL GROUP BY partner_id"
    " ON CONFLICT (id) DO NOTHING",
    # Partners known only by their webhook endpoints or their OAuth clients (the auth app's
    # table, which a fresh database may not have yet when this runs): RESELLER, named after
    # the id, as old as the first of them.
    "INSERT INTO partner (id, name, kind, created_at)"
    " SELECT partner_id, partner_id, 'RESELLER', min(created_at)"
    "   FROM webhook_endpoint WHERE partner_id IS NOT NULL GROUP BY partner_id"
    " ON CONFLICT (id) DO NOTHING",
    "DO $$ BEGIN"
    " IF to_regclass('auth_client') IS NOT NULL THEN"
    "   INSERT INTO partner (id, name, kind, created_at)"
    "   SELECT partner_id, partner_id, 'RESELLER', min(created_at)"
    "     FROM auth_client WHERE partner_id IS NOT NULL AND length(partner_id) <= 100"
    "    GROUP BY partner_id"
    "   ON CONFLICT (id) DO NOTHING;"
    " END IF;"
    " END $$",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in [
            *Partner.create_table().ddl,
            *ChannelTransfer.create_table().ddl,
            *STATEMENTS,
            *BACKFILL,
        ]:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        await engine.run_ddl("DROP TABLE IF EXISTS channel_transfer")
        await engine.run_ddl("DROP TABLE IF EXISTS partner")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
