"""Read models on real PostgreSQL: keyset pages, filters by derived status, batch loads."""

from __future__ import annotations

from datetime import timedelta

from domain.model.calendar import add_years
from domain.model.enums import Deployment, Plan, SubscriptionStatus
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.read_models import ReadModels, SubscriptionFilter

import factories as f

STAFF = Principal(PrincipalKind.STAFF, subject="test:staff")


async def test_keyset_pages_walk_the_whole_list_once(clean_db: Database) -> None:
    customer = f.customer()
    subs = [f.subscription(customer) for _ in range(11)]
    await f.store(clean_db, customer, *subs)
    read = ReadModels(clean_db)
    seen, after = [], None
    while True:
        page = await read.subscriptions(STAFF, SubscriptionFilter(), f.TODAY, 4, after)
        seen.extend(s.id for s in page.items)
        if not page.has_next:
            break
        after = page.items[-1].id
    assert seen == [s.id for s in subs]
    assert await read.count_subscriptions(STAFF, SubscriptionFilter(), f.TODAY) == 11


async def test_filters_by_derived_status_deployment_plan_and_customer(clean_db: Database) -> None:
    a, b = f.customer(), f.customer()
    active = f.subscription(a)
    pending = f.subscription(a, start=f.TODAY + timedelta(days=1))
    expired = f.subscription(b, start=f.TODAY - timedelta(days=400))
    ends_today = f.subscription(b, start=add_years(f.TODAY, -1))
    cancelled = f.subscription(b, cancelled=True)
    saas = f.subscription(b, deployment=Deployment.GITLAB_COM, plan=Plan.ULTIMATE)
    await f.store(clean_db, a, b, active, pending, expired, ends_today, cancelled, saas)
    read = ReadModels(clean_db)

    async def names(**kwargs: object) -> set[str]:
        page = await read.subscriptions(STAFF, SubscriptionFilter(**kwargs), f.TODAY, 100, None)  # type: ignore[arg-type]
        return {s.name for s in page.items}

    assert await names(status=SubscriptionStatus.ACTIVE) == {active.name, saas.name}
    assert await names(status=SubscriptionStatus.PENDING) == {pending.name}
    assert await names(status=SubscriptionStatus.EXPIRED) == {expired.name, ends_today.name}
    assert await names(status=SubscriptionStatus.CANCELLED) == {cancelled.name}
    assert await names(deployment=Deployment.GITLAB_COM) == {saas.name}
    assert await names(plan=Plan.ULTIMATE) == {saas.name}
    assert await names(customer_id=a.id) == {active.name, pending.name}
    # The SQL filter agrees with the domain's derivation for every row.
    for status in SubscriptionStatus:
        page = await read.subscriptions(
            STAFF, SubscriptionFilter(status=status), f.TODAY, 100, None
        )
        assert all(s.status(f.TODAY) is status for s in page.items)


async def test_child_pages_for_many_parents_in_one_statement(clean_db: Database) -> None:
    customer = f.customer()
    subs = [f.subscription(customer) for _ in range(3)]
    licenses = {
        s.id: [f.license_for(s, key=f"{s.name}-{i}") for i in range(i + 1)]
        for i, s in enumerate(subs)
    }
    await f.store(clean_db, customer, *subs, *[lic for items in licenses.values() for lic in items])
    read = ReadModels(clean_db)
    statements: list[str] = []
    clean_db.observer = statements.append
    pages = await read.licenses_by_subscription(STAFF, [s.id for s in subs], 2, None)
    assert len(statements) == 1
    for sub in subs:
        expected = [lic.id for lic in licenses[sub.id]]
        assert [lic.id for lic in pages[sub.id].items] == expected[:2]
        assert pages[sub.id].has_next == (len(expected) > 2)
    counts = await read.count_licenses_by_subscription(STAFF, [s.id for s in subs])
    assert counts == {s.id: len(licenses[s.id]) for s in subs}
    last = subs[2]
    after = pages[last.id].items[-1].id
    rest = await read.licenses_by_subscription(STAFF, [last.id], 2, after)
    assert [lic.id for lic in rest[last.id].items] == [licenses[last.id][2].id]
    assert not rest[last.id].has_next


async def test_batch_loads_by_id_and_latest_usage(clean_db: Database) -> None:
    customer = f.customer()
    sub = f.subscription(customer)
    ns = f.namespace(5)
    linked = f.subscription(customer, deployment=Deployment.GITLAB_COM, namespace_id=ns.id)
    old = f.usage_for(sub, billable=1, maximum=2, days_ago=3)
    new = f.usage_for(sub, billable=3, maximum=4)
    await f.store(clean_db, customer, ns, sub, linked, old, new, f.trial_on(ns))
    read = ReadModels(clean_db)
    found = await read.subscriptions_by_ids(STAFF, [sub.id, linked.id, customer.id])
    assert set(found) == {sub.id, linked.id}
    assert (await read.latest_usage_by_subscription(STAFF, [sub.id]))[sub.id] == new
    assert (await read.subscriptions_by_namespace(STAFF, [ns.id]))[ns.id] == linked
    assert len((await read.trials_by_namespace(STAFF, [ns.id]))[ns.id]) == 1
    assert await read.namespace_by_gitlab_id(STAFF, 5) == ns
    assert await read.subscription_by_name(STAFF, sub.name) == sub
