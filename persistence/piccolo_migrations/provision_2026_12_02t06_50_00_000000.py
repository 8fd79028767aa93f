"""Sorted connections (docs/graphql.md, "Sorting"): a (column, id) index for each sort a list
offers, and (parent, column, id) for a nested list, so every page of every order is an index
scan (``persistence/keyset.py``). Indexes only, in STATEMENTS (a schema built from
``tables.py`` runs them too: tests/integration/test_migrations.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T06:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "provision: indexes for sorted connections"

INDEXES = {
    "customer_company_keyset": "customer (company, id)",
    "namespace_path_keyset": "namespace (path, id)",
    "namespace_gitlab_id_keyset": "namespace (gitlab_id, id)",
    "subscription_start_keyset": "subscription (start_date, id)",
    "subscription_end_keyset": "subscription (end_date, id)",
    "subscription_customer_keyset": "subscription (customer, id)",
    "subscription_customer_start_keyset": "subscription (customer, start_date, id)",
    "subscription_customer_end_keyset": "subscription (customer, end_date, id)",
    "license_starts_keyset": "license (starts_at, id)",
    "license_expires_keyset": "license (expires_at, id)",
    "license_subscription_starts_keyset": "license (subscription, starts_at, id)",
    "license_subscription_expires_keyset": "license (subscription, expires_at, id)",
    "usage_report_reported_keyset": "usage_report (reported_at, id)",
    "usage_report_subscription_keyset": "usage_report (subscription, id)",
    "provision_event_next_attempt_keyset": "provision_event (next_attempt_at, id)",
    "provision_event_updated_keyset": "provision_event (updated_at, id)",
}
STATEMENTS = [f"CREATE INDEX {name} ON {on}" for name, on in INDEXES.items()]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="provision", description=DESCRIPTION)

    async def add() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop() -> None:
        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
