"""Repositories and the unit of work on real PostgreSQL: entities round-trip unchanged, and
the SQL forms of domain rules draw their lines where the domain does."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.model.calendar import add_years
from domain.model.customer import Membership
from domain.model.enums import AddOnKind, Deployment, Role
from domain.model.namespace import NamespaceUsage
from domain.model.subscription import AddOn, Segment, Term
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f


async def test_customer_round_trip(clean_db: Database) -> None:
    customer = f.customer()
    await f.store(clean_db, customer)
    async with PostgresUnitOfWork(clean_db) as uow:
        assert await uow.customers.get(customer.id) == customer
        await uow.customers.add_membership(Membership(customer.id, "user:1", Role.VIEWER))
        await uow.customers.add_membership(Membership(customer.id, "user:1", Role.OWNER))
        await uow.commit()
    roles = await clean_db.fetch("SELECT role FROM membership WHERE customer = $1", customer.id)
    assert [row["role"] for row in roles] == ["OWNER"]


async def test_subscription_round_trip_with_ramp_and_add_ons(clean_db: Database) -> None:
    customer = f.customer()
    sub = f.subscription(customer, seats=(100, 250, 500))
    sub.add_ons = (AddOn(AddOnKind.DUO_PRO, 20, sub.start_date, sub.end_date),)
    await f.store(clean_db, customer, sub)
    async with PostgresUnitOfWork(clean_db) as uow:
        loaded = await uow.subscriptions.get(sub.id)
        by_name = await uow.subscriptions.get_by_name(sub.name)
    assert loaded == sub
    assert by_name == sub
    assert loaded is not None
    assert [s.seats for s in loaded.segments] == [100, 250, 500]


async def test_saving_a_renewal_replaces_terms(clean_db: Database) -> None:
    customer = f.customer()
    sub = f.subscription(customer)
    await f.store(clean_db, customer, sub)
    renewal_end = add_years(sub.end_date, 1)
    sub.terms = (*sub.terms, Term((Segment(sub.end_date, renewal_end, 12),)))
    sub.auto_renew = False
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.subscriptions.save(sub)
        await uow.commit()
    async with PostgresUnitOfWork(clean_db) as uow:
        loaded = await uow.subscriptions.get(sub.id)
    assert loaded == sub
    end = await clean_db.fetchval("SELECT end_date FROM subscription WHERE id = $1", sub.id)
    assert end == renewal_end


async def test_subscription_names_come_from_a_sequence(clean_db: Database) -> None:
    async with PostgresUnitOfWork(clean_db) as uow:
        names = [await uow.subscriptions.next_name() for _ in range(3)]
    assert len(set(names)) == 3
    assert names == sorted(names)
    assert all(name.startswith("A-S") and len(name) == 11 for name in names)


async def test_namespace_round_trip_and_usage(clean_db: Database) -> None:
    ns = f.namespace(42)
    await f.store(clean_db, ns)
    ns.usage = NamespaceUsage(5, 9, 100, 2**40, f.NOW)
    ns.path = "renamed"
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.namespaces.save(ns)
        await uow.commit()
    async with PostgresUnitOfWork(clean_db) as uow:
        assert await uow.namespaces.get(ns.id) == ns
        assert await uow.namespaces.get_by_gitlab_id(42) == ns


async def test_children_round_trip(clean_db: Database) -> None:
    customer = f.customer()
    ns = f.namespace(7)
    sub = f.subscription(customer)
    saas = f.subscription(customer, deployment=Deployment.GITLAB_COM, namespace_id=ns.id)
    instance = f.instance_for(sub)
    older, newer = f.license_for(sub, key="k1"), f.license_for(sub, seats=12, key="k2")
    trial = f.trial_on(ns)
    report_old = f.usage_for(sub, billable=5, maximum=6, days_ago=2)
    report_new = f.usage_for(sub, billable=7, maximum=11)
    await f.store(
        clean_db, customer, ns, sub, saas, instance, older, newer, trial, report_old, report_new
    )
    async with PostgresUnitOfWork(clean_db) as uow:
        assert await uow.instances.for_subscription(sub.id) == [instance]
        assert await uow.licenses.latest_for_subscription(sub.id) == newer
        assert await uow.trials.for_namespace(ns.id) == [trial]
        assert await uow.usage_reports.latest_for_subscription(sub.id) == report_new
        assert (await uow.subscriptions.get(saas.id)).namespace_id == ns.id  # type: ignore[union-attr]


async def test_without_commit_nothing_is_kept(clean_db: Database) -> None:
    customer = f.customer()
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.customers.add(customer)
    assert await clean_db.fetchval("SELECT count(*) FROM customer") == 0


async def test_an_error_rolls_back(clean_db: Database) -> None:
    customer = f.customer()

    async def fail_midway() -> None:
        async with PostgresUnitOfWork(clean_db) as uow:
            await uow.customers.add(customer)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_midway()
    assert await clean_db.fetchval("SELECT count(*) FROM customer") == 0


async def test_commit_keeps_the_work_and_the_repositories_share_the_transaction(
    clean_db: Database,
) -> None:
    customer = f.customer()
    sub = f.subscription(customer)
    async with PostgresUnitOfWork(clean_db) as uow:
        await uow.customers.add(customer)
        # The foreign key is satisfied inside the same transaction.
        await uow.subscriptions.add(sub)
        assert await uow.subscriptions.get(sub.id) == sub
        await uow.commit()
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 1


async def test_expired_trial_dates(clean_db: Database) -> None:
    ns = f.namespace(9)
    trial = f.trial_on(ns, days_left=-1)
    await f.store(clean_db, ns, trial)
    async with PostgresUnitOfWork(clean_db) as uow:
        (loaded,) = await uow.trials.for_namespace(ns.id)
    assert loaded.ends_on == f.TODAY - timedelta(days=1)
    assert not loaded.is_active(f.TODAY)


async def test_a_trial_has_ended_from_its_end_date_not_on_its_last_day(
    clean_db: Database,
) -> None:
    # A trial runs up to, not including, ends_on: on ends_on it has ended; the day before is
    # its last day. The expiry job's SQL must draw the line where Trial.is_active does.
    days_left = {"ended yesterday": -1, "ends today": 0, "last day today": 1}
    groups = {label: f.namespace(30 + days) for label, days in days_left.items()}
    trials = {label: f.trial_on(groups[label], days_left=d) for label, d in days_left.items()}
    await f.store(clean_db, *groups.values(), *trials.values())
    assert trials["ends today"].ends_on == f.TODAY
    assert not trials["ends today"].is_active(f.TODAY)
    assert trials["last day today"].is_active(f.TODAY)
    labels = {trial.id: label for label, trial in trials.items()}

    async def claim(today: date) -> set[str]:
        async with PostgresUnitOfWork(clean_db) as uow:
            claimed = await uow.trials.claim_ended(today, 10)
            await uow.commit()
        return {labels[trial.id] for trial in claimed}

    assert await claim(f.TODAY) == {"ended yesterday", "ends today"}
    assert await claim(f.TODAY) == set()  # claimed once
    assert await claim(f.TODAY + timedelta(days=1)) == {"last day today"}  # the day after
