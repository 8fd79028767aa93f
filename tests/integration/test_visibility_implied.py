"""``persistence.visibility.IMPLIED`` held to the tenant conditions themselves, on PostgreSQL.

The fast path (api/graphql/fast_read.py, fast_page.py) leaves a child row's tenant condition
out when its parent's implies it. Each entry claims: a child row linked so to a parent row
that passes the parent's condition passes its own condition. Here every entry is checked for
a principal of every reach (staff, two portal users, a portal user whose email owns a group,
a partner, an instance's subscription, a GitLab.com token, a portal user without a subject)
on a world where the links cross tenants: a counterexample is a row the shortcut would show
and the condition would hide. A false entry (a customer's subscriptions for a partner) is
checked to produce one, so the check can fail.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from api.graphql.fast_read import Args
from domain.policy import Resource, reach
from domain.principal import Principal, PrincipalKind
from persistence.database import Database
from persistence.visibility import IMPLIED, Link, tenant_condition, tenant_condition_below

import factories as f

TABLES = {
    Resource.SUBSCRIPTIONS: "subscription",
    Resource.CUSTOMERS: "customer",
    Resource.LICENSES: "license",
    Resource.INSTANCES: "instance",
    Resource.USAGE: "usage_report",
    Resource.NAMESPACES: "namespace",
    Resource.TRIALS: "trial",
}
PARTNER = "implied-partner"
OWNER_EMAIL = "Owner@Example.com"


@dataclasses.dataclass
class World:
    principals: dict[str, Principal]


@pytest.fixture
async def world(clean_db: Database) -> World:
    """Two customers; subscriptions of each sold directly and through the partner; every
    child kind under each; namespaces linked to one customer's subscription, one owned by
    an email only; trials on each namespace and on a self-managed subscription."""
    a, b = f.customer("A"), f.customer("B")
    linked_a, linked_b, owned = f.namespace(1001), f.namespace(1002), f.namespace(1003)
    owned = dataclasses.replace(owned, owner_emails=(OWNER_EMAIL,))
    subs = [
        f.subscription(a),
        f.subscription(a),
        f.subscription(b),
        f.subscription(b),
        f.subscription(a, namespace_id=linked_a.id),
        f.subscription(b, namespace_id=linked_b.id),
    ]
    children: list[object] = []
    for i, sub in enumerate(subs):
        children += [f.license_for(sub, key=f"k{i}"), f.instance_for(sub)]
        children.append(f.usage_for(sub, billable=3, maximum=4))
    trials = [f.trial_on(linked_a), f.trial_on(linked_b), f.trial_on(owned)]
    await f.store(clean_db, a, b, linked_a, linked_b, owned, *subs, *children, *trials)
    async with clean_db.pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO partner (id, name, kind) VALUES ($1, 'Partner', 'RESELLER')", PARTNER
        )
        # The partner sold one subscription of each customer (and one with a namespace).
        await connection.execute(
            "UPDATE subscription SET partner_id = $1 WHERE id = ANY($2::uuid[])",
            PARTNER,
            [subs[0].id, subs[2].id, subs[5].id],
        )
        await connection.executemany(
            "INSERT INTO membership (customer, user_subject, role) VALUES ($1, $2, 'ADMIN')",
            [(a.id, "user:a"), (b.id, "user:b")],
        )
        # A trial on a self-managed subscription (no namespace).
        await connection.execute(
            "INSERT INTO trial (type, subscription, starts_on, ends_on)"
            " VALUES ('ULTIMATE', $1, $2, $3)",
            subs[1].id,
            f.TODAY,
            f.TODAY + timedelta(days=10),
        )
    portal = PrincipalKind.PORTAL_USER
    return World(
        {
            "staff": Principal(PrincipalKind.STAFF, "staff"),
            "member of A": Principal(portal, "user:a"),
            "member of B": Principal(portal, "user:b"),
            "member of A owning a group": Principal(portal, "user:a", email="owner@example.com"),
            "owner of a group only": Principal(portal, "user:none", email="owner@example.com"),
            "portal user without subject": Principal(portal, None),
            "partner": Principal(PrincipalKind.PARTNER, "p", partner_id=PARTNER),
            "instance": Principal(PrincipalKind.INSTANCE, "i", subscription_id=subs[4].id),
            "gitlab.com": Principal(PrincipalKind.GITLAB_COM, "gl"),
        }
    )


async def _counts(
    db: Database, principal: Principal, child: Resource, parent: Resource, link: Link
) -> tuple[int, int]:
    """(linked pairs whose parent is visible, those whose child is NOT visible)."""
    args = Args()
    parent_condition = tenant_condition(principal, parent, "p", args) or "TRUE"
    child_condition = tenant_condition(principal, child, "c", args) or "TRUE"
    sql = (
        # IS NOT TRUE: a condition that is NULL for a row (a NULL column) hides it too.
        f"SELECT count(*), count(*) FILTER (WHERE ({child_condition}) IS NOT TRUE)"
        f" FROM {TABLES[parent]} p JOIN {TABLES[child]} c"
        f" ON c.{link.child_column} = p.{link.parent_column} WHERE {parent_condition}"
    )
    async with db.pool.acquire() as connection:
        row = await connection.fetchrow(sql, *args.values)
    return row[0], row[1]


@pytest.mark.parametrize(
    ("child", "parent", "link"),
    [
        pytest.param(*entry, id=f"{entry[0].value} of {entry[1].value}")
        for entry in sorted(IMPLIED, key=lambda entry: (entry[0].value, entry[1].value))
    ],
)
async def test_a_child_below_a_visible_parent_is_visible(
    clean_db: Database, world: World, child: Resource, parent: Resource, link: Link
) -> None:
    shortcut_used = 0
    for name, principal in world.principals.items():
        if reach(principal, child) is not reach(principal, parent):
            # Not claimed: the child's own condition is applied.
            assert tenant_condition_below(
                principal, child, "c", Args(), parent, link
            ) == tenant_condition(principal, child, "c", Args()), name
            continue
        assert tenant_condition_below(principal, child, "c", Args(), parent, link) is None
        pairs, hidden = await _counts(clean_db, principal, child, parent, link)
        assert hidden == 0, f"{name}: {hidden} of {pairs} {child.value} rows would be shown"
        shortcut_used += pairs > 0
    # Not vacuous: several principals see linked pairs.
    assert shortcut_used >= 2


async def test_the_check_finds_a_false_implication(clean_db: Database, world: World) -> None:
    """A customer the partner sees has subscriptions the partner did not sell: claiming
    "subscriptions below a visible customer are visible" would show them."""
    below_customer = Link("customer", "id")
    assert (Resource.SUBSCRIPTIONS, Resource.CUSTOMERS, below_customer) not in IMPLIED
    partner = world.principals["partner"]
    pairs, hidden = await _counts(
        clean_db, partner, Resource.SUBSCRIPTIONS, Resource.CUSTOMERS, below_customer
    )
    assert pairs > hidden > 0
    # And it is applied in full.
    assert tenant_condition_below(
        partner, Resource.SUBSCRIPTIONS, "c", Args(), Resource.CUSTOMERS, below_customer
    ) == tenant_condition(partner, Resource.SUBSCRIPTIONS, "c", Args())


def test_an_unknown_link_keeps_the_condition() -> None:
    member = Principal(PrincipalKind.PORTAL_USER, "user:a")
    other_link = Link("id", "subscription")  # not how a license hangs off a subscription
    below = tenant_condition_below(
        member, Resource.LICENSES, "c", Args(), Resource.SUBSCRIPTIONS, other_link
    )
    assert below == tenant_condition(member, Resource.LICENSES, "c", Args())
