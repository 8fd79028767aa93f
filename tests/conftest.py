"""Shared fixtures: one real PostgreSQL per test session (embedded unless TEST_DATABASE_URL).

Each session gets a database of its own, migrated once; database tests start from empty
tables (TRUNCATE), which also works for tests that run concurrent tasks.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from persistence.database import Database
from persistence.embedded import EmbeddedPostgres
from persistence.migrations import migrate

BUSINESS_TABLES = (
    "audit_entry, audit_chain_head, idempotency_record, activation_code,"
    " usage_report, license, instance, trial, subscription_add_on, subscription_segment,"
    " subscription, membership, namespace, customer, partner,"
    " marketplace_inbox, marketplace_link, marketplace_offer, dedicated_callback"
)
LEDGER_TABLES = "provision_event, scheduled_job_run, webhook_delivery_result"
# The OAuth tables but the signing keys (the session's app holds its key ring).
AUTH_TABLES = (
    "auth_failed_attempt, auth_refresh_token, auth_authorization_code, auth_token_family,"
    " auth_user, auth_client"
)


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: TEST_DATABASE_URL's, or an embedded one for this session."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")) / "data")
        dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def database_url(server_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database on the server, dropped at the end of the session."""
    name = f"provision_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _with_database(server_dsn, name)
    await migrate(dsn)
    yield dsn
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_min=1, pool_max=5)
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
async def clean_db(db: Database) -> AsyncIterator[Database]:
    """The session database with empty business and OAuth tables."""
    await db.fetch(f"TRUNCATE {BUSINESS_TABLES}, {AUTH_TABLES}, {LEDGER_TABLES} CASCADE")
    db.observer = None
    yield db
    db.observer = None
