"""What the audit chain costs the mutation path (docs/audit.md).

Runs the same real mutation (``upsertNamespace`` through its use case and the PostgreSQL unit
of work, one audit entry each) with C concurrent callers, in rounds that alternate:

* **floor**: the audit entry written as before the chain (one plain INSERT, no lock);
* **chained**: the real writer (lock the head row, chain, insert, move the head, at commit).

It prints mutations/s and ms per mutation of each (median of rounds), the ratio
chained/floor against a target, and checks the chain it built with the verifier.
Run from the repository root: ``python bench/audit_chain.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from itertools import count

from seed import bench_database

from domain.model.audit import AuditEntry
from domain.model.enums import NamespaceKind
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.upsert_namespace import NamespaceKeeping, UpsertNamespace
from integrations.clock import SystemClock
from persistence.audit_chain import verify
from persistence.database import Database
from persistence.migrations import migrate
from persistence.unit_of_work import PostgresUnitOfWork

TARGET_RATIO = 0.80  # chained mutations/s at least 80 % of the unchained floor
GITLAB = Principal(
    PrincipalKind.GITLAB_COM, subject="gitlab", scopes=grantable(PrincipalKind.GITLAB_COM)
)


class PlainAuditLog:
    """The audit write as it was before the chain: one INSERT, no ordering."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, entry: AuditEntry) -> None:
        await self._db.fetch(
            "INSERT INTO audit_entry (id, actor_kind, actor_subject, action, object_type,"
            " object_id, idempotency_key, before, after, at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            entry.id,
            entry.actor_kind,
            entry.actor_subject,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.idempotency_key,
            json.dumps(dict(entry.before), default=str),
            json.dumps(dict(entry.after), default=str),
            entry.at,
        )


class UnchainedUnitOfWork(PostgresUnitOfWork):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.audit = PlainAuditLog(db)  # type: ignore[assignment]


async def _round(
    keeping: NamespaceKeeping, ids: count[int], mutations: int, concurrency: int
) -> float:
    """Seconds for ``mutations`` upserts by ``concurrency`` callers."""
    remaining = iter(range(mutations))

    async def caller() -> None:
        for _ in remaining:
            gitlab_id = next(ids)
            await keeping.upsert(
                GITLAB,
                UpsertNamespace(gitlab_id, f"g{gitlab_id}", f"G {gitlab_id}", NamespaceKind.GROUP),
            )

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run(dsn: str, mutations: int, concurrency: int, rounds: int) -> None:
    await migrate(dsn)
    db = Database(dsn, pool_min=concurrency, pool_max=concurrency)
    await db.start()
    try:
        clock = SystemClock()
        floor = NamespaceKeeping(lambda: UnchainedUnitOfWork(db), clock)
        chained = NamespaceKeeping(lambda: PostgresUnitOfWork(db), clock)
        ids = count(1)
        await _round(floor, ids, 200, concurrency)  # warm-up: pool, plans, caches
        await _round(chained, ids, 200, concurrency)
        rates: dict[str, list[float]] = {"floor": [], "chained": []}
        ratios = []
        for _ in range(rounds):
            seconds = {}
            for name, keeping in (("floor", floor), ("chained", chained)):
                seconds[name] = await _round(keeping, ids, mutations, concurrency)
                rates[name].append(mutations / seconds[name])
            ratios.append(seconds["floor"] / seconds["chained"])
        print(
            f"upsertNamespace, {mutations} mutations x {rounds} rounds, {concurrency} concurrent"
            " callers, median of rounds"
        )
        print(f"{'audit writer':<14}{'mutations/s':>12}{'ms/mutation':>13}")
        for name, values in rates.items():
            rate = statistics.median(values)
            print(f"{name:<14}{rate:>12.1f}{1000 * concurrency / rate:>13.2f}")
        per_append = 1000 / statistics.median(rates["chained"]) - 1000 / statistics.median(
            rates["floor"]
        )
        print(f"chaining adds {per_append:.3f} ms of wall time per mutation (serial equivalent)")
        print("ratio per round: " + " ".join(f"{r:.3f}" for r in ratios))
        ratio = statistics.median(ratios)
        verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
        print(f"ratio chained/floor = {ratio:.3f} target >= {TARGET_RATIO} {verdict}")
        async with db.pool.acquire() as connection:
            result = await verify(connection)
        chained_count = await db.fetchval("SELECT count(*) FROM audit_entry WHERE hash IS NOT NULL")
        intact = "intact" if result.problems == [] or _only_unchained(result) else "BROKEN"
        print(f"chain after the run: {chained_count} chained entries, {intact}")
    finally:
        await db.stop()


def _only_unchained(result: object) -> bool:
    """The floor's rows have no place in the chain by design: only those may be reported."""
    problems = getattr(result, "problems", [])
    return all(p.kind == "inserted" and p.sequence is None for p in problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutations", type=int, default=1000, help="per round (1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="callers (8)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    args = parser.parse_args()
    with bench_database() as dsn:
        asyncio.run(run(dsn, args.mutations, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
