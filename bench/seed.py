"""The benchmark's database: a throwaway server (or database), migrated and filled by COPY."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from domain.model.ids import new_id
from domain.model.subscription import subscription_name
from persistence.embedded import EmbeddedPostgres
from persistence.migrations import migrate

SERVER_VARIABLE = "BENCH_DATABASE_URL"
BENCH_DATABASE = "provision_bench"
CUSTOMERS = 500
SUBSCRIPTIONS = 10_000
LICENSES_PER_SUBSCRIPTION = 3
PORTAL_USER = "bench:portal"
"""The portal user the benchmark's second token names (a member of every fifth customer)."""
PORTAL_USER_EVERY = 5
PARTNER = "bench-partner"
"""The partner of every fourth subscription (RESELLER channel), for the partner's page."""
PARTNER_EVERY = 4
LICENSE_KEY_BYTES = 768  # base64 makes ~1 KB of text, about the size of a real license
# The portal's subscription page (api/portal/operations/Subscription.graphql) reads one
# subscription with everything it has: this one (the portal user's first) gets three terms
# (one a two-segment ramp), two add-ons, instances, seat-link reports and, so that every part
# of the document reads rows, a linked namespace with provisioning steps too (a real
# subscription has instances or a namespace; the page asks for both).
HEAVY_INSTANCES = 6
HEAVY_REPORTS = 30
HEAVY_STEPS = 8
HEAVY_GITLAB_ID = 9_000_001


def _on_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A DSN for an empty database, removed afterwards.

    With ``BENCH_DATABASE_URL`` set: a database ``provision_bench`` created on that server and
    dropped at the end. Otherwise: an embedded PostgreSQL in a temporary directory.
    """
    server = os.environ.get(SERVER_VARIABLE)
    if server:
        drop = f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"
        asyncio.run(_admin(server, drop))
        asyncio.run(_admin(server, f"CREATE DATABASE {BENCH_DATABASE}"))
        try:
            yield _on_database(server, BENCH_DATABASE)
        finally:
            asyncio.run(_admin(server, drop))
        return
    directory = Path(tempfile.mkdtemp(prefix="provision-bench-"))
    embedded = EmbeddedPostgres(directory / "postgres")
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _ids(count: int) -> list[uuid.UUID]:
    """Version 7 ids in increasing order (ids made in the same millisecond are not ordered)."""
    return sorted(new_id() for _ in range(count))


def _rows(today: date, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
    rnd = random.Random(7)  # the same data set on every run
    customers = [
        (cid, f"Company {i}", f"Contact {i}", f"contact{i}@company{i}.example", now)
        for i, cid in enumerate(_ids(CUSTOMERS))
    ]
    subscriptions: list[tuple[Any, ...]] = []
    segments: list[tuple[Any, ...]] = []
    licenses: list[tuple[Any, ...]] = []
    license_ids = iter(_ids(SUBSCRIPTIONS * LICENSES_PER_SUBSCRIPTION))
    for number, sid in enumerate(_ids(SUBSCRIPTIONS), start=1):
        plan = rnd.choice(("PREMIUM", "ULTIMATE"))
        seats = rnd.randint(10, 500)
        start = today - timedelta(days=rnd.randint(0, 300))
        end = start + timedelta(days=365)
        resold = number % PARTNER_EVERY == 0
        subscriptions.append(
            (sid, subscription_name(number), rnd.choice(customers)[0], "SELF_MANAGED", plan,
             "RESELLER" if resold else "SALES", PARTNER if resold else None, True,
             "ONLINE_CLOUD", 1, False, False, None, None, start, end, now)
        )  # fmt: skip
        segments.append((new_id(), sid, 0, start, end, seats))
        for _ in range(LICENSES_PER_SUBSCRIPTION):
            key = base64.b64encode(rnd.randbytes(LICENSE_KEY_BYTES)).decode()
            licenses.append(
                (next(license_ids), sid, None, "ONLINE_CLOUD", plan, seats, start, end, False,
                 False, True, False, "[]", f"Contact {number}", f"admin{number}@example.com",
                 f"Company {number}", None, None, None, key, now)
            )  # fmt: skip
    # The portal user of the benchmark is a member of every fifth customer.
    memberships = [
        (new_id(), cid, PORTAL_USER, "OWNER") for cid, *_ in customers[::PORTAL_USER_EVERY]
    ]
    members = {cid for _, cid, _, _ in memberships}
    heavy = next(i for i, row in enumerate(subscriptions) if row[2] in members)
    heavy_rows = _heavy(rnd, subscriptions, segments, heavy, now)
    return {
        "customer": customers,
        "membership": memberships,
        "namespace": heavy_rows["namespace"],
        "subscription": subscriptions,
        "subscription_segment": segments,
        "subscription_add_on": heavy_rows["subscription_add_on"],
        "license": licenses,
        "instance": heavy_rows["instance"],
        "usage_report": heavy_rows["usage_report"],
        "provision_event": heavy_rows["provision_event"],
    }


def _heavy(
    rnd: random.Random,
    subscriptions: list[tuple[Any, ...]],
    segments: list[tuple[Any, ...]],
    index: int,
    now: datetime,
) -> dict[str, list[tuple[Any, ...]]]:
    """The subscription page's subscription: its extra rows (and its own row rewritten)."""
    row = list(subscriptions[index])
    sid, start = row[0], row[14]
    namespace_id = new_id()
    row[13] = namespace_id
    position = next(i for i, s in enumerate(segments) if s[1] == sid)
    seats = segments[position][5]
    year = timedelta(days=365)
    # Term 0: a ramp (two segments); terms 1 and 2: one segment each.
    half = start + timedelta(days=182)
    segments[position] = (segments[position][0], sid, 0, start, half, seats)
    segments.append((new_id(), sid, 0, half, start + year, seats + 50))
    segments.append((new_id(), sid, 1, start + year, start + 2 * year, seats + 100))
    segments.append((new_id(), sid, 2, start + 2 * year, start + 3 * year, seats + 150))
    row[15] = start + 3 * year
    subscriptions[index] = tuple(row)
    instances = [
        (new_id(), str(uuid.UUID(int=rnd.getrandbits(128))), sid, f"gitlab{i}.example.com",
         "17.5.0", now - timedelta(days=30 + i), now - timedelta(hours=i))
        for i in range(HEAVY_INSTANCES)
    ]  # fmt: skip
    reports = [
        (new_id(), sid, instances[i % HEAVY_INSTANCES][0], seats - 5 + i % 7, seats + i % 11,
         now - timedelta(days=HEAVY_REPORTS - i), f"gitlab{i % HEAVY_INSTANCES}.example.com",
         "17.5.0", instances[i % HEAVY_INSTANCES][1])
        for i in range(HEAVY_REPORTS)
    ]  # fmt: skip
    body = '{"provision": {"base_product": {"plan_code": "ultimate", "seats": %d}}}'
    steps = [
        (new_id(), "NAMESPACE_PROVISION", f"bench-step-{i}", namespace_id, body % (seats + i),
         "SUCCEEDED", 1, 5, now, now - timedelta(days=HEAVY_STEPS - i), now)
        for i in range(HEAVY_STEPS)
    ]  # fmt: skip
    namespace = (
        namespace_id, HEAVY_GITLAB_ID, "bench-group", "Bench Group", "GROUP", [42],
        ["owner@bench.example"], "ULTIMATE", seats - 3, seats + 2, 1234, 5_000_000,
        now - timedelta(hours=2), now,
    )  # fmt: skip
    return {
        "namespace": [namespace],
        "subscription_add_on": [
            (new_id(), sid, "COMPUTE_MINUTES", 1000, start, start + year),
            (new_id(), sid, "DUO_PRO", 20, start + year, start + 2 * year),
        ],
        "instance": instances,
        "usage_report": reports,
        "provision_event": steps,
    }


COLUMNS = {
    "customer": ["id", "company", "contact_name", "contact_email", "created_at"],
    "membership": ["id", "customer", "user_subject", "role"],
    "subscription": [
        "id", "name", "customer", "deployment", "plan", "channel", "partner_id", "auto_renew",
        "licensing_mode", "max_instances", "reconciliation_enabled", "cancel_at_period_end",
        "cancelled_at", "namespace", "start_date", "end_date", "created_at",
    ],
    "subscription_segment": ["id", "subscription", "term_index", "start_date", "end_date", "seats"],
    "namespace": [
        "id", "gitlab_id", "path", "name", "kind", "owner_user_ids", "owner_emails", "base_plan",
        "billable_members", "max_seats_used", "compute_minutes_used", "storage_used_bytes",
        "usage_reported_at", "created_at",
    ],
    "subscription_add_on": ["id", "subscription", "kind", "quantity", "start_date", "end_date"],
    "instance": [
        "id", "instance_identifier", "subscription", "hostname", "gitlab_version",
        "activated_at", "last_synced_at",
    ],
    "usage_report": [
        "id", "subscription", "instance", "billable_users", "max_historical_users",
        "reported_at", "hostname", "gitlab_version", "instance_identifier",
    ],
    "provision_event": [
        "id", "kind", "correlation_id", "namespace_id", "payload", "status", "attempts",
        "max_attempts", "next_attempt_at", "created_at", "updated_at",
    ],
    "license": [
        "id", "subscription", "instance", "mode", "plan", "seats", "starts_at", "expires_at",
        "trial", "cancelled", "auto_renew", "reconciliation_enabled", "add_ons", "licensee_name",
        "licensee_email", "licensee_company", "notify_admins_at", "notify_users_at",
        "block_changes_at", "license_key", "created_at",
    ],
}  # fmt: skip


async def prepare(dsn: str) -> None:
    """Migrate, then COPY the data set in (parents before children) and ANALYZE."""
    started = time.perf_counter()
    await migrate(dsn)
    now = datetime.now(UTC)
    rows = _rows(now.date(), now)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            for table, records in rows.items():
                await connection.copy_records_to_table(
                    table, records=records, columns=COLUMNS[table]
                )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    print(
        f"seeded {CUSTOMERS} customers, {SUBSCRIPTIONS} subscriptions,"
        f" {SUBSCRIPTIONS * LICENSES_PER_SUBSCRIPTION} licenses"
        f" in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
