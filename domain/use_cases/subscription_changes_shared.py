"""What every change to an existing subscription shares: find it within the caller's reach
(another tenant's is *not found*), check the caller may act on it, lock it, apply the change,
save, audit and keep the idempotent result - in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import Forbidden, NotFound
from domain.model.audit import AuditEntry
from domain.model.enums import Role
from domain.model.idempotency import check_idempotency_key
from domain.model.subscription import Subscription
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.keyed import replay_or_run

ACTING_ROLES = (Role.OWNER, Role.ADMIN)

Apply = Callable[[UnitOfWork, Subscription, datetime], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Changed:
    subscription: Subscription
    result: dict[str, Any]
    """What the change returned (only on the first answer; a replay returns the stored one)."""
    replayed: bool = False


async def may_act_on(uow: UnitOfWork, principal: Principal, subscription: Subscription) -> None:
    """``NotFound`` outside the caller's reach, ``Forbidden`` for a viewer inside it."""
    kind = principal.kind
    if kind is PrincipalKind.STAFF:
        return
    if kind is PrincipalKind.PARTNER:
        if principal.partner_id and subscription.partner_id == principal.partner_id:
            return
        raise NotFound("no such subscription", path=("subscriptionId",))
    if kind is PrincipalKind.PORTAL_USER and principal.subject:
        role = await uow.customers.role_of(subscription.customer_id, principal.subject)
        if role is None:
            raise NotFound("no such subscription", path=("subscriptionId",))
        if role not in ACTING_ROLES:
            raise Forbidden("viewers read; owners and admins change subscriptions")
        return
    raise NotFound("no such subscription", path=("subscriptionId",))


def summary(subscription: Subscription) -> dict[str, Any]:
    """The fields an audit entry compares before and after."""
    return {
        "plan": subscription.plan.value,
        "autoRenew": subscription.auto_renew,
        "cancelAtPeriodEnd": subscription.cancel_at_period_end,
        "cancelledAt": subscription.cancelled_at.isoformat() if subscription.cancelled_at else None,
        "segments": [
            [s.start_date.isoformat(), s.end_date.isoformat(), s.seats]
            for s in subscription.segments
        ],
        "maxInstances": subscription.max_instances,
    }


async def run_subscription_change(
    unit_of_work: Callable[[], UnitOfWork],
    clock: Clock,
    principal: Principal,
    *,
    subscription_id: uuid.UUID,
    operation: str,
    idempotency_key: str | None,
    request: dict[str, Any],
    apply: Apply,
) -> Changed:
    """Run ``apply`` on the subscription in the frame every change shares (cancel, renew,
    change, rotate): scope, reach and role checks, row lock, save, audit and idempotent replay."""
    require_scope(principal, Resource.SUBSCRIPTIONS, Access.WRITE)
    key = check_idempotency_key(idempotency_key)
    async with unit_of_work() as uow:

        async def run() -> dict[str, Any]:
            subscription = await uow.subscriptions.lock(subscription_id)
            if subscription is None:
                raise NotFound("no such subscription", path=("subscriptionId",))
            await may_act_on(uow, principal, subscription)
            before, now = summary(subscription), clock.now()
            result = await apply(uow, subscription, now)
            await uow.subscriptions.save(subscription)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    operation,
                    "Subscription",
                    subscription.id,
                    now,
                    before=before,
                    after=summary(subscription),
                    idempotency_key=key,
                )
            )
            return result

        stored, replayed = await replay_or_run(
            uow, principal, operation, key, request, run, clock=clock
        )
        subscription = await uow.subscriptions.get(subscription_id)
        await uow.commit()
    assert subscription is not None
    return Changed(subscription, stored, replayed)
