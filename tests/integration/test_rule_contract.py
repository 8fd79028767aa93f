"""One contract for the rules written twice, in Python (``domain/``) and in SQL
(``persistence/``): each table of cases runs through the domain's definition, the in-memory
fakes (``tests/unit/fakes.py``, ``memory.py``) and PostgreSQL, and all must give the expected
answer. A drifting boundary in either language turns its cases red.

The rules: the ledger's claim, lost-lease and waiting conditions (``ProvisionEvent``, against
``PostgresLedger`` and the staff summary); a subscription's status and current seats
(``Subscription.status``/``seats``, against ``persistence.derived``); "will not renew"
(``Subscription.ends_without_renewal``, against ``ending_without_renewal``); "trial ended" and
"ending soon" (``Trial.has_ended``, against ``PostgresTrials.claim_ended``/``ending_between``).

Instants and dates are half-open: a row is due from ``next_attempt_at`` on and its lease holds
up to and including ``lease_until``; a period runs from its start date to the day before its
end date. Windows of reminders (``[first, last]``) include both ends.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, timedelta

import pytest

from domain.model.enums import SubscriptionStatus
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.model.subscription import Segment, Subscription, Term
from domain.model.trial import Trial
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.derived import current_seats
from persistence.ledger import PostgresLedger
from persistence.read_models import ReadModels, SubscriptionFilter
from persistence.repositories import PostgresSubscriptions, PostgresTrials
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from fakes import FixedClock, InMemoryLedger
from memory import MemoryUnitOfWork, Store

STAFF = Principal(PrincipalKind.STAFF, "contract")
NOW = f.NOW
TICK = timedelta(microseconds=1)  # PostgreSQL's resolution
LEASE = timedelta(seconds=30)

# --- the ledger ----------------------------------------------------------------------------

P, R, F = ProvisionStatus.PENDING, ProvisionStatus.RUNNING, ProvisionStatus.FAILED
LEDGER_CASES = [
    # name, status, next_attempt_at - now, lease_until - now, attempts, claimable, lost
    ("pending due a tick ago", P, -TICK, None, 0, True, False),
    ("pending due now", P, timedelta(0), None, 0, True, False),
    ("pending due in a tick", P, TICK, None, 0, False, False),
    ("failed due a tick ago", F, -TICK, None, 1, True, False),
    ("failed due now", F, timedelta(0), None, 1, True, False),
    ("failed due in a tick", F, TICK, None, 1, False, False),
    ("running, lease ended a tick ago", R, -LEASE, -TICK, 1, True, False),
    ("running, lease ends now", R, -LEASE, timedelta(0), 1, False, False),
    ("running, lease ends in a tick", R, -LEASE, TICK, 1, False, False),
    ("running last attempt, lease ended a tick ago", R, -LEASE, -TICK, 3, False, True),
    ("running last attempt, lease ends now", R, -LEASE, timedelta(0), 3, False, False),
    ("running past its attempts, lease ended", R, -LEASE, -TICK, 4, False, True),
    ("succeeded long ago", ProvisionStatus.SUCCEEDED, -timedelta(days=1), None, 1, False, False),
    ("dead long ago", ProvisionStatus.DEAD, -timedelta(days=1), None, 3, False, False),
    ("resolved long ago", ProvisionStatus.RESOLVED, -timedelta(days=1), None, 3, False, False),
]


def ledger_row(
    status: ProvisionStatus, due: timedelta, lease: timedelta | None, attempts: int
) -> ProvisionEvent:
    event = ProvisionEvent.new("CONTRACT", {}, now=NOW - timedelta(hours=1), max_attempts=3)
    return dataclasses.replace(
        event,
        status=status,
        attempts=attempts,
        next_attempt_at=NOW + due,
        lease_owner="w0" if status is R else None,
        lease_until=NOW + lease if lease is not None else None,
        last_error="boom" if status in (F, ProvisionStatus.DEAD) else None,
        resolved_reason="by hand" if status is ProvisionStatus.RESOLVED else None,
        resolved_at=NOW - timedelta(hours=1) if status is ProvisionStatus.RESOLVED else None,
    )


async def record(db: Database, event: ProvisionEvent) -> None:
    """Insert the row as it is (a resolved one is recorded DEAD, then resolved, as staff do)."""
    async with PostgresUnitOfWork(db) as uow:
        unresolved = dict(status=ProvisionStatus.DEAD, resolved_reason=None, resolved_at=None)
        resolved = event.status is ProvisionStatus.RESOLVED
        await uow.outbox.record(dataclasses.replace(event, **unresolved) if resolved else event)
        await uow.provision_events.save(event)
        await uow.commit()


@pytest.mark.parametrize(
    ("status", "due", "lease", "attempts", "claimable", "lost"),
    [pytest.param(*case[1:], id=case[0]) for case in LEDGER_CASES],
)
async def test_the_ledger_claims_gives_up_and_waits_by_one_rule(
    clean_db: Database,
    status: ProvisionStatus,
    due: timedelta,
    lease: timedelta | None,
    attempts: int,
    claimable: bool,
    lost: bool,
) -> None:
    event = ledger_row(status, due, lease, attempts)
    clock = FixedClock(NOW)
    fake = InMemoryLedger(clock)
    fake.add(event)
    await record(clean_db, event)
    sql = PostgresLedger(clean_db, clock)

    # Lost rows first: a claim would change the row.
    assert (event.is_lost(NOW), event.is_claimable(NOW)) == (lost, claimable), "domain"
    assert [e.id for e in await fake.expired_without_attempts(10)] == [event.id] * lost
    assert [e.id for e in await sql.expired_without_attempts(10)] == [event.id] * lost
    given_up = dataclasses.replace(
        event, status=ProvisionStatus.DEAD, lease_owner=None, lease_until=None, last_error="lost"
    )
    assert await fake.give_up(given_up) is lost, "fake give_up"
    assert await sql.give_up(given_up) is lost, "SQL give_up"

    waiting = status in (P, F) and due <= timedelta(0)
    assert event.is_waiting(NOW) is waiting, "domain"
    summary = await ReadModels(clean_db).ledger_metrics(NOW)
    assert summary.oldest_due_age_seconds == (-due.total_seconds() if waiting else 0.0)

    expected: list[ProvisionEvent] = []
    if claimable:
        claimed = copy.deepcopy(event)
        claimed.claim("w1", now=NOW, lease=LEASE)
        expected = [claimed]
    assert await fake.claim_due("w1", 10, LEASE) == expected, "fake claim"
    assert await sql.claim_due("w1", 10, LEASE) == expected, "SQL claim"


@pytest.mark.parametrize(
    ("status", "due", "lease", "attempts", "claimable", "lost"),
    [pytest.param(*case[1:], id=case[0]) for case in LEDGER_CASES],
)
async def test_one_named_row_is_claimed_at_once_by_one_rule(
    clean_db: Database,
    status: ProvisionStatus,
    due: timedelta,
    lease: timedelta | None,
    attempts: int,
    claimable: bool,
    lost: bool,
) -> None:
    """``claim_one`` (a request running its step at once): a claimable row, or a waiting one
    not due yet (its backoff is skipped); never a held, lost or finished one."""
    event = ledger_row(status, due, lease, attempts)
    fake = InMemoryLedger(FixedClock(NOW))
    fake.add(event)
    await record(clean_db, event)
    sql = PostgresLedger(clean_db, FixedClock(NOW))
    at_once = claimable or status in (P, F)
    assert event.is_claimable_at_once(NOW) is at_once, "domain"
    expected = None
    if at_once:
        expected = copy.deepcopy(event)
        expected.claim("w1", now=NOW, lease=LEASE, at_once=True)
    assert await fake.claim_one("w1", event.id, LEASE) == expected, "fake claim_one"
    assert await sql.claim_one("w1", event.id, LEASE) == expected, "SQL claim_one"


# --- a subscription's status and seats ----------------------------------------------------

START = date(2026, 1, 1)  # a two-term ramp: 10 seats, 20 seats, then a renewal of 30
RAMP, RENEWAL, END = date(2027, 1, 1), date(2028, 1, 1), date(2029, 1, 1)
DAY = timedelta(days=1)
ACTIVE, PENDING = SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING
EXPIRED, CANCELLED = SubscriptionStatus.EXPIRED, SubscriptionStatus.CANCELLED
STATUS_CASES = [
    # name, today, status (not cancelled), seats
    ("the day before the start", START - DAY, PENDING, 10),
    ("the first day", START, ACTIVE, 10),
    ("the last day of the first segment", RAMP - DAY, ACTIVE, 10),
    ("the first day of the ramp step", RAMP, ACTIVE, 20),
    ("the last day of the first term", RENEWAL - DAY, ACTIVE, 20),
    ("the first day of the renewal", RENEWAL, ACTIVE, 30),
    ("the last day", END - DAY, ACTIVE, 30),
    ("the end date (exclusive)", END, EXPIRED, 30),
    ("the day after the end", END + DAY, EXPIRED, 30),
]


def ramp_subscription(**changes: object) -> tuple[Subscription, list[object]]:
    customer = f.customer()
    sub = dataclasses.replace(
        f.subscription(customer),
        terms=(
            Term((Segment(START, RAMP, 10), Segment(RAMP, RENEWAL, 20))),
            Term((Segment(RENEWAL, END, 30),)),
        ),
        **changes,
    )
    return sub, [customer, sub]


@pytest.mark.parametrize("variant", ["as sold", "cancelled at period end", "cancelled now"])
@pytest.mark.parametrize(
    ("today", "status", "seats"), [pytest.param(*c[1:], id=c[0]) for c in STATUS_CASES]
)
async def test_status_and_current_seats_agree_on_every_boundary_day(
    clean_db: Database, variant: str, today: date, status: SubscriptionStatus, seats: int
) -> None:
    changes: dict[str, object] = {
        "as sold": {},
        "cancelled at period end": {"cancel_at_period_end": True, "auto_renew": False},
        "cancelled now": {"cancelled_at": NOW, "auto_renew": False},
    }[variant]
    sub, objects = ramp_subscription(**changes)
    await f.store(clean_db, *objects)
    expected = CANCELLED if variant == "cancelled now" else status

    assert (sub.status(today), sub.seats(today)) == (expected, seats), "domain"
    read = ReadModels(clean_db)
    for candidate in SubscriptionStatus:
        found = await read.subscriptions(STAFF, SubscriptionFilter(candidate), today, 10, None)
        counted = await read.count_subscriptions(STAFF, SubscriptionFilter(candidate), today)
        hit = candidate is expected
        assert ([s.id for s in found.items], counted) == ([sub.id] * hit, int(hit)), candidate
    in_sql = await clean_db.fetchval(
        f"SELECT {current_seats('s', '$1')} FROM subscription s WHERE s.id = $2", today, sub.id
    )
    assert in_sql == seats, "SQL seats"


# --- will not renew -------------------------------------------------------------------------

FIRST = date(2026, 12, 1)  # the expiry reminder's window, both ends included
LAST = FIRST + timedelta(days=30)
RENEWAL_CASES = [
    # name, end date, auto_renew, cancel_at_period_end, cancelled now, in the window
    ("renews", FIRST, True, False, False, False),
    ("auto-renew off, ends the day before the window", FIRST - DAY, False, False, False, False),
    ("auto-renew off, ends on the first day", FIRST, False, False, False, True),
    ("auto-renew off, ends on the last day", LAST, False, False, False, True),
    ("auto-renew off, ends the day after the window", LAST + DAY, False, False, False, False),
    ("cancelled at period end", LAST, False, True, False, True),
    ("cancelled at period end, auto-renew left on", FIRST, True, True, False, True),
    ("cancelled now", FIRST, False, False, True, False),
]


@pytest.mark.parametrize(
    ("end", "auto_renew", "at_period_end", "cancelled", "listed"),
    [pytest.param(*c[1:], id=c[0]) for c in RENEWAL_CASES],
)
async def test_will_not_renew_agrees_at_the_window_edges(
    clean_db: Database,
    end: date,
    auto_renew: bool,
    at_period_end: bool,
    cancelled: bool,
    listed: bool,
) -> None:
    customer = f.customer()
    sub = dataclasses.replace(
        f.subscription(customer),
        terms=(Term((Segment(end - timedelta(days=365), end, 10),)),),
        auto_renew=auto_renew,
        cancel_at_period_end=at_period_end,
        cancelled_at=NOW if cancelled else None,
    )
    await f.store(clean_db, customer, sub)
    store = Store(subscriptions={sub.id: sub})

    assert sub.ends_without_renewal(FIRST, LAST) is listed, "domain"
    async with MemoryUnitOfWork(store) as uow:
        in_memory = await uow.subscriptions.ending_without_renewal(FIRST, LAST)
    in_sql = await PostgresSubscriptions(clean_db).ending_without_renewal(FIRST, LAST)
    assert [s.id for s in in_memory] == [sub.id] * listed, "fake"
    assert [s.id for s in in_sql] == [sub.id] * listed, "SQL"


# --- trial ended, trial ending soon -----------------------------------------------------------

ENDS_ON = date(2026, 12, 15)
TRIAL_ENDED_CASES = [
    # name, today, ended
    ("the last day of the trial", ENDS_ON - DAY, False),
    ("the end date (exclusive)", ENDS_ON, True),
    ("the day after the end", ENDS_ON + DAY, True),
]
TRIAL_WINDOW_CASES = [
    # name, first, last, listed ([first, last] includes both ends)
    ("window ends the day before", ENDS_ON - 7 * DAY, ENDS_ON - DAY, False),
    ("window ends on the end date", ENDS_ON - 7 * DAY, ENDS_ON, True),
    ("window starts on the end date", ENDS_ON, ENDS_ON + 7 * DAY, True),
    ("window starts the day after", ENDS_ON + DAY, ENDS_ON + 7 * DAY, False),
]


async def stored_trial(db: Database) -> tuple[Trial, Store]:
    group = f.namespace(7001)
    trial = dataclasses.replace(
        f.trial_on(group), starts_on=ENDS_ON - timedelta(days=30), ends_on=ENDS_ON
    )
    await f.store(db, group, trial)
    return trial, Store(namespaces={group.id: group}, trials=[trial])


@pytest.mark.parametrize(
    ("today", "ended"), [pytest.param(*c[1:], id=c[0]) for c in TRIAL_ENDED_CASES]
)
async def test_trial_ended_agrees_and_each_trial_is_claimed_once(
    clean_db: Database, today: date, ended: bool
) -> None:
    trial, store = await stored_trial(clean_db)
    assert trial.has_ended(today) is ended, "domain"
    sql = PostgresTrials(clean_db)
    for _ in range(2):  # the second claim finds it reverted already
        async with MemoryUnitOfWork(store) as uow:
            in_memory = await uow.trials.claim_ended(today, 10)
            await uow.commit()
        in_sql = await sql.claim_ended(today, 10)
        assert [t.id for t in in_memory] == [trial.id] * ended, "fake"
        assert [t.id for t in in_sql] == [trial.id] * ended, "SQL"
        ended = False


@pytest.mark.parametrize(
    ("first", "last", "listed"), [pytest.param(*c[1:], id=c[0]) for c in TRIAL_WINDOW_CASES]
)
async def test_trial_ending_soon_agrees_at_the_window_edges(
    clean_db: Database, first: date, last: date, listed: bool
) -> None:
    trial, store = await stored_trial(clean_db)
    async with MemoryUnitOfWork(store) as uow:
        in_memory = await uow.trials.ending_between(first, last)
    in_sql = await PostgresTrials(clean_db).ending_between(first, last)
    assert [t.id for t in in_memory] == [trial.id] * listed, "fake"
    assert [t.id for t in in_sql] == [trial.id] * listed, "SQL"
    # A reverted trial is not "ending soon" any more (until it runs again).
    async with MemoryUnitOfWork(store) as uow:
        await uow.trials.claim_ended(ENDS_ON, 10)
        await uow.commit()
        assert await uow.trials.ending_between(first, last) == []
    await PostgresTrials(clean_db).claim_ended(ENDS_ON, 10)
    assert await PostgresTrials(clean_db).ending_between(first, last) == []
