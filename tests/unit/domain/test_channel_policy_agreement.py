"""One source of truth: for every action with a use case x every kind of actor x every
channel, what ``viewerPermissions`` says (``decisions_for``) is what the use case does - it
goes through when allowed, and refuses with the same code when not. On in-memory ports."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from domain.errors import DomainError
from domain.model.channel_policy import SubscriptionAction, actor_of, decisions_for
from domain.model.customer import Membership
from domain.model.enums import Channel, Deployment, NamespaceKind, NamespacePlan, Role
from domain.model.namespace import Namespace
from domain.model.partner import Partner, PartnerKind
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.cancel_subscription import CancelSubscription, CancelSubscriptionHandler
from domain.use_cases.change_subscription import ChangeSubscription, ChangeSubscriptionHandler
from domain.use_cases.create_subscription import SegmentSpec
from domain.use_cases.link_namespace import LinkNamespace, LinkNamespaceHandler
from domain.use_cases.renew_subscription import RenewSubscription, RenewSubscriptionHandler
from domain.use_cases.rotate_activation_code import (
    RotateActivationCode,
    RotateActivationCodeHandler,
)
from domain.use_cases.transfer_subscription import (
    TransferSubscription,
    TransferSubscriptionHandler,
)

from builders import CUSTOMER_ID, RAMP_END, YEAR_2, subscription
from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

A = SubscriptionAction
CLOCK = FixedClock.on(YEAR_2)
EMAIL = "owner@acme.test"
PRINCIPALS = {
    "staff": Principal(PrincipalKind.STAFF, "ops", grantable(PrincipalKind.STAFF)),
    "selling partner": Principal(
        PrincipalKind.PARTNER, "cl_a", grantable(PrincipalKind.PARTNER), partner_id="partner-a"
    ),
    "other partner": Principal(
        PrincipalKind.PARTNER, "cl_b", grantable(PrincipalKind.PARTNER), partner_id="partner-b"
    ),
    "owner": Principal(
        PrincipalKind.PORTAL_USER, "usr_owner", grantable(PrincipalKind.PORTAL_USER), email=EMAIL
    ),
    "admin": Principal(
        PrincipalKind.PORTAL_USER, "usr_admin", grantable(PrincipalKind.PORTAL_USER), email=EMAIL
    ),
    "viewer": Principal(
        PrincipalKind.PORTAL_USER, "usr_viewer", grantable(PrincipalKind.PORTAL_USER), email=EMAIL
    ),
    "instance": Principal(PrincipalKind.INSTANCE, "inst", grantable(PrincipalKind.INSTANCE)),
}
ROLES = {"usr_owner": Role.OWNER, "usr_admin": Role.ADMIN, "usr_viewer": Role.VIEWER}
WITH_A_USE_CASE = [action for action in A if action is not A.CHANGE_PLAN]


def _store(channel: Channel, deployment: Deployment) -> tuple[Store, Any, Namespace]:
    store = Store()
    partner = "partner-a" if channel.needs_partner else None
    sub = subscription(channel=channel, partner_id=partner, deployment=deployment)
    group = Namespace(
        gitlab_id=100,
        path="acme",
        name="Acme",
        kind=NamespaceKind.GROUP,
        created_at=CLOCK.now(),
        base_plan=NamespacePlan.FREE,
        owner_emails=(EMAIL,),
    )
    store.subscriptions[sub.id] = sub
    store.namespaces[group.id] = group
    store.memberships += [Membership(CUSTOMER_ID, s, r) for s, r in ROLES.items()]
    for pid, name in (("partner-a", "Northwind Resellers"), ("partner-z", "Zenith")):
        store.partners[pid] = Partner(pid, name, PartnerKind.RESELLER, CLOCK.now())
    return store, sub, group


def _attempt(
    action: SubscriptionAction, store: Store, sub: Any, group: Namespace
) -> Callable[[Principal], Awaitable[object]]:
    def uow() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(store)

    if action is A.ADD_SEATS:
        return lambda p: ChangeSubscriptionHandler(uow, CLOCK)(p, ChangeSubscription(sub.id, 7))
    if action is A.TOGGLE_AUTO_RENEW:
        return lambda p: ChangeSubscriptionHandler(uow, CLOCK)(
            p, ChangeSubscription(sub.id, auto_renew=False)
        )
    if action is A.RENEW:
        renewal = (SegmentSpec(RAMP_END, RAMP_END.replace(year=RAMP_END.year + 1), 5),)
        return lambda p: RenewSubscriptionHandler(uow, CLOCK)(p, RenewSubscription(sub.id, renewal))
    if action is A.CANCEL:
        return lambda p: CancelSubscriptionHandler(uow, CLOCK)(p, CancelSubscription(sub.id))
    if action is A.ROTATE_ACTIVATION_CODE:
        return lambda p: RotateActivationCodeHandler(uow, CLOCK)(p, RotateActivationCode(sub.id))
    if action is A.LINK_NAMESPACE:
        return lambda p: LinkNamespaceHandler(uow, CLOCK).link(p, LinkNamespace(sub.id, group.id))
    assert action is A.TRANSFER
    to = (Channel.SALES, None) if sub.channel.needs_partner else (Channel.RESELLER, "partner-z")
    return lambda p: TransferSubscriptionHandler(uow, CLOCK)(
        p, TransferSubscription(sub.id, to[0], "moving", to[1])
    )


@pytest.mark.parametrize(
    ("action", "who", "channel"),
    list(itertools.product(WITH_A_USE_CASE, PRINCIPALS, Channel)),
    ids=lambda v: getattr(v, "value", v),
)
async def test_the_field_says_what_the_use_case_does(
    action: SubscriptionAction, who: str, channel: Channel
) -> None:
    deployment = Deployment.GITLAB_COM if action is A.LINK_NAMESPACE else Deployment.SELF_MANAGED
    store, sub, group = _store(channel, deployment)
    principal = PRINCIPALS[who]
    role = (
        ROLES.get(principal.subject or "") if principal.kind is PrincipalKind.PORTAL_USER else None
    )
    actor = actor_of(principal, partner_id=sub.partner_id, role=role)
    name = store.partners[sub.partner_id].name if sub.partner_id else None
    said = {d.action: d for d in decisions_for(principal, actor, channel, name)}[action]
    refused: DomainError | None = None
    try:
        await _attempt(action, store, sub, group)(principal)
    except DomainError as error:
        refused = error
    if said.allowed:
        assert refused is None, (said, refused)
    else:
        assert refused is not None, said
        assert refused.code == said.code
        assert refused.message == said.reason or said.code == "NOT_FOUND"
