"""A partner's customers and, per customer, the subscriptions it sold (the partner's list of
its customers' subscriptions, bench/read_throughput.py): one index lookup per customer, in id
order, instead of intersecting the partner's whole channel with the customer's subscriptions
(a BitmapAnd over every subscription of the partner, once per customer).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: subscriptions by partner and customer"

STATEMENTS = [
    "CREATE INDEX subscription_partner_customer_keyset ON subscription (partner_id, customer, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    async def drop() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS subscription_partner_customer_keyset")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
