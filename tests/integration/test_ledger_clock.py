"""The ledger keeps time by its Clock, never by the database's: with a Clock years away from
PostgreSQL's ``now()`` (a database on another server with another clock, or a Clock a test or
a sandbox moves), claims, backoff, leases, giving up and job runs behave by the Clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from persistence.database import Database
from persistence.ledger import PostgresLedger, PostgresScheduledJobRuns
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from fakes import FixedClock

LEASE = timedelta(seconds=30)
MINUTE = timedelta(minutes=1)
SKEWS = {
    # The database's clock reads the calendar; these Clocks are far from it, either way.
    "clock 2 years behind the database": f.NOW - timedelta(days=2 * 365),
    "clock 30 years ahead of the database": f.NOW + timedelta(days=30 * 365),
}


@pytest.fixture(params=list(SKEWS.values()), ids=list(SKEWS))
async def clock(request: pytest.FixtureRequest, clean_db: Database) -> FixedClock:
    anchor: datetime = request.param
    database_now: datetime = await clean_db.fetchval("SELECT now()")
    assert abs(database_now - anchor) > timedelta(days=365), "the skew this test is about"
    return FixedClock(anchor)


async def record(db: Database, *events: ProvisionEvent) -> None:
    async with PostgresUnitOfWork(db) as uow:
        for event in events:
            await uow.outbox.record(event)
        await uow.commit()


def event_due_at(when: datetime, max_attempts: int = 3) -> ProvisionEvent:
    return ProvisionEvent.new("HTTP_PING", {}, now=when, max_attempts=max_attempts)


async def test_rows_are_due_by_the_clock(clean_db: Database, clock: FixedClock) -> None:
    ledger = PostgresLedger(clean_db, clock)
    overdue = event_due_at(clock.now() - MINUTE)
    later = event_due_at(clock.now() + MINUTE)  # on either side of the database's now()
    await record(clean_db, overdue, later)

    hour = timedelta(hours=1)  # the first claim's lease outlasts the test
    assert [e.id for e in await ledger.claim_due("w1", 10, hour)] == [overdue.id]
    clock.advance(MINUTE)
    assert [e.id for e in await ledger.claim_due("w1", 10, hour)] == [later.id]


async def test_backoff_and_leases_run_on_the_clock(clean_db: Database, clock: FixedClock) -> None:
    ledger = PostgresLedger(clean_db, clock)
    await record(clean_db, event_due_at(clock.now()))
    [event] = await ledger.claim_due("w1", 1, LEASE)
    assert (event.lease_until, event.updated_at) == (clock.now() + LEASE, clock.now())

    clock.advance(LEASE)  # the lease holds up to and including lease_until
    assert await ledger.claim_due("w2", 1, LEASE) == []
    assert await ledger.extend_leases("w1", [event.id], LEASE) == {event.id}
    stored = await ledger.get(event.id)
    assert stored is not None
    assert stored.lease_until == clock.now() + LEASE

    event.fail("w1", "503", now=clock.now(), delay=timedelta(seconds=90))
    assert await ledger.finish(event, "w1")
    clock.advance(timedelta(seconds=89))
    assert await ledger.claim_due("w2", 1, LEASE) == []  # still backing off
    clock.advance(timedelta(seconds=1))
    [again] = await ledger.claim_due("w2", 1, LEASE)
    assert (again.id, again.attempts, again.lease_owner) == (event.id, 2, "w2")

    clock.advance(LEASE + timedelta(microseconds=1))  # w2 died: its lease ran out
    [reclaimed] = await ledger.claim_due("w3", 1, LEASE)
    assert (reclaimed.id, reclaimed.attempts) == (event.id, 3)


async def test_a_lost_last_attempt_is_given_up_by_the_clock(
    clean_db: Database, clock: FixedClock
) -> None:
    ledger = PostgresLedger(clean_db, clock)
    await record(clean_db, event_due_at(clock.now(), max_attempts=1))
    [event] = await ledger.claim_due("w1", 1, LEASE)
    clock.advance(LEASE)
    assert await ledger.expired_without_attempts(10) == []
    early = await ledger.get(event.id)
    assert early is not None
    early.status = ProvisionStatus.DEAD  # what a give-up stores, tried while the lease holds
    assert not await ledger.give_up(early)

    clock.advance(timedelta(microseconds=1))
    [lost] = await ledger.expired_without_attempts(10)
    lost.give_up("lease expired on the last attempt", now=clock.now())
    assert await ledger.give_up(lost)
    stored = await ledger.get(event.id)
    assert stored is not None
    assert (stored.status, stored.updated_at) == (ProvisionStatus.DEAD, clock.now())


async def test_job_runs_are_stamped_by_the_clock(clean_db: Database, clock: FixedClock) -> None:
    runs = PostgresScheduledJobRuns(clean_db, clock)
    due = clock.now().replace(second=0, microsecond=0)
    started = clock.now()
    assert await runs.claim("trials.expire", due, "w1")
    clock.advance(timedelta(seconds=2))
    await runs.finish("trials.expire", due, None)
    row = await clean_db.fetchrow(
        "SELECT started_at, finished_at FROM scheduled_job_run WHERE job_name = $1 AND due_at = $2",
        "trials.expire",
        due,
    )
    assert row is not None
    assert (row["started_at"], row["finished_at"]) == (started, clock.now())
