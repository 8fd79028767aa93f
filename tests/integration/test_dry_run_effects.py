"""persistence.dry_run on real PostgreSQL: a dry run's effects are its own rows, never a
concurrent writer's, and nothing of it stays."""

from __future__ import annotations

import uuid

from persistence.database import Database
from persistence.dry_run import DryRun
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f

INSERT = (
    "INSERT INTO customer (id, company, contact_name, contact_email, created_at, sandbox,"
    " clock_offset) VALUES ($1, $2, 'C', 'c@x.test', now(), false, interval '0')"
)


async def _customers(db: Database) -> set[str]:
    return {r["company"] for r in await db.fetch("SELECT company FROM customer")}


async def test_effects_are_the_dry_runs_rows_and_not_a_concurrent_writers(
    clean_db: Database,
) -> None:
    run = DryRun()
    with run.entered():
        await run.open(clean_db)
        try:
            mark = await run.mark()
            # A concurrent writer commits on its own connection, after the mark, before and
            # after the dry run's writes.
            async with clean_db.pool.acquire() as other:
                await other.execute(INSERT, uuid.uuid4(), "Concurrent 1")
            async with PostgresUnitOfWork(clean_db) as uow:  # a savepoint inside the dry run
                await uow.customers.add(f.customer("Dry"))
                await uow.commit()
            async with PostgresUnitOfWork(clean_db) as uow:  # rolled back: no effect
                await uow.customers.add(f.customer("Rolled back"))
            async with clean_db.pool.acquire() as other:
                await other.execute(INSERT, uuid.uuid4(), "Concurrent 2")
            written = await run.written(mark)
            # Inside, the dry run reads its own row and the committed ones.
            assert await _customers(clean_db) == {"Dry", "Concurrent 1", "Concurrent 2"}
        finally:
            await run.close()
    assert [row["company"] for row in written.of("customer")] == ["Dry"]
    assert await _customers(clean_db) == {"Concurrent 1", "Concurrent 2"}


async def test_a_second_part_reports_only_its_own_rows(clean_db: Database) -> None:
    run = DryRun()
    with run.entered():
        await run.open(clean_db)
        try:
            first = await run.mark()
            async with PostgresUnitOfWork(clean_db) as uow:
                await uow.customers.add(f.customer("First"))
                await uow.commit()
            second = await run.mark()
            await clean_db.fetch("DELETE FROM customer WHERE company = 'First'")
            async with PostgresUnitOfWork(clean_db) as uow:
                await uow.customers.add(f.customer("Second"))
                await uow.commit()
            assert [r["company"] for r in (await run.written(first)).of("customer")] == ["Second"]
            later = await run.written(second)
        finally:
            await run.close()
    assert [r["company"] for r in later.of("customer")] == ["Second"]
    assert later.deleted == {"customer": 1}
    assert await _customers(clean_db) == set()
