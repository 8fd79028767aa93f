"""Migrations on real PostgreSQL: all applied, idempotent, the schema they build is the one the
Table classes declare, and the constraints they create hold."""

from __future__ import annotations

import importlib
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from piccolo.table import sort_table_classes

from auth.tables import TABLES as AUTH_TABLES
from persistence.database import Database
from persistence.migrations import known_migration_ids, migrate, pending_migrations
from persistence.tables import TABLES as PROVISION_TABLES

MIGRATION_PACKAGES = ("persistence.piccolo_migrations", "auth.piccolo_migrations")

# The schema as PostgreSQL's catalogs describe it, every object of ours (piccolo's own
# migration table aside): columns, constraints, indexes, sequences, functions, triggers.
CATALOG = {
    "columns": """SELECT table_name, column_name, data_type, udt_name, character_maximum_length,
        numeric_precision, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> 'migration'""",
    "constraints": """SELECT conrelid::regclass::text AS table_name, conname, contype,
        pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'migration'""",
    "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'migration'""",
    "sequences": """SELECT sequence_name, start_value, increment, maximum_value
        FROM information_schema.sequences
        WHERE sequence_schema = 'public' AND sequence_name <> 'migration_id_seq'""",
    "functions": """SELECT proname, pg_get_functiondef(oid) AS definition FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace""",
    "triggers": """SELECT tgrelid::regclass::text AS table_name, tgname,
        pg_get_triggerdef(oid) AS definition FROM pg_trigger WHERE NOT tgisinternal""",
}


async def test_every_migration_is_applied(db: Database) -> None:
    async with db.pool.acquire() as connection:
        assert await pending_migrations(connection) == set()
    assert len(known_migration_ids()) >= 2


async def test_migrating_again_changes_nothing(database_url: str, db: Database) -> None:
    before = await db.fetchval("SELECT count(*) FROM migration")
    report = await migrate(database_url)
    assert "No migrations need to be run" in report
    assert await db.fetchval("SELECT count(*) FROM migration") == before


async def _catalog(connection: asyncpg.Connection) -> dict[str, set[tuple[object, ...]]]:
    return {
        kind: {tuple(row.values()) for row in await connection.fetch(query)}
        for kind, query in CATALOG.items()
    }


def _raw_statements() -> list[str]:
    """What the migrations add beyond the Table classes (their STATEMENTS), in order."""
    statements: list[str] = []
    for package in MIGRATION_PACKAGES:
        folder = Path(importlib.import_module(package).__path__[0])
        for path in sorted(folder.glob("*_*.py")):
            module = importlib.import_module(f"{package}.{path.stem}")
            statements += getattr(module, "STATEMENTS", [])
    return statements


@pytest.fixture
async def scratch_database(server_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    name = f"provision_models_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    connection = await asyncpg.connect(urlunsplit(urlsplit(server_dsn)._replace(path=f"/{name}")))
    try:
        yield connection
    finally:
        await connection.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_migrated_schema_is_the_one_the_models_declare(
    db: Database, scratch_database: asyncpg.Connection
) -> None:
    # The same schema built without migrations: each Table class's CREATE TABLE (with its
    # indexes and constraints), then the migrations' raw statements piccolo cannot express.
    for table in sort_table_classes([*PROVISION_TABLES, *AUTH_TABLES]):
        for statement in table.create_table().ddl:
            await scratch_database.execute(statement)
    for statement in _raw_statements():
        await scratch_database.execute(statement)
    async with db.pool.acquire() as connection:
        migrated = await _catalog(connection)
    declared = await _catalog(scratch_database)
    assert len(migrated["columns"]) > 100
    assert len(migrated["indexes"]) > 50
    for kind in CATALOG:
        assert (kind, migrated[kind] - declared[kind]) == (kind, set())
        assert (kind, declared[kind] - migrated[kind]) == (kind, set())


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
