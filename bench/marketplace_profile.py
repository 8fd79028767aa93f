"""Where a marketplace notification's cost goes: the two halves of
``marketplace_notifications.py`` measured apart, in process, one after the other.

1. **Intake**: N signed Stripe events POSTed one at a time through ``httpx.ASGITransport``
   to ``create_app`` (the real app: middleware, routing, signature, the inbox statement).
2. **Apply**: a real ``Worker`` (the registry ``provision worker`` builds) runs the N stored
   events until every inbox row is settled.

For each half it prints the CPU milliseconds per event (this process's CPU time, so a loaded
machine's other work does not count; PostgreSQL's own CPU is not in it), the SQL statements
per event (asyncpg's query logger on every pooled connection: BEGIN, COMMIT and savepoints
included) and, with ``--profile``, the top of a cProfile of that half.
Run from the repository root: ``python bench/marketplace_profile.py`` (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import io
import pstats
import sys
import time
from typing import Any

import httpx
from marketplace_notifications import SECRET, event, signed
from read_throughput import statements_logged
from seed import bench_database

from api.app import create_app
from api.settings import Settings
from api.worker.loop import Worker
from api.worker.process import WorkerContext, build_registry, transition_webhooks, worker_config
from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace, OfferMapping
from integrations.clock import SystemClock
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.marketplace import PostgresOfferMappings
from persistence.migrations import migrate


def _shape(statement: str) -> str:
    words = " ".join(statement.split())
    return words[:90]


def _report(name: str, events: int, cpu: float, seen: list[str], profile: Any) -> None:
    print(
        f"{name}: {events} events, {1000 * cpu / events:.2f} CPU ms/event (this process),"
        f" {len(seen) / events:.1f} statements/event"
    )
    for shape, count in collections.Counter(map(_shape, seen)).most_common(25):
        print(f"  {count / events:5.2f}  {shape}")
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())


async def intake(dsn: str, n: int, profile: bool) -> None:
    seen: list[str] = []
    settings = Settings(database_url=dsn, graphiql=False, stripe_webhook_secret=SECRET)
    with statements_logged(seen):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                created = int(time.time())
                bodies = [event(i, "customer.subscription.created", created, 5) for i in range(n)]
                bodies += [
                    event(i, "customer.subscription.updated", created + 1, 7) for i in range(n)
                ]
                warm = event(10**9, "customer.subscription.created", created, 5)
                await http.post("/marketplaces/stripe/events", content=warm, headers=signed(warm))
                seen.clear()
                profiler = cProfile.Profile() if profile else None
                cpu = time.process_time()
                if profiler:
                    profiler.enable()
                for body in bodies:
                    answer = await http.post(
                        "/marketplaces/stripe/events", content=body, headers=signed(body)
                    )
                    assert answer.status_code == 200, answer.text
                if profiler:
                    profiler.disable()
                cpu = time.process_time() - cpu
    _report("intake", len(bodies), cpu, seen, profiler)


async def apply(dsn: str, n: int, profile: bool) -> None:
    seen: list[str] = []
    settings = Settings(database_url=dsn, stripe_webhook_secret=SECRET, worker_concurrency=16)
    config = worker_config(settings)
    with statements_logged(seen):
        db = Database(dsn, pool_min=1, pool_max=config.concurrency + 4)
        await db.start()
        try:
            clock = SystemClock()
            async with httpx.AsyncClient() as http:
                context = WorkerContext(db, http, settings, clock, config)
                registry = build_registry(context)
                registry.jobs.clear()  # only the events: no scheduled job in the figures
                worker = Worker(
                    PostgresLedger(db, clock),
                    PostgresScheduledJobRuns(db, clock),
                    registry,
                    config,
                    clock,
                    follow_ups=transition_webhooks(db, clock, settings),
                )
                pending = await db.fetchval(
                    "SELECT count(*) FROM marketplace_inbox WHERE state = 'RECEIVED'"
                )
                seen.clear()
                profiler = cProfile.Profile() if profile else None
                cpu = time.process_time()
                if profiler:
                    profiler.enable()
                while True:
                    free, claimed = await worker.tick()
                    if not claimed and not worker.in_flight:
                        break
                    if free and claimed == free:
                        continue
                    await asyncio.sleep(0.001)
                await worker.drain()
                if profiler:
                    profiler.disable()
                cpu = time.process_time() - cpu
            left = await db.fetchval(
                "SELECT count(*) FROM marketplace_inbox WHERE state = 'RECEIVED'"
            )
            dead = await db.fetchval("SELECT count(*) FROM provision_event WHERE status = 'DEAD'")
            seats = await db.fetchval("SELECT count(*) FROM subscription_segment WHERE seats = 7")
        finally:
            await db.stop()
    print(f"apply: {pending} pending, {left} left RECEIVED, {dead} DEAD, {seats} at 7 seats")
    _report("apply", pending, cpu, seen, profiler)


async def seed_mapping(dsn: str) -> None:
    db = Database(dsn, pool_min=1, pool_max=2)
    await db.start()
    try:
        await PostgresOfferMappings(db).put(
            OfferMapping(
                Marketplace.STRIPE, "prod_1", "price_1", Plan.PREMIUM, Deployment.GITLAB_COM
            ),
            SystemClock().now(),
        )
    finally:
        await db.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=300, help="2 events each (300)")
    parser.add_argument("--profile", action="store_true", help="print cProfile of each half")
    args = parser.parse_args(argv)
    with bench_database() as dsn:
        asyncio.run(migrate(dsn))
        asyncio.run(seed_mapping(dsn))
        asyncio.run(intake(dsn, args.subscriptions, args.profile))
        asyncio.run(apply(dsn, args.subscriptions, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
