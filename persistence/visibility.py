"""Tenant filters: ``domain.policy.reach`` as SQL conditions, so that rows beyond a principal's
reach are never fetched (not filtered after fetching).

Each builder returns a condition on the row alias it is given, adding its arguments to the
statement's ``Where``. Subqueries use their own aliases (``vm``, ``vs``, ``vn``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.policy import Reach, Resource, reach
from domain.principal import Principal


class Arguments(Protocol):
    def arg(self, value: object) -> str: ...


def _member_customers(principal: Principal, args: Arguments) -> str:
    # Memberships are read at query time, so a removed member loses access at once.
    subject = args.arg(principal.subject)
    return f"(SELECT vm.customer FROM membership vm WHERE vm.user_subject = {subject})"


def subscriptions(alias: str, level: Reach, principal: Principal, args: Arguments) -> str:
    if level is Reach.OWN_CUSTOMERS:
        return f"{alias}.customer IN {_member_customers(principal, args)}"
    if level is Reach.OWN_CHANNEL:
        return f"{alias}.partner_id = {args.arg(principal.partner_id)}"
    if level is Reach.OWN_SUBSCRIPTION:
        return f"{alias}.id = {args.arg(principal.subscription_id)}"
    return "FALSE"


def customers(alias: str, level: Reach, principal: Principal, args: Arguments) -> str:
    if level is Reach.OWN_CUSTOMERS:
        return f"{alias}.id IN {_member_customers(principal, args)}"
    if level is Reach.OWN_CHANNEL:
        return (
            f"EXISTS (SELECT 1 FROM subscription vs WHERE vs.customer = {alias}.id"
            f" AND vs.partner_id = {args.arg(principal.partner_id)})"
        )
    if level is Reach.OWN_SUBSCRIPTION:
        own = args.arg(principal.subscription_id)
        return f"{alias}.id = (SELECT vs.customer FROM subscription vs WHERE vs.id = {own})"
    return "FALSE"


def of_subscription(alias: str, level: Reach, principal: Principal, args: Arguments) -> str:
    """Rows that hang off a subscription (licenses, instances, usage reports)."""
    if level is Reach.OWN_SUBSCRIPTION:
        return f"{alias}.subscription = {args.arg(principal.subscription_id)}"
    if level in (Reach.OWN_CUSTOMERS, Reach.OWN_CHANNEL):
        return (
            f"EXISTS (SELECT 1 FROM subscription vs WHERE vs.id = {alias}.subscription"
            f" AND {subscriptions('vs', level, principal, args)})"
        )
    return "FALSE"


def namespaces(alias: str, level: Reach, principal: Principal, args: Arguments) -> str:
    """Groups linked to a visible subscription; for portal users also the groups they own."""
    if level not in (Reach.OWN_CUSTOMERS, Reach.OWN_CHANNEL):
        return "FALSE"
    linked = (
        f"EXISTS (SELECT 1 FROM subscription vs WHERE vs.namespace = {alias}.id"
        f" AND {subscriptions('vs', level, principal, args)})"
    )
    if level is Reach.OWN_CUSTOMERS and principal.email:
        owned = (
            f"EXISTS (SELECT 1 FROM unnest({alias}.owner_emails) AS vo(email)"
            f" WHERE lower(vo.email) = lower({args.arg(principal.email)}))"
        )
        return f"({linked} OR {owned})"
    return linked


def trials(alias: str, level: Reach, principal: Principal, args: Arguments) -> str:
    """Trials on a visible namespace, or self-managed trial subscriptions that are visible."""
    if level not in (Reach.OWN_CUSTOMERS, Reach.OWN_CHANNEL):
        return "FALSE"
    return (
        f"({alias}.namespace IN (SELECT vn.id FROM namespace vn"
        f" WHERE {namespaces('vn', level, principal, args)})"
        f" OR {alias}.subscription IN (SELECT vs.id FROM subscription vs"
        f" WHERE {subscriptions('vs', level, principal, args)}))"
    )


def staff_only(alias: str, level: Reach, principal: Principal, args: Arguments) -> str:
    """The ledger and the audit trail: staff (who reach everything) or nobody. No tenant
    sees even its own rows there: payloads and diffs are operator data."""
    return "FALSE"


Condition = Callable[[str, Reach, Principal, Arguments], str]

CONDITIONS: dict[Resource, Condition] = {
    Resource.CUSTOMERS: customers,
    Resource.SUBSCRIPTIONS: subscriptions,
    Resource.NAMESPACES: namespaces,
    Resource.TRIALS: trials,
    Resource.LICENSES: of_subscription,
    Resource.INSTANCES: of_subscription,
    Resource.USAGE: of_subscription,
    Resource.PROVISION_EVENTS: staff_only,
    Resource.AUDIT: staff_only,
}


def tenant_condition(
    principal: Principal, resource: Resource, alias: str, args: Arguments
) -> str | None:
    """The condition that cuts ``resource`` to the principal's reach; None when it sees all."""
    level = reach(principal, resource)
    if level is Reach.EVERYTHING:
        return None
    if level is Reach.NOTHING:
        return "FALSE"
    return CONDITIONS[resource](alias, level, principal, args)


# --- conditions a parent row already carries -------------------------------------------------


@dataclass(frozen=True)
class Link:
    """How a child row hangs off its parent: ``child.<child_column> = parent.<parent_column>``."""

    child_column: str
    parent_column: str


BELOW_SUBSCRIPTION = Link("subscription", "id")
"""Licenses, instances and usage reports of a subscription."""
OF_SUBSCRIPTION_CUSTOMER = Link("id", "customer")
OF_SUBSCRIPTION_NAMESPACE = Link("id", "namespace")
BELOW_NAMESPACE = Link("namespace", "id")
"""The trials of a namespace."""

IMPLIED: frozenset[tuple[Resource, Resource, Link]] = frozenset(
    {
        # A row of the first resource linked so to a row of the second one the principal
        # sees, at the same reach for both, is visible: of_subscription is the subscription's
        # condition on the row's subscription; a customer or a namespace is visible when a
        # visible subscription links it (``customers``, ``namespaces``' ``linked``); a trial
        # when its namespace is (``trials``). tests/integration/test_visibility_implied.py
        # holds every entry to the conditions above on a world of every reach.
        (Resource.LICENSES, Resource.SUBSCRIPTIONS, BELOW_SUBSCRIPTION),
        (Resource.INSTANCES, Resource.SUBSCRIPTIONS, BELOW_SUBSCRIPTION),
        (Resource.USAGE, Resource.SUBSCRIPTIONS, BELOW_SUBSCRIPTION),
        (Resource.CUSTOMERS, Resource.SUBSCRIPTIONS, OF_SUBSCRIPTION_CUSTOMER),
        (Resource.NAMESPACES, Resource.SUBSCRIPTIONS, OF_SUBSCRIPTION_NAMESPACE),
        (Resource.TRIALS, Resource.NAMESPACES, BELOW_NAMESPACE),
    }
)


def tenant_condition_below(
    principal: Principal,
    resource: Resource,
    alias: str,
    args: Arguments,
    parent: Resource | None,
    link: Link | None,
) -> str | None:
    """``tenant_condition`` for a row reached through ``link`` from a parent row of ``parent``
    that was itself cut by ITS tenant condition: None (nothing to add) when the parent's
    condition implies this one (``IMPLIED``, same reach), else the row's own condition.

    A statement that nests children under their parents (api/graphql/fast_read.py) then
    tests a principal's reach once per parent row, not once per child row."""
    if (
        parent is not None
        and link is not None
        and (resource, parent, link) in IMPLIED
        and reach(principal, resource) is reach(principal, parent)
    ):
        return None
    return tenant_condition(principal, resource, alias, args)
