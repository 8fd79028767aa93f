"""The staff side of the ledger and the audit trail on real PostgreSQL: a resolved row is
stored and never claimed, newest-first keyset pages with filters, the summary, and that anyone
but staff reads nothing even with the scope."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import pytest

from domain.model.audit import AuditEntry
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.ledger import PostgresLedger
from persistence.read_models import ReadModels
from persistence.staff_reads import AuditFilter, ProvisionEventFilter
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from fakes import FixedClock

STAFF = Principal(PrincipalKind.STAFF, "staff", frozenset({"provision_events:read"}))
PORTAL = Principal(
    PrincipalKind.PORTAL_USER, "usr_x", frozenset({"provision_events:read", "audit:read"})
)


CLOCK = FixedClock(f.NOW)  # never moved: every row and read here happens at factories.NOW


def new_event(kind: str = "NAMESPACE_PROVISION", *, now: datetime = f.NOW) -> ProvisionEvent:
    return ProvisionEvent.new(kind, {"seats": 10}, now=now, max_attempts=1)


async def record(db: Database, *events: ProvisionEvent) -> None:
    async with PostgresUnitOfWork(db) as uow:
        for event in events:
            await uow.outbox.record(event)
        await uow.commit()


async def kill(db: Database, event: ProvisionEvent) -> ProvisionEvent:
    """Claim the row and fail its only attempt: DEAD."""
    ledger = PostgresLedger(db, CLOCK)
    while True:
        claimed = list(await ledger.claim_due("w", 100, timedelta(seconds=30)))
        mine = [e for e in claimed if e.id == event.id]
        for other in claimed:
            if other.id != event.id:
                other.release("w", now=CLOCK.now())
                await ledger.finish(other, "w")
        if mine:
            break
    dead = mine[0]
    dead.fail("w", "boom", now=CLOCK.now(), delay=timedelta(0))
    assert await ledger.finish(dead, "w")
    return dead


async def test_a_resolved_row_is_stored_and_never_claimed(clean_db: Database) -> None:
    event = new_event()
    await record(clean_db, event)
    await kill(clean_db, event)
    async with PostgresUnitOfWork(clean_db) as uow:
        locked = await uow.provision_events.lock(event.id)
        assert locked is not None
        locked.resolve("done by hand", now=CLOCK.now())
        await uow.provision_events.save(locked)
        await uow.commit()
    ledger = PostgresLedger(clean_db, CLOCK)
    stored = await ledger.get(event.id)
    assert stored is not None
    assert (stored.status, stored.resolved_reason) == (ProvisionStatus.RESOLVED, "done by hand")
    await clean_db.fetch(
        "UPDATE provision_event SET next_attempt_at = $2 WHERE id = $1",
        event.id,
        CLOCK.now() - timedelta(hours=1),
    )
    assert await ledger.claim_due("w2", 10, timedelta(seconds=30)) == []


async def test_the_database_refuses_a_resolution_without_its_reason(clean_db: Database) -> None:
    event = new_event()
    await record(clean_db, event)
    with pytest.raises(asyncpg.CheckViolationError):
        await clean_db.fetch(
            "UPDATE provision_event SET status = 'RESOLVED' WHERE id = $1", event.id
        )


async def test_events_page_newest_first_with_filters(clean_db: Database) -> None:
    events = [
        new_event("ALERT" if n % 2 else "HTTP_PING", now=f.NOW - timedelta(seconds=5 - n))
        for n in range(5)
    ]
    await record(clean_db, *events)
    read = ReadModels(clean_db)
    first = await read.provision_events(STAFF, ProvisionEventFilter(), 2, None)
    assert [e.id for e in first.items] == [events[4].id, events[3].id]
    assert first.has_next
    rest = await read.provision_events(STAFF, ProvisionEventFilter(), 10, first.items[-1].id)
    assert [e.id for e in rest.items] == [events[2].id, events[1].id, events[0].id]
    assert not rest.has_next
    alerts = await read.provision_events(STAFF, ProvisionEventFilter(kind="ALERT"), 10, None)
    assert [e.id for e in alerts.items] == [events[3].id, events[1].id]
    assert await read.count_provision_events(STAFF, ProvisionEventFilter(status="PENDING")) == 5
    assert (await read.provision_events(PORTAL, ProvisionEventFilter(), 10, None)).items == []
    assert await read.count_provision_events(PORTAL, ProvisionEventFilter()) == 0
    assert await read.provision_events_by_ids(PORTAL, [events[0].id]) == {}


async def test_the_summary_counts_by_status_and_kind(clean_db: Database) -> None:
    now = CLOCK.now()
    waiting, dead = new_event("HTTP_PING"), new_event("HTTP_PING")
    waiting.next_attempt_at = now - timedelta(seconds=90)
    await record(clean_db, waiting, dead, new_event("ALERT"))
    await clean_db.fetch(
        "UPDATE provision_event SET next_attempt_at = $2 WHERE id = $1",
        waiting.id,
        now - timedelta(seconds=90),
    )
    await clean_db.fetch(
        "UPDATE provision_event SET status = 'DEAD', next_attempt_at = $2 WHERE id = $1",
        dead.id,
        now - timedelta(days=1),
    )
    read = ReadModels(clean_db)
    summary = await read.provision_event_summary(STAFF, now)
    assert summary.counts == [
        ("DEAD", "HTTP_PING", 1),
        ("PENDING", "ALERT", 1),
        ("PENDING", "HTTP_PING", 1),
    ]
    assert summary.oldest_due_age_seconds == 90
    nothing = await read.provision_event_summary(PORTAL, now)
    assert (nothing.counts, nothing.oldest_due_age_seconds) == ([], 0.0)
    assert (await read.ledger_metrics(now)) == summary


async def test_audit_entries_newest_first_with_filters(clean_db: Database) -> None:
    staff = Principal(PrincipalKind.STAFF, "staff-1")
    now = CLOCK.now()
    entries = [
        AuditEntry.of(staff, "retryProvisionEvent", "ProvisionEvent", None, now, after={"n": n})
        for n in range(3)
    ]
    async with PostgresUnitOfWork(clean_db) as uow:
        for entry in entries:
            await uow.audit.record(entry)
        await uow.commit()
    read = ReadModels(clean_db)
    page = await read.audit_entries(STAFF, AuditFilter(actor_subject="staff-1"), 10, None)
    assert [e.after for e in page.items] == [{"n": 2}, {"n": 1}, {"n": 0}]
    assert (await read.audit_entries(STAFF, AuditFilter(action="other"), 10, None)).items == []
    assert (await read.audit_entries(PORTAL, AuditFilter(), 10, None)).items == []
    assert await read.count_audit_entries(PORTAL, AuditFilter()) == 0
