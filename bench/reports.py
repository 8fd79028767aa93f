"""The staff reports (docs/reports.md) on a million subscriptions: each report's one SQL
statement, timed (median of 5 after a warm-up) with the top line of its plan.

Seeds its own embedded PostgreSQL (or ``BENCH_DATABASE_URL``, see ``bench/seed.py``) with
``INSERT … SELECT generate_series`` on the server, so seeding takes minutes: customers,
subscriptions and their segments, licenses, instances, namespaces, trials, Dedicated tenants,
ledger rows and usage reports in the proportions described in bench/README.md. Then ANALYZE.

    python bench/reports.py                    # ~20 minutes on 2 cores (loaded)
    python bench/reports.py --subscriptions 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from seed import bench_database

from domain.model.reports import (
    SEAT_OVERAGE_PERIOD_DAYS,
    Period,
    ReportName,
)
from persistence import seat_usage
from persistence.migrations import migrate
from persistence.reports import STATEMENTS

TARGET_SECONDS = 1.0
RUNS = 5

# $1 = the number of subscriptions, $2 = now. Every id is derived from its row number (md5),
# so that rows find each other without lookups. Proportions (i = 1..N):
#   deployment: 5% DEDICATED (i % 20 = 0), 40% GITLAB_COM (1..8), 55% SELF_MANAGED;
#   channel: 15% RESELLER, 5% MARKETPLACE, 40% SALES, 40% WEB_DIRECT; 3% cancelled;
#   ordered uniformly over three years, terms of 1 to 3 years (about 2/3 active).
SEED = [
    """INSERT INTO customer (id, company, contact_name, contact_email, created_at)
       SELECT md5('c' || c)::uuid, 'Company ' || c, 'Contact ' || c, 'c' || c || '@example.com',
              $2::timestamptz - interval '4 years'
       FROM generate_series(1, $1 / 4) c""",
    """INSERT INTO namespace (id, gitlab_id, path, name, kind, owner_user_ids, owner_emails,
                             base_plan, max_seats_used, usage_reported_at, created_at)
       SELECT md5('n' || n)::uuid, n, 'group-' || n, 'Group ' || n, 'GROUP', '{1}', '{}',
              'FREE', NULL, NULL, $2::timestamptz - interval '4 years'
       FROM generate_series(1, $1) n""",
    """CREATE TEMP TABLE seed_sub AS
       SELECT i, md5('s' || i)::uuid AS id,
         CASE WHEN i % 20 = 0 THEN 'DEDICATED' WHEN i % 20 <= 8 THEN 'GITLAB_COM'
              ELSE 'SELF_MANAGED' END AS deployment,
         CASE WHEN i % 20 < 3 THEN 'RESELLER' WHEN i % 20 = 3 THEN 'MARKETPLACE'
              WHEN i % 20 < 12 THEN 'SALES' ELSE 'WEB_DIRECT' END AS channel,
         $2::timestamptz - make_interval(secs => (i::bigint * 2654435761) % 94608000) AS created_at
       FROM generate_series(1, $1) i""",
    """INSERT INTO subscription (id, name, customer, deployment, plan, channel, partner_id,
         auto_renew, licensing_mode, max_instances, reconciliation_enabled,
         cancel_at_period_end, cancelled_at, namespace, start_date, end_date, created_at)
       SELECT s.id, 'A-S' || lpad(s.i::text, 8, '0'), md5('c' || (1 + s.i % ($1 / 4)))::uuid,
         s.deployment, CASE WHEN s.i % 3 = 0 THEN 'ULTIMATE' ELSE 'PREMIUM' END, s.channel,
         CASE WHEN s.channel IN ('RESELLER', 'MARKETPLACE') THEN 'partner-' || s.i % 50 END,
         true,
         CASE s.deployment WHEN 'GITLAB_COM' THEN NULL WHEN 'DEDICATED' THEN 'OFFLINE_CLOUD'
           ELSE CASE WHEN s.i % 20 = 9 THEN 'OFFLINE_CLOUD'
                     WHEN s.i % 20 IN (10, 11, 19) THEN 'LEGACY' ELSE 'ONLINE_CLOUD' END END,
         2, s.i % 4 = 0, false,
         CASE WHEN s.i % 33 = 0 THEN s.created_at + interval '60 days' END,
         CASE WHEN s.deployment = 'GITLAB_COM' THEN md5('n' || s.i)::uuid END,
         s.created_at::date, s.created_at::date + (1 + s.i % 3) * interval '1 year',
         s.created_at
       FROM seed_sub s""",
    """INSERT INTO subscription_segment (id, subscription, term_index, start_date, end_date,
                                        seats)
       SELECT md5('g' || s.i)::uuid, s.id, 0, s.created_at::date,
              s.created_at::date + (1 + s.i % 3) * interval '1 year', 5 + s.i % 200
       FROM seed_sub s""",
    # Self-managed: one production instance each (95% activated within 3 days of the order),
    # a staging one for 10%. Active ones synced within 36 hours, 8% silent for 8-60 days.
    """CREATE TEMP TABLE seed_instance AS
       SELECT s.i, k, md5('i' || s.i || '-' || k)::uuid AS id, s.id AS subscription,
         s.created_at + make_interval(secs => (s.i::bigint * 7919) % 259200) AS activated_at,
         CASE WHEN k = 1 THEN 'PRODUCTION' ELSE 'STAGING' END AS role,
         least($2::timestamptz, (s.created_at::date + (1 + s.i % 3) * interval '1 year'))
           - CASE WHEN s.i % 25 < 2
                  THEN make_interval(days => 8 + s.i % 53)
                  ELSE make_interval(secs => (s.i::bigint * 31) % 129600) END AS last_synced_at
       FROM seed_sub s, generate_series(1, 2) k
       WHERE s.deployment = 'SELF_MANAGED' AND s.i % 20 <> 17 AND (k = 1 OR s.i % 10 = 0)""",
    """INSERT INTO instance (id, instance_identifier, subscription, hostname, gitlab_version,
                            activated_at, last_synced_at, role)
       SELECT id, id::text, subscription, 'gitlab-' || i || '.example.com', '18.6.0',
              activated_at, greatest(activated_at, last_synced_at), role
       FROM seed_instance""",
    """INSERT INTO license (id, subscription, instance, mode, plan, seats, starts_at,
         expires_at, trial, cancelled, auto_renew, reconciliation_enabled, add_ons,
         licensee_name, licensee_email, licensee_company, license_key, key_digest, created_at)
       SELECT md5('l' || s.i)::uuid, s.id, NULL, 'ONLINE_CLOUD', 'PREMIUM', 5 + s.i % 200,
         s.created_at::date, s.created_at::date + interval '1 year', false, false, true, false,
         '[]', 'Admin', 'admin@example.com', 'Company', repeat('k', 1000), md5('l' || s.i),
         s.created_at
       FROM seed_sub s WHERE s.deployment <> 'GITLAB_COM'""",
    # Weekly seat links over the last six weeks from every active production instance, peaks
    # around the seats (a quarter above them).
    """INSERT INTO usage_report (id, subscription, instance, billable_users,
         max_historical_users, add_on_seats, reported_at, instance_identifier, report_key)
       SELECT md5('u' || x.i || '-' || w)::uuid, x.subscription, x.id, 5 + x.i % 200,
         5 + x.i % 200 + (x.i % 8) - 5, '{}',
         x.last_synced_at - make_interval(days => 7 * w), x.id::text, 'r' || w
       FROM seed_instance x, generate_series(0, 5) w
       WHERE x.role = 'PRODUCTION' AND x.last_synced_at > $2::timestamptz - interval '60 days'
         AND x.last_synced_at - make_interval(days => 7 * w) > x.activated_at""",
    # GitLab.com groups report their seats used (a quarter above the seats) daily.
    """UPDATE namespace n SET max_seats_used = 5 + s.i % 200 + (s.i % 8) - 5,
         usage_reported_at = $2::timestamptz - make_interval(secs => (s.i::bigint * 13) % 86400)
       FROM seed_sub s WHERE s.deployment = 'GITLAB_COM' AND n.id = md5('n' || s.i)::uuid""",
    # Trials: 300,000 per million subscriptions over three years; a trial on a group that then
    # ordered began ten days before the order (those convert).
    """INSERT INTO trial (id, type, namespace, starts_on, ends_on, reverted_on, created_at)
       SELECT md5('t' || t)::uuid,
         CASE WHEN t % 5 = 0 THEN 'DUO_ENTERPRISE' ELSE 'ULTIMATE' END,
         md5('n' || t)::uuid, d::date, d::date + 30, NULL, d
       FROM (SELECT t, coalesce(s.created_at - interval '10 days',
                 $2::timestamptz - make_interval(secs => (t::bigint * 40503) % 94608000)) AS d
             FROM generate_series(1, $1 * 3 / 10) t
             LEFT JOIN seed_sub s ON s.i = t AND t % 20 BETWEEN 1 AND 8 AND t % 2 = 0) x""",
    # Dedicated tenants: ACTIVE one to three days after the order.
    """INSERT INTO dedicated_tenant (id, subscription, facts, state, history, created_at,
                                    updated_at)
       SELECT md5('d' || s.i)::uuid, s.id, '{}', 'ACTIVE',
         jsonb_build_array(
           jsonb_build_object('at', s.created_at, 'from', NULL, 'to', 'ORDERED', 'reason', 'o'),
           jsonb_build_object('at', s.created_at + make_interval(secs => 86400 + s.i % 172800),
                              'from', 'PROVISIONING', 'to', 'ACTIVE', 'reason', 'up')),
         s.created_at, s.created_at
       FROM seed_sub s WHERE s.deployment = 'DEDICATED'""",
    # The ledger: per GitLab.com order a NAMESPACE_PROVISION done within minutes (3% failed
    # first: HTTP 502 or a timeout), per order a welcome EMAIL; a few hundred rows open now.
    """INSERT INTO provision_event (id, kind, correlation_id, subscription_id, namespace_id,
         payload, status, attempts, max_attempts, next_attempt_at, last_error, created_at,
         updated_at)
       SELECT md5('p' || s.i)::uuid, 'NAMESPACE_PROVISION', 'c' || s.i, s.id,
         md5('n' || s.i)::uuid, '{}', 'SUCCEEDED', CASE WHEN s.i % 33 = 1 THEN 3 ELSE 1 END, 8,
         s.created_at,
         CASE WHEN s.i % 66 = 1 THEN 'HTTP 502: bad gateway'
              WHEN s.i % 66 = 34 THEN 'timeout: after 10s' END,
         s.created_at, s.created_at + make_interval(secs => 5 + s.i % 900)
       FROM seed_sub s WHERE s.deployment = 'GITLAB_COM'""",
    """INSERT INTO provision_event (id, kind, correlation_id, subscription_id, payload, status,
         attempts, max_attempts, next_attempt_at, last_error, lease_owner, lease_until,
         created_at, updated_at)
       SELECT md5('e' || s.i)::uuid, 'EMAIL', 'e' || s.i, s.id, '{}',
         CASE WHEN s.i % 5000 = 7 THEN 'DEAD' WHEN s.i % 5000 = 8 THEN 'FAILED'
              WHEN s.i % 2000 = 9 THEN 'PENDING' WHEN s.i % 10000 = 10 THEN 'RUNNING'
              ELSE 'SUCCEEDED' END,
         1, 8, s.created_at,
         CASE WHEN s.i % 5000 IN (7, 8) THEN 'smtp: connection refused' END,
         CASE WHEN s.i % 10000 = 10 THEN 'w' END,
         CASE WHEN s.i % 10000 = 10 THEN $2::timestamptz END,
         s.created_at, s.created_at + interval '1 second'
       FROM seed_sub s""",
    "DROP TABLE seed_instance",
    "DROP TABLE seed_sub",
]


def _arguments(name: ReportName, now: datetime) -> list[Any]:
    today = now.date()
    period = Period.of(None, None, today)
    if name is ReportName.ORDER_TO_ACCESS or name is ReportName.PROVISIONING_FAILURES:
        return [period.start_at, period.end_at]
    if name is ReportName.OPEN_STEPS:
        return [now]
    if name is ReportName.LICENSING_ADOPTION:
        return [today]
    if name is ReportName.STOPPED_SYNCING:
        return [now - timedelta(days=7), now, today, 100]
    if name is ReportName.SEAT_OVERAGE:
        week = Period.of(None, None, today, SEAT_OVERAGE_PERIOD_DAYS)
        return [week.start_at, week.end_at, today, 100]
    return [period.start, period.end]


async def _seed(connection: asyncpg.Connection, subscriptions: int, now: datetime) -> None:
    await connection.execute("SET synchronous_commit = off")
    await connection.execute("SET maintenance_work_mem = '1GB'")
    await connection.execute("SET work_mem = '256MB'")
    for statement in SEED:
        started = time.perf_counter()
        # The two figures as literals: a statement may use either or both.
        sql = statement.replace("$1", str(subscriptions)).replace("$2", f"'{now.isoformat()}'")
        status = await connection.execute(sql)
        first = " ".join(statement.split()[:3])
        print(f"  {first:<40} {status:<24} {time.perf_counter() - started:6.1f} s", flush=True)


async def _time(connection: asyncpg.Connection, sql: str, args: list[Any]) -> tuple[float, int]:
    await connection.fetch(sql, *args)  # warm-up
    times, rows = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        rows = len(await connection.fetch(sql, *args))
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


async def run(dsn: str, subscriptions: int, explain_all: bool) -> int:
    await migrate(dsn)
    connection = await asyncpg.connect(dsn, command_timeout=3600)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        print(f"seeding {subscriptions:,} subscriptions", flush=True)
        started = time.perf_counter()
        await _seed(connection, subscriptions, now)
        backfill = time.perf_counter()
        # What the usage writers keep current (persistence/seat_usage.py), as the migration
        # fills it from the usage already stored.
        status = await connection.execute(seat_usage.BACKFILL, None, now.date())
        print(f"  seat_usage backfill {status:<24} {time.perf_counter() - backfill:6.1f} s")
        await connection.execute("VACUUM (ANALYZE)")  # autovacuum's work, done now
        print(f"seeded and analysed in {time.perf_counter() - started:.0f} s", flush=True)
        await connection.execute("RESET ALL")  # time with the server's defaults, as the app runs
        counts = await connection.fetch(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE n_live_tup > 0"
            " ORDER BY n_live_tup DESC"
        )
        print("rows: " + ", ".join(f"{r['relname']} {r['n_live_tup']:,}" for r in counts))
        print(f"\n{'report':<24} {'median':>9} {'rows':>6}  plan (top line)")
        failed = 0
        for name, sql in STATEMENTS.items():
            args = _arguments(name, now)
            median, rows = await _time(connection, sql, args)
            plan = await connection.fetch(f"EXPLAIN {sql}", *args)
            verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
            failed += verdict == "FAIL"
            top = plan[0][0].strip()
            print(
                f"{name.value:<24} {median * 1000:7.1f}ms {rows:>6}  {verdict}  {top}", flush=True
            )
            if explain_all:
                analysed = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
                print("\n".join("    " + r[0] for r in analysed))
        print(f"\n{len(STATEMENTS) - failed} of {len(STATEMENTS)} under {TARGET_SECONDS:.0f} s")
        return 0
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true", help="print each EXPLAIN ANALYZE too")
    args = parser.parse_args(argv)
    if args.subscriptions < 1000:
        parser.error("--subscriptions: at least 1000")
    with bench_database() as dsn:
        return asyncio.run(run(dsn, args.subscriptions, args.explain))


if __name__ == "__main__":
    raise SystemExit(main())
