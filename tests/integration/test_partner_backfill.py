"""The partners migration's backfill on real PostgreSQL: a row for every partner id the
subscriptions already carry, named after it, as old as its first sale; run twice, no change."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, date, datetime

from persistence.database import Database

MIGRATION = importlib.import_module(
    "persistence.piccolo_migrations.provision_2026_12_02t03_35_00_000000"
)


async def _sold(db: Database, customer: uuid.UUID, n: int, channel: str, partner: str) -> None:
    await db.fetch(
        "INSERT INTO subscription (id, name, customer, deployment, plan, channel, partner_id,"
        " licensing_mode, start_date, end_date, created_at)"
        " VALUES ($1, $2, $3, 'SELF_MANAGED', 'PREMIUM', $4, $5, 'ONLINE_CLOUD', $6, $7, $8)",
        uuid.uuid4(),
        f"A-S{n:08d}",
        customer,
        channel,
        partner,
        date(2026, 1, 1),
        date(2027, 1, 1),
        datetime(2026, 1, n, tzinfo=UTC),
    )


async def test_every_partner_id_of_a_subscription_gets_its_row(clean_db: Database) -> None:
    customer = uuid.uuid4()
    await clean_db.fetch(
        "INSERT INTO customer (id, company, contact_name, contact_email, created_at)"
        " VALUES ($1, 'C', 'N', 'n@example.com', now())",
        customer,
    )
    # Written as before partners existed: no row for these ids yet.
    await _sold(clean_db, customer, 3, "RESELLER", "northwind")
    await _sold(clean_db, customer, 2, "MARKETPLACE", "northwind")
    await _sold(clean_db, customer, 5, "MARKETPLACE", "aws")
    await clean_db.fetch(
        "INSERT INTO partner (id, name, kind, created_at)"
        " VALUES ('kept', 'Kept Ltd', 'DISTRIBUTOR', now())"
    )
    await _sold(clean_db, customer, 7, "RESELLER", "kept")
    await clean_db.fetch(
        "INSERT INTO webhook_endpoint (id, partner_id, url, event_types, description, enabled,"
        " secret, created_at, updated_at) VALUES ($1, 'hooked', 'https://h.example', '{}', '',"
        " true, 's', $2, $2)",
        uuid.uuid4(),
        datetime(2026, 2, 1, tzinfo=UTC),
    )
    await clean_db.fetch(
        "INSERT INTO auth_client (id, client_id, secret_hash, kind, name, partner_id, scopes,"
        " redirect_uris, grant_types, auth_method, created_at) VALUES ($1, 'cl_x', 'h',"
        " 'PARTNER', 'X', 'clientele', '{}', '{}', '{client_credentials}',"
        " 'client_secret_basic', $2)",
        uuid.uuid4(),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    for _ in range(2):
        for statement in MIGRATION.BACKFILL:
            await clean_db.fetch(statement)
    rows = await clean_db.fetch("SELECT id, name, kind, created_at FROM partner ORDER BY id")
    assert [tuple(r.values()) for r in rows] == [
        ("aws", "aws", "MARKETPLACE", datetime(2026, 1, 5, tzinfo=UTC)),
        ("clientele", "clientele", "RESELLER", datetime(2026, 3, 1, tzinfo=UTC)),
        ("hooked", "hooked", "RESELLER", datetime(2026, 2, 1, tzinfo=UTC)),
        ("kept", "Kept Ltd", "DISTRIBUTOR", rows[3]["created_at"]),  # registered: untouched
        ("northwind", "northwind", "RESELLER", datetime(2026, 1, 2, tzinfo=UTC)),
    ]
