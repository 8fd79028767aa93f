"""Builders of believable domain objects for tests, and a helper that stores them."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

from domain.model.calendar import add_years
from domain.model.customer import Customer
from domain.model.enums import (
    Channel,
    Deployment,
    LicensingMode,
    NamespaceKind,
    NamespacePlan,
    Plan,
    TrialType,
)
from domain.model.instance import Instance
from domain.model.license import License, Licensee
from domain.model.namespace import Namespace
from domain.model.subscription import Segment, Subscription, Term
from domain.model.trial import Trial
from domain.model.usage import UsageReport
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
_numbers = itertools.count(1)


def customer(company: str = "Acme Corp") -> Customer:
    n = next(_numbers)
    return Customer(company, "Ada Admin", f"ada{n}@example.com", NOW)


def subscription(
    owner: Customer,
    *,
    name: str | None = None,
    start: date = TODAY - timedelta(days=30),
    seats: tuple[int, ...] = (10,),
    deployment: Deployment = Deployment.SELF_MANAGED,
    plan: Plan = Plan.PREMIUM,
    namespace_id: uuid.UUID | None = None,
    cancelled: bool = False,
) -> Subscription:
    segments = []
    cursor = start
    for count in seats:
        end = add_years(cursor, 1)
        segments.append(Segment(cursor, end, count))
        cursor = end
    return Subscription(
        name=name or f"A-S{next(_numbers):08d}",
        customer_id=owner.id,
        deployment=deployment,
        plan=plan,
        channel=Channel.SALES,
        terms=(Term(tuple(segments)),),
        namespace_id=namespace_id,
        cancelled_at=NOW if cancelled else None,
        created_at=NOW,
    )


def namespace(gitlab_id: int, *, parent: int | None = None) -> Namespace:
    return Namespace(
        gitlab_id=gitlab_id,
        path=f"group-{gitlab_id}",
        name=f"Group {gitlab_id}",
        kind=NamespaceKind.GROUP,
        parent_gitlab_id=parent,
        owner_user_ids=(7,),
        created_at=NOW,
    )


def license_for(sub: Subscription, *, seats: int = 10, key: str = "key") -> License:
    return License(
        subscription_id=sub.id,
        mode=sub.licensing_mode or LicensingMode.ONLINE_CLOUD,
        plan=sub.plan,
        seats=seats,
        starts_at=sub.start_date,
        expires_at=sub.end_date,
        licensee=Licensee("Ada Admin", "ada@example.com", "Acme Corp"),
        license_key=key,
        created_at=NOW,
    )


def instance_for(sub: Subscription) -> Instance:
    return Instance(
        instance_identifier=str(uuid.uuid4()),
        subscription_id=sub.id,
        activated_at=NOW,
        hostname="gitlab.example.com",
        gitlab_version="18.6.0",
    )


def trial_on(ns: Namespace, *, type_: TrialType = TrialType.ULTIMATE, days_left: int = 10) -> Trial:
    return Trial(
        type=type_,
        namespace_id=ns.id,
        starts_on=TODAY - timedelta(days=30 - days_left),
        ends_on=TODAY + timedelta(days=days_left),
        reverts_to=NamespacePlan.FREE,
        created_at=NOW,
    )


def usage_for(sub: Subscription, *, billable: int, maximum: int, days_ago: int = 0) -> UsageReport:
    return UsageReport(
        subscription_id=sub.id,
        billable_users=billable,
        max_historical_users=maximum,
        reported_at=NOW - timedelta(days=days_ago),
    )


async def store(db: Database, *objects: object) -> None:
    """Add the objects through the repositories, in one committed unit of work."""
    async with PostgresUnitOfWork(db) as uow:
        for obj in objects:
            if isinstance(obj, Customer):
                await uow.customers.add(obj)
            elif isinstance(obj, Namespace):
                await uow.namespaces.add(obj)
            elif isinstance(obj, Subscription):
                await uow.subscriptions.add(obj)
            elif isinstance(obj, Instance):
                await uow.instances.add(obj)
            elif isinstance(obj, License):
                await uow.licenses.add(obj)
            elif isinstance(obj, Trial):
                await uow.trials.add(obj)
            elif isinstance(obj, UsageReport):
                await uow.usage_reports.add(obj)
            else:
                raise TypeError(f"cannot store {obj!r}")
        await uow.commit()
