"""The seats used per subscription (persistence/seat_usage.py) kept current by the writers, on
real PostgreSQL: seat link reports, a group's usage, an instance's retirement and new seats each
change what the seat-overage report says, in their own transaction; two concurrent reports
lose no maximum; a ramp is measured against today's segment (docs/reports.md)."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from datetime import UTC, date, datetime, timedelta

from domain.model.enums import Deployment
from domain.model.instance import Instance
from domain.model.namespace import NamespaceUsage
from domain.model.reports import ReportName, SeatOverageRow
from domain.model.subscription import Segment, Subscription, Term
from domain.model.usage import UsageReport
from domain.principal import Principal, PrincipalKind
from domain.use_cases.reports import ReportRequest, run_report
from persistence.database import Database
from persistence.read_models import ReadModels
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from fakes import FixedClock

STAFF = Principal(PrincipalKind.STAFF, "staff", frozenset({"reports:read"}))
CLOCK = FixedClock(f.NOW)
NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 12, 1)}


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def seat_link(s: Subscription, i: Instance, maximum: int, reported: datetime) -> UsageReport:
    return UsageReport(
        subscription_id=s.id,
        billable_users=maximum,
        max_historical_users=maximum,
        reported_at=reported,
        instance_id=i.id,
        instance_identifier=i.instance_identifier,
    )


async def _report(db: Database) -> list[SeatOverageRow]:
    request = ReportRequest(ReportName.SEAT_OVERAGE, **NOVEMBER)
    return list(await run_report(ReadModels(db), CLOCK, STAFF, request))  # type: ignore[arg-type]


async def _write(db: Database, *reports: UsageReport) -> None:
    for report in reports:
        async with PostgresUnitOfWork(db) as uow:
            assert await uow.usage_reports.add_once(report)
            await uow.commit()


async def test_writers_keep_the_seat_overage_current(clean_db: Database) -> None:
    acme = f.customer("Acme")
    s = f.subscription(acme)  # 10 seats from 30 days ago
    i1, i2 = f.instance_for(s), f.instance_for(s)
    await f.store(clean_db, acme, s, i1, i2)
    # i1 peaks at 12 (a later, lower report does not lower it), i2 at 5: 17 of 10.
    await _write(
        clean_db, seat_link(s, i1, 12, at(25)), seat_link(s, i1, 8, at(26)),
        seat_link(s, i2, 5, at(27)),
    )  # fmt: skip
    row = SeatOverageRow(s.name, "SELF_MANAGED", "SALES", 10, 17, 7, "ANNUAL_TRUE_UP", at(27))
    assert await _report(clean_db) == [row]
    # i2 retired: its 5 no longer counts.
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.instances.save(dataclasses.replace(i2, retired_at=f.NOW, access_ends_on=f.TODAY))
        await uow.commit()
    retired = dataclasses.replace(row, max_seats_used=12, overage=2, last_reported_at=at(26))
    assert await _report(clean_db) == [retired]
    # Seats raised to 12: no overage left; rolled back, nothing changes.
    more = dataclasses.replace(s, terms=(Term((Segment(s.start_date, s.end_date, 12),)),))
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.subscriptions.save(more)
    assert len(await _report(clean_db)) == 1
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.subscriptions.save(more)
        await uow.commit()
    assert await _report(clean_db) == []


async def test_a_groups_usage_is_its_subscriptions_figure(clean_db: Database) -> None:
    beta = f.customer("Beta")
    ns = f.namespace(1)
    s = f.subscription(beta, deployment=Deployment.GITLAB_COM, seats=(20,), namespace_id=ns.id)
    await f.store(clean_db, beta, ns, s)
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.namespaces.save(
            dataclasses.replace(ns, usage=NamespaceUsage(25, 25, 0, 0, at(28)))
        )
        await uow.commit()
    assert await _report(clean_db) == [
        SeatOverageRow(s.name, "GITLAB_COM", "SALES", 20, 25, 5, "ANNUAL_TRUE_UP", at(28))
    ]


async def test_a_ramp_is_measured_against_todays_segment(clean_db: Database) -> None:
    acme = f.customer("Acme")
    # 10 seats in the first year, 30 in the second (today's): 25 used is no overage, though it
    # is over the term's fewest seats; 35 is 5 over.
    s = f.subscription(acme, start=f.TODAY - timedelta(days=400), seats=(10, 30))
    i = f.instance_for(s)
    await f.store(clean_db, acme, s, i)
    await _write(clean_db, seat_link(s, i, 25, at(20)))
    assert await _report(clean_db) == []
    await _write(clean_db, seat_link(s, i, 35, at(21)))
    assert await _report(clean_db) == [
        SeatOverageRow(s.name, "SELF_MANAGED", "SALES", 30, 35, 5, "ANNUAL_TRUE_UP", at(21))
    ]


async def test_concurrent_reports_lose_no_maximum(clean_db: Database) -> None:
    """The second writer waits for the first one's lock, then counts its committed report."""
    acme = f.customer("Acme")
    s = f.subscription(acme)
    i1, i2 = f.instance_for(s), f.instance_for(s)
    await f.store(clean_db, acme, s, i1, i2)
    async with PostgresUnitOfWork(clean_db) as first:
        assert await first.usage_reports.add_once(seat_link(s, i1, 14, at(25)))

        async def second() -> None:
            async with PostgresUnitOfWork(clean_db) as uow:
                assert await uow.usage_reports.add_once(seat_link(s, i2, 9, at(25, 1)))
                await uow.commit()

        task = asyncio.create_task(second(), context=contextvars.Context())  # its own transaction
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        for _ in range(1000):  # until the second writer waits on the first one's lock
            if await clean_db.fetchval(waiting) or task.done():
                break
            await asyncio.sleep(0.01)
        assert not task.done()
        await first.commit()
    await task
    [row] = await _report(clean_db)
    assert (row.max_seats_used, row.overage) == (23, 13)
