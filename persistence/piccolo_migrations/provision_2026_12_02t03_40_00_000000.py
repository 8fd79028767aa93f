"""Marketplace intake (docs/marketplaces.md): the inbox of inbound events, the links from
marketplace subscriptions to ours, and the staff's offer mapping. Plain SQL (STATEMENTS): the
tables are read and written by persistence/marketplace.py only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T03:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: marketplace inbox, links and offers"

STATEMENTS = [
    "CREATE TABLE marketplace_inbox ("
    " id uuid PRIMARY KEY,"
    " marketplace varchar(20) NOT NULL,"
    " message_id varchar(200) NOT NULL,"
    " payload jsonb NOT NULL,"
    " received_at timestamptz NOT NULL,"
    " state varchar(20) NOT NULL DEFAULT 'RECEIVED',"
    " subscription_key varchar(200),"
    " reason text,"
    " ledger_event_id uuid,"
    " applied_at timestamptz,"
    " CONSTRAINT marketplace_inbox_key UNIQUE (marketplace, message_id))",
    "CREATE INDEX marketplace_inbox_state ON marketplace_inbox (state, id)",
    "CREATE TABLE marketplace_link ("
    " marketplace varchar(20) NOT NULL,"
    " subscription_key varchar(200) NOT NULL,"
    " subscription_id uuid REFERENCES subscription (id) ON DELETE CASCADE,"
    " account_key varchar(200) NOT NULL DEFAULT '',"
    " last_event_at timestamptz NOT NULL,"
    " suspended boolean NOT NULL DEFAULT false,"
    " PRIMARY KEY (marketplace, subscription_key))",
    "CREATE INDEX marketplace_link_account ON marketplace_link (marketplace, account_key)",
    "CREATE INDEX marketplace_link_subscription ON marketplace_link (subscription_id)",
    "CREATE TABLE marketplace_offer ("
    " id uuid PRIMARY KEY,"
    " marketplace varchar(20) NOT NULL,"
    " offer varchar(200) NOT NULL,"
    " plan_key varchar(200) NOT NULL,"
    " plan varchar(20) NOT NULL,"
    " deployment varchar(20) NOT NULL,"
    " seats integer CHECK (seats IS NULL OR seats >= 1),"
    " term_months integer NOT NULL CHECK (term_months BETWEEN 1 AND 60),"
    " created_at timestamptz NOT NULL,"
    " updated_at timestamptz NOT NULL,"
    " CONSTRAINT marketplace_offer_key UNIQUE (marketplace, offer, plan_key))",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        for table in ("marketplace_offer", "marketplace_link", "marketplace_inbox"):
            await engine.run_ddl(f"DROP TABLE IF EXISTS {table}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
