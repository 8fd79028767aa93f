"""The staff reports on real PostgreSQL (docs/reports.md): a small world whose every figure is
worked out by hand in the comments, and each report's rows asserted exactly. The reports run
through ``domain.use_cases.reports`` (staff only) on ``ReadModels`` at factories.NOW
(2026-11-29 12:00 UTC); the period is November 2026 (2026-11-01 to 2026-12-01)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from domain.errors import Forbidden
from domain.model.enums import Channel, Deployment, LicensingMode, Plan, TrialType
from domain.model.instance import Instance
from domain.model.reports import (
    AdoptionRow,
    FailureRow,
    OpenStepRow,
    OrderToAccessRow,
    ReportName,
    SeatOverageRow,
    StoppedSyncingRow,
    TrialRow,
)
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.principal import Principal, PrincipalKind
from domain.use_cases.reports import ReportRequest, run_report
from persistence import seat_usage
from persistence.database import Database
from persistence.read_models import ReadModels

import factories as f
from fakes import FixedClock

STAFF = Principal(PrincipalKind.STAFF, "staff", frozenset({"reports:read"}))
CLOCK = FixedClock(f.NOW)
NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 12, 1)}


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def sub(owner: Any, created: datetime, **changes: Any) -> Subscription:
    start = changes.pop("start", f.TODAY - timedelta(days=30))
    seats = changes.pop("seats", (10,))
    deployment = changes.pop("deployment", Deployment.SELF_MANAGED)
    namespace_id = changes.pop("namespace_id", None)
    made = f.subscription(
        owner, start=start, seats=seats, deployment=deployment, namespace_id=namespace_id
    )
    return dataclasses.replace(made, created_at=created, **changes)


def instance(s: Subscription, activated: datetime, synced: datetime | None) -> Instance:
    return dataclasses.replace(f.instance_for(s), activated_at=activated, last_synced_at=synced)


@dataclasses.dataclass
class World:
    names: dict[str, str]
    instances: dict[str, Instance]


async def _event(
    db: Database,
    kind: str,
    status: str,
    created: datetime,
    *,
    updated: datetime | None = None,
    error: str | None = None,
    attempts: int = 1,
    subscription: Subscription | None = None,
) -> None:
    running = status == "RUNNING"
    await db.fetch(
        "INSERT INTO provision_event (id, kind, correlation_id, subscription_id, payload, status,"
        " attempts, max_attempts, next_attempt_at, last_error, lease_owner, lease_until,"
        " created_at, updated_at, resolved_reason, resolved_at) VALUES ($1, $2, 'c', $3, '{}', $4,"
        " $5, 8, $6, $7, $8, $9, $6, $10, $11, $12)",
        uuid.uuid4(),
        kind,
        subscription.id if subscription else None,
        status,
        attempts,
        created,
        error,
        "w" if running else None,
        f.NOW + timedelta(minutes=5) if running else None,
        updated or created,
        "handled" if status == "RESOLVED" else None,
        updated or created if status == "RESOLVED" else None,
    )


async def _usage(
    db: Database, s: Subscription, i: Instance | None, maximum: int, reported: datetime
) -> None:
    await db.fetch(
        "INSERT INTO usage_report (id, subscription, instance, billable_users,"
        " max_historical_users, add_on_seats, reported_at, instance_identifier)"
        " VALUES ($1, $2, $3, $4, $4, '{}', $5, $6)",
        uuid.uuid4(),
        s.id,
        i.id if i else None,
        maximum,
        reported,
        i.instance_identifier if i else None,
    )
    await seat_usage.refresh(db, s.id, reported.date())  # as every usage writer does


async def _world(db: Database) -> World:
    acme, beta, trialist, old = (f.customer(n) for n in ("Acme", "Beta", "Trialist", "Old"))
    ns1, ns2, ns3 = f.namespace(1), f.namespace(2), f.namespace(3)
    # Ordered in November (orders): SM1, SM2, SM3 (self-managed, SALES), SM4 (RESELLER),
    # COM1 (GitLab.com), DED1 (Dedicated). Not orders: SMTRIAL (a trial), SMOLD and COMOLD
    # (ordered before November), SMGONE (cancelled, ordered in September).
    sm1 = sub(acme, at(10), reconciliation_enabled=True)
    sm2 = sub(acme, at(11), licensing_mode=LicensingMode.OFFLINE_CLOUD)
    sm3 = sub(trialist, at(20), licensing_mode=LicensingMode.LEGACY)
    sm4 = sub(beta, at(15), channel=Channel.RESELLER, partner_id="reseller-1")
    smtrial = sub(trialist, at(20), plan=Plan.ULTIMATE)
    smold = sub(old, at(1, month=10), start=date(2025, 10, 1))
    smgone = sub(
        old, at(1, month=9), licensing_mode=LicensingMode.LEGACY, cancelled_at=at(1, month=10)
    )
    com1 = sub(beta, at(5), deployment=Deployment.GITLAB_COM, seats=(20,), namespace_id=ns1.id)
    comold = sub(old, at(1, month=10), deployment=Deployment.GITLAB_COM, namespace_id=ns3.id)
    ded1 = sub(beta, at(2), deployment=Deployment.DEDICATED)
    # Instances: access of SM1 is its first activation, 11-10 02:00 (7,200 s after the
    # order); SM2 11-11 10:00 (36,000 s); SM4 11-15 01:00 (3,600 s); SM3 has none.
    i1a = instance(sm1, at(10, 2), at(28))
    i1b = instance(sm1, at(12), at(20, 12))  # silent since 11-20 12:00: 9 days
    i2 = instance(sm2, at(11, 10), None)  # never synced: silent since 11-11 10:00, 18 days
    i4 = instance(sm4, at(15, 1), at(22, 12))  # silent exactly 7 days: stale
    i4gone = dataclasses.replace(
        instance(sm4, at(15, 2), at(16)), retired_at=at(17), access_ends_on=date(2026, 11, 17)
    )
    iold = instance(smold, at(1, month=10), at(1, month=10))  # its subscription expired
    trials = [
        # ULTIMATE: t1 (COM1 ordered for ns1 after it began: converted), t3 (ns3's
        # subscription is older: not converted), tsm (SM3 ordered by the trialist at the
        # same instant: converted). DUO_ENTERPRISE: t2, nothing ordered. t0 began in October.
        Trial(TrialType.ULTIMATE, date(2026, 11, 1), date(2026, 12, 1), at(1), ns1.id),
        Trial(TrialType.ULTIMATE, date(2026, 11, 3), date(2026, 12, 3), at(3), ns3.id),
        Trial(
            TrialType.ULTIMATE,
            date(2026, 11, 20),
            date(2026, 12, 20),
            at(20),
            subscription_id=smtrial.id,
        ),
        Trial(TrialType.DUO_ENTERPRISE, date(2026, 11, 10), date(2026, 12, 10), at(10), ns2.id),
        Trial(TrialType.ULTIMATE, date(2026, 10, 10), date(2026, 11, 9), at(10, month=10), ns2.id),
    ]
    subs = [sm1, sm2, sm3, sm4, smtrial, smold, smgone, com1, comold, ded1]
    await f.store(db, acme, beta, trialist, old, ns1, ns2, ns3, *subs)
    await f.store(db, i1a, i1b, i2, i4, i4gone, iold, *trials)
    # Dedicated: ACTIVE first on 11-04 (172,800 s after its order), again after a change.
    history = [
        {"at": at(2).isoformat(), "from": None, "to": "ORDERED", "reason": "ordered"},
        {"at": at(3).isoformat(), "from": "ORDERED", "to": "PROVISIONING", "reason": "go"},
        {"at": at(4).isoformat(), "from": "PROVISIONING", "to": "ACTIVE", "reason": "up"},
        {"at": at(10).isoformat(), "from": "ACTIVE", "to": "CHANGING", "reason": "grow"},
        {"at": at(11).isoformat(), "from": "CHANGING", "to": "ACTIVE", "reason": "grown"},
    ]
    await db.fetch(
        "INSERT INTO dedicated_tenant (id, subscription, facts, state, history, created_at,"
        " updated_at) VALUES ($1, $2, '{}', 'ACTIVE', $3::jsonb, $4, $4)",
        uuid.uuid4(),
        ded1.id,
        orjson.dumps(history).decode(),
        at(2),
    )
    # The ledger. COM1's access: its first SUCCEEDED NAMESPACE_PROVISION, done 11-05 00:05
    # (300 s); it had failed twice first ("HTTP 502: ..."), so it is also a recovered failure.
    await _event(db, "NAMESPACE_PROVISION", "SUCCEEDED", at(5), updated=at(5, 0, 5),
                 error="HTTP 502: bad gateway", attempts=3, subscription=com1)  # fmt: skip
    await _event(db, "NAMESPACE_PROVISION", "SUCCEEDED", at(6), subscription=com1)
    await _event(db, "NAMESPACE_PROVISION", "DEAD", at(5), updated=at(5, 0, 1),
                 error="HTTP 502: upstream", attempts=5, subscription=com1)  # fmt: skip
    await _event(db, "NAMESPACE_PROVISION", "FAILED", at(20), error="timeout: after 10s")
    await _event(db, "EMAIL", "RESOLVED", at(8), error="HTTP 502: relay", attempts=2)
    await _event(db, "EMAIL", "DEAD", at(15, 12, month=10), error="smtp: refused")  # October
    await _event(db, "NAMESPACE_PROVISION", "PENDING", at(29, 11))
    await _event(db, "NAMESPACE_PROVISION", "PENDING", at(29, 11, 30))
    await _event(db, "WEBHOOK_DELIVERY", "RUNNING", at(29, 11, 50))
    # Usage in November. SM1: i1a peaks at 12, i1b at 5: 17 used of 10 seats, overage 7.
    # SM2: 9 of 10. SM4: a report naming no instance, 14 of 10 (overage 4); its October 50
    # is outside the period; the retired instance's 40 does not count.
    await _usage(db, sm1, i1a, 12, at(25))
    await _usage(db, sm1, i1a, 8, at(26))
    await _usage(db, sm1, i1b, 5, at(27))
    await _usage(db, sm2, i2, 9, at(27))
    await _usage(db, sm4, None, 14, at(20))
    await _usage(db, sm4, None, 50, at(20, month=10))
    await _usage(db, sm4, i4gone, 40, at(16))
    # COM1's group: 25 seats used of 20, reported 11-28 (overage 5).
    await db.fetch(
        "UPDATE namespace SET max_seats_used = 25, usage_reported_at = $2 WHERE id = $1",
        ns1.id,
        at(28),
    )
    await seat_usage.refresh_for_namespace(db, ns1.id, at(28).date())
    names = {
        "sm1": sm1.name,
        "sm2": sm2.name,
        "sm4": sm4.name,
        "com1": com1.name,
    }
    return World(names, {"i1b": i1b, "i2": i2, "i4": i4})


async def _run(db: Database, name: ReportName, **args: Any) -> list[Any]:
    return list(await run_report(ReadModels(db), CLOCK, STAFF, ReportRequest(name, **args)))


async def test_order_to_access_per_deployment_and_channel(clean_db: Database) -> None:
    await _world(clean_db)
    rows = await _run(clean_db, ReportName.ORDER_TO_ACCESS, **NOVEMBER)
    assert rows == [
        OrderToAccessRow("DEDICATED", "SALES", 1, 1, 172_800.0, 172_800.0),
        OrderToAccessRow("GITLAB_COM", "SALES", 1, 1, 300.0, 300.0),
        OrderToAccessRow("SELF_MANAGED", "RESELLER", 1, 1, 3_600.0, 3_600.0),
        # 7,200 and 36,000 s: p50 halfway, p95 = 7,200 + 0.95 * 28,800.
        OrderToAccessRow("SELF_MANAGED", "SALES", 3, 2, 21_600.0, 34_560.0),
    ]


async def test_provisioning_failures_by_step_and_cause(clean_db: Database) -> None:
    await _world(clean_db)
    rows = await _run(clean_db, ReportName.PROVISIONING_FAILURES, **NOVEMBER)
    assert rows == [
        FailureRow("NAMESPACE_PROVISION", "HTTP 502", 2, 8, 1, 0, 1, 0),
        FailureRow("EMAIL", "HTTP 502", 1, 2, 0, 0, 0, 1),
        FailureRow("NAMESPACE_PROVISION", "timeout", 1, 1, 0, 1, 0, 0),
    ]
    october = await _run(
        clean_db, ReportName.PROVISIONING_FAILURES, start=date(2026, 10, 1), end=date(2026, 11, 1)
    )
    assert october == [FailureRow("EMAIL", "smtp", 1, 1, 0, 0, 1, 0)]


async def test_steps_waiting_or_dead_now(clean_db: Database) -> None:
    await _world(clean_db)
    rows = await _run(clean_db, ReportName.OPEN_STEPS)
    assert rows == [
        OpenStepRow("EMAIL", "DEAD", 1, at(15, 12, month=10), 45 * 86_400.0),
        OpenStepRow("NAMESPACE_PROVISION", "DEAD", 1, at(5), (f.NOW - at(5)).total_seconds()),
        OpenStepRow("NAMESPACE_PROVISION", "FAILED", 1, at(20), 9.5 * 86_400),
        OpenStepRow("NAMESPACE_PROVISION", "PENDING", 2, at(29, 11), 3_600.0),
        OpenStepRow("WEBHOOK_DELIVERY", "RUNNING", 1, at(29, 11, 50), 600.0),
    ]


async def test_cloud_licensing_adoption_among_active_self_managed(clean_db: Database) -> None:
    await _world(clean_db)
    rows = await _run(clean_db, ReportName.LICENSING_ADOPTION)
    # SM1 and SM4 online, SM2 offline, SM3 legacy; the trial, the expired and the cancelled
    # subscriptions are not counted.
    assert rows == [
        AdoptionRow("ONLINE_CLOUD", 2, 0.5),
        AdoptionRow("OFFLINE_CLOUD", 1, 0.25),
        AdoptionRow("LEGACY", 1, 0.25),
    ]


async def test_instances_that_stopped_syncing(clean_db: Database) -> None:
    world = await _world(clean_db)
    rows = await _run(clean_db, ReportName.STOPPED_SYNCING)
    i4, i1b, i2 = world.instances["i4"], world.instances["i1b"], world.instances["i2"]
    expected = [
        StoppedSyncingRow(world.names["sm4"], i4.instance_identifier, i4.hostname,
                          "PRODUCTION", at(22, 12), 7),
        StoppedSyncingRow(world.names["sm1"], i1b.instance_identifier, i1b.hostname,
                          "PRODUCTION", at(20, 12), 9),
        StoppedSyncingRow(world.names["sm2"], i2.instance_identifier, i2.hostname,
                          "PRODUCTION", at(11, 10), 18),
    ]  # fmt: skip
    assert rows == expected
    assert await _run(clean_db, ReportName.STOPPED_SYNCING, limit=2) == expected[:2]
    assert await _run(clean_db, ReportName.STOPPED_SYNCING, days=10) == expected[2:]


async def test_seat_overage_and_true_up_exposure(clean_db: Database) -> None:
    world = await _world(clean_db)
    rows = await _run(clean_db, ReportName.SEAT_OVERAGE, **NOVEMBER)
    assert rows == [
        SeatOverageRow(world.names["sm1"], "SELF_MANAGED", "SALES", 10, 17, 7,
                       "QUARTERLY_RECONCILIATION", at(27)),
        SeatOverageRow(world.names["com1"], "GITLAB_COM", "SALES", 20, 25, 5,
                       "ANNUAL_TRUE_UP", at(28)),
        SeatOverageRow(world.names["sm4"], "SELF_MANAGED", "RESELLER", 10, 14, 4,
                       "ANNUAL_TRUE_UP", at(20)),
    ]  # fmt: skip


async def test_trial_starts_and_conversions(clean_db: Database) -> None:
    await _world(clean_db)
    rows = await _run(clean_db, ReportName.TRIALS, **NOVEMBER)
    assert rows == [
        TrialRow("DUO_ENTERPRISE", 1, 0, 0.0),
        TrialRow("ULTIMATE", 3, 2, 2 / 3),
    ]


@pytest.mark.parametrize(
    "principal",
    [
        Principal(PrincipalKind.PORTAL_USER, "usr_x", frozenset({"reports:read"})),
        Principal(PrincipalKind.PARTNER, "p", frozenset({"reports:read"}), partner_id="p"),
        Principal(PrincipalKind.STAFF, "staff", frozenset({"provision_events:read"})),
    ],
    ids=["portal-with-the-scope", "partner-with-the-scope", "staff-without-the-scope"],
)
async def test_only_staff_with_the_scope_run_a_report(
    principal: Principal, clean_db: Database
) -> None:
    await _world(clean_db)
    with pytest.raises(Forbidden):
        await run_report(
            ReadModels(clean_db), CLOCK, principal, ReportRequest(ReportName.OPEN_STEPS)
        )
