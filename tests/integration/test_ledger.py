"""The ledger on real PostgreSQL: the outbox commits and rolls back with the unit of work;
claims lease rows to one worker, reclaim expired leases, and only the lease owner completes.
Time is a FixedClock's (the ledger's Clock), moved by the tests, never the database's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from domain.model.provision_event import ALERT_KIND, ProvisionEvent, ProvisionStatus
from persistence.database import Database
from persistence.ledger import (
    EVENT_COLUMNS,
    PostgresLedger,
    PostgresOutbox,
    PostgresScheduledJobRuns,
    event_from_row,
)
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from fakes import FixedClock

LEASE = timedelta(seconds=30)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(f.NOW)


@pytest.fixture
def ledger(clean_db: Database, clock: FixedClock) -> PostgresLedger:
    return PostgresLedger(clean_db, clock)


def new_event(
    kind: str = "NAMESPACE_PROVISION", max_attempts: int = 3, *, now: datetime = f.NOW
) -> ProvisionEvent:
    return ProvisionEvent.new(
        kind, {"plan": "ULTIMATE", "seats": 10}, now=now, max_attempts=max_attempts
    )


async def record(db: Database, *events: ProvisionEvent) -> None:
    async with PostgresUnitOfWork(db) as uow:
        for event in events:
            await uow.outbox.record(event)
        await uow.commit()


def expire_lease(clock: FixedClock, event: ProvisionEvent) -> None:
    """Move the clock just past the lease (it holds up to and including ``lease_until``)."""
    assert event.lease_until is not None
    clock.advance(event.lease_until - clock.now() + timedelta(microseconds=1))


async def test_the_outbox_row_commits_with_the_change(
    clean_db: Database, ledger: PostgresLedger
) -> None:
    customer = f.customer()
    event = new_event()
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.customers.add(customer)
        await uow.outbox.record(event)
        await uow.commit()
    stored = await ledger.get(event.id)
    assert stored == event
    assert stored is not None
    assert stored.idempotency_key == event.idempotency_key


async def test_a_failure_after_the_change_leaves_neither(clean_db: Database) -> None:
    customer = f.customer()
    event = new_event()

    async def change_then_break() -> None:
        async with PostgresUnitOfWork(clean_db) as uow:
            await uow.customers.add(customer)
            await uow.outbox.record(event)
            raise RuntimeError("something broke after the change")

    with pytest.raises(RuntimeError, match="after the change"):
        await change_then_break()
    assert await clean_db.fetchval("SELECT count(*) FROM customer") == 0
    assert await clean_db.fetchval("SELECT count(*) FROM provision_event") == 0


async def test_leaving_without_commit_leaves_neither(clean_db: Database) -> None:
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.customers.add(f.customer())
        await uow.outbox.record(new_event())
    assert await clean_db.fetchval("SELECT count(*) FROM provision_event") == 0


async def test_the_outbox_refuses_to_write_outside_a_transaction(clean_db: Database) -> None:
    with pytest.raises(RuntimeError, match="inside a transaction"):
        await PostgresOutbox(clean_db).record(new_event())


async def test_the_database_refuses_an_unknown_status(clean_db: Database) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await clean_db.fetch(
            "INSERT INTO provision_event (id, kind, correlation_id, payload, status, attempts,"
            " max_attempts, next_attempt_at, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'X', 'c', '{}', 'DONE', 0, 1, $1, $1, $1)",
            f.NOW,
        )


async def test_a_claim_leases_due_rows_once(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    due = [new_event(now=clock.now() - timedelta(seconds=n)) for n in (3, 2, 1)]
    later = new_event()
    later.next_attempt_at = clock.now() + timedelta(hours=1)
    await record(clean_db, *due, later)

    claimed = await ledger.claim_due("w1", 10, LEASE)
    assert [e.id for e in claimed] == [e.id for e in due]
    for event in claimed:
        assert event.status is ProvisionStatus.RUNNING
        assert (event.attempts, event.lease_owner) == (1, "w1")
        assert (event.lease_until, event.updated_at) == (clock.now() + LEASE, clock.now())
    assert await ledger.claim_due("w2", 10, LEASE) == []


async def test_a_claim_takes_only_the_kinds_the_worker_names(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    namespace = new_event("NAMESPACE_PROVISION", now=clock.now() - timedelta(seconds=2))
    email = new_event("EMAIL", now=clock.now() - timedelta(seconds=1))
    await record(clean_db, namespace, email)

    [claimed] = await ledger.claim_due("w1", 10, LEASE, kinds={"EMAIL", "ALERT"})
    assert claimed.id == email.id
    assert await ledger.claim_due("w1", 10, LEASE, kinds=set()) == []
    left = await ledger.get(namespace.id)
    assert left is not None
    assert (left.status, left.attempts) == (ProvisionStatus.PENDING, 0)
    [anyone] = await ledger.claim_due("w2", 10, LEASE)  # no kinds named: any kind
    assert anyone.id == namespace.id


async def test_concurrent_claims_never_share_a_row(
    clean_db: Database, ledger: PostgresLedger
) -> None:
    await record(clean_db, *(new_event() for _ in range(200)))
    batches = await asyncio.gather(*(ledger.claim_due(f"w{n}", 30, LEASE) for n in range(5)))
    ids = [e.id for batch in batches for e in batch]
    assert len(ids) == len(set(ids)) == 150


async def test_an_expired_lease_is_reclaimed_and_the_old_owner_cannot_complete(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    await record(clean_db, new_event())
    [first] = await ledger.claim_due("w1", 1, LEASE)
    clock.advance(LEASE)  # the lease still holds at lease_until itself
    assert await ledger.claim_due("w2", 1, LEASE) == []
    expire_lease(clock, first)

    [second] = await ledger.claim_due("w2", 1, LEASE)
    assert second.id == first.id
    assert (second.attempts, second.lease_owner) == (2, "w2")

    now = clock.now()
    first.succeed("w1", now=now)
    assert not await ledger.finish(first, "w1")  # w1 lost its lease
    second.succeed("w2", now=now)
    assert await ledger.finish(second, "w2")
    stored = await ledger.get(first.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.lease_owner) == (
        ProvisionStatus.SUCCEEDED,
        2,
        None,
    )


async def test_a_live_lease_can_be_extended_only_by_its_owner(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    await record(clean_db, new_event())
    [event] = await ledger.claim_due("w1", 1, timedelta(seconds=1))
    clock.advance(timedelta(milliseconds=500))
    assert await ledger.extend_leases("w2", [event.id], LEASE) == set()
    assert await ledger.extend_leases("w1", [event.id], LEASE) == {event.id}
    stored = await ledger.get(event.id)
    assert stored is not None
    assert stored.lease_until == clock.now() + LEASE


async def test_a_failure_records_the_error_and_the_backoff(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    await record(clean_db, new_event())
    [event] = await ledger.claim_due("w1", 1, LEASE)
    now = clock.now()
    event.fail("w1", "503 Service Unavailable", now=now, delay=timedelta(seconds=90))
    assert await ledger.finish(event, "w1")
    stored = await ledger.get(event.id)
    assert stored is not None
    assert stored.status is ProvisionStatus.FAILED
    assert stored.last_error == "503 Service Unavailable"
    assert stored.next_attempt_at == now + timedelta(seconds=90)
    assert await ledger.claim_due("w1", 1, LEASE) == []  # not due before its backoff
    clock.advance(timedelta(seconds=90))
    [again] = await ledger.claim_due("w1", 1, LEASE)  # due from next_attempt_at on
    assert (again.id, again.attempts) == (event.id, 2)


async def test_release_returns_the_row_without_burning_the_attempt(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    await record(clean_db, new_event())
    [event] = await ledger.claim_due("w1", 1, LEASE)
    event.release("w1", now=clock.now())
    assert await ledger.finish(event, "w1")
    [again] = await ledger.claim_due("w2", 1, LEASE)
    assert again.attempts == 1


async def test_dead_after_max_attempts_enqueues_exactly_one_alert(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    await record(clean_db, new_event(max_attempts=2))
    for attempt in (1, 2):
        [event] = await ledger.claim_due("w1", 1, LEASE)
        assert event.attempts == attempt
        now = clock.now()
        event.fail("w1", f"boom {attempt}", now=now, delay=timedelta(0))
        alert = (
            event.alert(now=now, max_attempts=5) if event.status is ProvisionStatus.DEAD else None
        )
        assert await ledger.finish(event, "w1", [alert] if alert else [])
    rows = await clean_db.fetch("SELECT kind, status, payload::text FROM provision_event")
    assert sorted((r["kind"], r["status"]) for r in rows) == [
        (ALERT_KIND, "PENDING"),
        ("NAMESPACE_PROVISION", "DEAD"),
    ]
    # A second finish of the same DEAD row (a lost race) adds nothing.
    assert not await ledger.finish(event, "w1", [event.alert(now=now, max_attempts=5)])
    assert (
        await clean_db.fetchval("SELECT count(*) FROM provision_event WHERE kind = $1", ALERT_KIND)
        == 1
    )


async def test_a_lost_last_attempt_is_not_reclaimed_but_given_up(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    await record(clean_db, new_event(max_attempts=1))
    [event] = await ledger.claim_due("w1", 1, LEASE)
    assert await ledger.expired_without_attempts(10) == []  # the lease holds
    expire_lease(clock, event)
    assert await ledger.claim_due("w2", 1, LEASE) == []
    [lost] = await ledger.expired_without_attempts(10)
    now = clock.now()
    lost.give_up("lease expired on the last attempt", now=now)
    alert = lost.alert(now=now, max_attempts=5)
    assert alert is not None
    assert await ledger.give_up(lost, [alert])
    assert not await ledger.give_up(lost, [alert])  # someone already did
    assert await clean_db.fetchval("SELECT count(*) FROM provision_event") == 2


async def test_a_scheduled_job_run_is_claimed_once_per_due_time(
    clean_db: Database, clock: FixedClock
) -> None:
    runs = PostgresScheduledJobRuns(clean_db, clock)
    due = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    started = clock.now()
    wins = await asyncio.gather(*(runs.claim("trial_expiry", due, f"w{n}") for n in range(5)))
    assert sorted(wins) == [False, False, False, False, True]
    assert await runs.claim("trial_expiry", due + timedelta(minutes=1), "w1")
    clock.advance(timedelta(seconds=3))
    await runs.finish("trial_expiry", due, None)
    row = await clean_db.fetchrow(
        "SELECT started_at, finished_at, error FROM scheduled_job_run WHERE due_at = $1", due
    )
    assert row is not None
    assert (row["started_at"], row["finished_at"]) == (started, clock.now())
    assert row["error"] is None


async def test_claim_one_takes_the_named_row_ahead_of_its_backoff_once(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    later = new_event()
    later.next_attempt_at = clock.now() + timedelta(hours=1)  # backing off
    other = new_event()
    await record(clean_db, later, other)
    claimed = await ledger.claim_one("request", later.id, LEASE)
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.attempts) == (later.id, ProvisionStatus.RUNNING, 1)
    assert (claimed.lease_owner, claimed.lease_until) == ("request", clock.now() + LEASE)
    # Held: neither a second claim_one nor a worker's claim takes it; the other row is untouched.
    assert await ledger.claim_one("w1", later.id, LEASE) is None
    assert [e.id for e in await ledger.claim_due("w1", 10, LEASE)] == [other.id]
    claimed.succeed("request", now=clock.now())
    assert await ledger.finish(claimed, "request")
    assert await ledger.claim_one("request", later.id, LEASE) is None  # done


async def test_claim_one_reclaims_an_expired_lease_with_attempts_left_only(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    event = new_event(max_attempts=2)
    await record(clean_db, event)
    [first] = await ledger.claim_due("w1", 1, LEASE)
    expire_lease(clock, first)
    second = await ledger.claim_one("request", event.id, LEASE)
    assert second is not None
    assert second.attempts == 2
    expire_lease(clock, second)
    assert await ledger.claim_one("request", event.id, LEASE) is None  # its last attempt: lost


def in_lane(lane: str | None, kind: str = "WEBHOOK_DELIVERY") -> ProvisionEvent:
    payload: dict[str, object] = {"n": 1} if lane is None else {"fifo": lane}
    return ProvisionEvent.new(kind, payload, now=f.NOW, max_attempts=3)


async def test_a_fifo_lane_runs_one_row_at_a_time_oldest_first(
    clean_db: Database, ledger: PostgresLedger, clock: FixedClock
) -> None:
    first, second, third = in_lane("e1:s1"), in_lane("e1:s1"), in_lane("e1:s1")
    other_lane, no_lane = in_lane("e1:s2"), in_lane(None)
    await record(clean_db, first, second, third, other_lane, no_lane)

    claimed = {e.id for e in await ledger.claim_due("w1", 10, LEASE)}
    # One per lane (the oldest), and every row without a lane.
    assert claimed == {first.id, other_lane.id, no_lane.id}
    # While the oldest is RUNNING, then FAILED (waiting for its retry), the next one waits.
    assert await ledger.claim_due("w2", 10, LEASE) == []
    [running] = await _rows(clean_db, first.id)
    running.fail("w1", "refused", now=clock.now(), delay=timedelta(seconds=5))
    assert await ledger.finish(running, "w1")
    assert await ledger.claim_due("w2", 10, LEASE) == []
    clock.advance(timedelta(seconds=5))
    [retried] = await ledger.claim_due("w2", 10, LEASE)
    assert retried.id == first.id
    retried.succeed("w2", now=clock.now())
    assert await ledger.finish(retried, "w2")
    # Done: the next of the lane goes; a DEAD one lets the lane move on too.
    [nxt] = await ledger.claim_due("w3", 10, LEASE)
    assert nxt.id == second.id
    nxt.attempts = nxt.max_attempts
    nxt.fail("w3", "refused", now=clock.now(), delay=timedelta(0))
    assert nxt.status is ProvisionStatus.DEAD
    assert await ledger.finish(nxt, "w3")
    assert [e.id for e in await ledger.claim_due("w4", 10, LEASE)] == [third.id]


async def _rows(db: Database, *ids: object) -> list[ProvisionEvent]:
    rows = await db.fetch(
        f"SELECT {EVENT_COLUMNS} FROM provision_event WHERE id = ANY($1)", list(ids)
    )
    return [event_from_row(r) for r in rows]
