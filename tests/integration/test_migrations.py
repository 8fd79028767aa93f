"""Migrations on real PostgreSQL: all applied, idempotent, and the constraints they create hold."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

from persistence.database import Database
from persistence.migrations import known_migration_ids, migrate, pending_migrations


async def test_every_migration_is_applied(db: Database) -> None:
    async with db.pool.acquire() as connection:
        assert await pending_migrations(connection) == set()
    assert len(known_migration_ids()) >= 2


async def test_migrating_again_changes_nothing(database_url: str, db: Database) -> None:
    before = await db.fetchval("SELECT count(*) FROM migration")
    report = await migrate(database_url)
    assert "No migrations need to be run" in report
    assert await db.fetchval("SELECT count(*) FROM migration") == before


async def test_tables_exist(db: Database) -> None:
    rows = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    names = {row["table_name"] for row in rows}
    assert {
        "customer",
        "membership",
        "subscription",
        "subscription_segment",
        "subscription_add_on",
        "namespace",
        "trial",
        "instance",
        "license",
        "usage_report",
    } <= names


async def _customer(db: Database) -> uuid.UUID:
    customer_id = uuid.uuid4()
    await db.fetch(
        "INSERT INTO customer (id, company, contact_name, contact_email, created_at)"
        " VALUES ($1, 'C', 'N', 'n@example.com', now())",
        customer_id,
    )
    return customer_id


async def _subscription_sql(db: Database, **overrides: object) -> None:
    values = {
        "name": "A-S00000001",
        "deployment": "SELF_MANAGED",
        "plan": "PREMIUM",
        "channel": "SALES",
        "licensing_mode": "ONLINE_CLOUD",
        "partner_id": None,
        "start_date": date(2026, 1, 1),
        "end_date": date(2027, 1, 1),
    }
    values.update(overrides)
    await db.fetch(
        "INSERT INTO subscription (id, name, customer, deployment, plan, channel, partner_id,"
        " licensing_mode, start_date, end_date, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())",
        uuid.uuid4(),
        values["name"],
        await _customer(db),
        values["deployment"],
        values["plan"],
        values["channel"],
        values["partner_id"],
        values["licensing_mode"],
        values["start_date"],
        values["end_date"],
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"plan": "FREE"},
        {"deployment": "ON_PREM"},
        {"deployment": "GITLAB_COM"},  # a SaaS subscription has no licensing mode
        {"licensing_mode": None},  # a self-managed one needs one
        {"channel": "RESELLER"},  # without a partner
        {"start_date": date(2027, 1, 1)},  # ends before it starts
    ],
)
async def test_the_database_refuses_what_the_domain_refuses(
    clean_db: Database, overrides: dict[str, object]
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await _subscription_sql(clean_db, **overrides)


async def test_subscription_names_are_unique(clean_db: Database) -> None:
    await _subscription_sql(clean_db)
    with pytest.raises(asyncpg.UniqueViolationError):
        await _subscription_sql(clean_db)


async def test_segments_need_a_seat(clean_db: Database) -> None:
    await _subscription_sql(clean_db)
    sub_id = await clean_db.fetchval("SELECT id FROM subscription")
    with pytest.raises(asyncpg.CheckViolationError):
        await clean_db.fetch(
            "INSERT INTO subscription_segment (id, subscription, term_index, start_date, end_date,"
            " seats) VALUES ($1, $2, 0, '2026-01-01', '2027-01-01', 0)",
            uuid.uuid4(),
            sub_id,
        )


async def test_keyset_indexes_replace_single_column_ones(db: Database) -> None:
    rows = await db.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    names = {row["indexname"] for row in rows}
    assert {"license_subscription_keyset", "instance_subscription_keyset"} <= names
    assert not names & {"license_subscription", "instance_subscription", "trial_namespace"}
