"""What every change to an existing subscription shares: find it within the caller's reach
(another tenant's is *not found*), check the caller may act on it, lock it, apply the change,
save, audit and keep the idempotent result - in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import Forbidden, NotFound
from domain.model.audit import AuditEntry
from domain.model.channel_policy import Actor, SubscriptionAction, actor_of, decide
from domain.model.enums import Deployment
from domain.model.idempotency import check_idempotency_key
from domain.model.subscription import Subscription
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.dedicated import request_change
from domain.use_cases.keyed import replay_or_run

Apply = Callable[[UnitOfWork, Subscription, datetime], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Changed:
    subscription: Subscription
    result: dict[str, Any]
    """What the change returned (only on the first answer; a replay returns the stored one)."""
    replayed: bool = False


async def actor_on(uow: UnitOfWork, principal: Principal, subscription: Subscription) -> Actor:
    """The channel policy's actor for ``principal`` on ``subscription``; ``NotFound`` when the
    subscription is outside its reach (another partner's, another customer's)."""
    role = None
    if principal.kind is PrincipalKind.PORTAL_USER and principal.subject:
        role = await uow.customers.role_of(subscription.customer_id, principal.subject)
    actor = actor_of(principal, partner_id=subscription.partner_id, role=role)
    if actor is None:
        raise NotFound("no such subscription", path=("subscriptionId",))
    return actor


async def may_act_on(uow: UnitOfWork, principal: Principal, subscription: Subscription) -> None:
    """``NotFound`` outside the caller's reach, ``Forbidden`` for a viewer inside it."""
    if await actor_on(uow, principal, subscription) is Actor.CUSTOMER_VIEWER:
        raise Forbidden("viewers read; owners and admins change subscriptions")


async def partner_name(uow: UnitOfWork, subscription: Subscription) -> str | None:
    if subscription.partner_id is None:
        return None
    partner = await uow.partners.get(subscription.partner_id)
    return partner.name if partner else subscription.partner_id


async def check_channel_policy(
    uow: UnitOfWork,
    principal: Principal,
    subscription: Subscription,
    actions: Sequence[SubscriptionAction],
) -> None:
    """``NotFound`` outside the caller's reach, then the channel policy's refusal of the first
    action it refuses (``Forbidden``, ``ManagedByPartner`` naming the partner)."""
    actor = await actor_on(uow, principal, subscription)
    name = await partner_name(uow, subscription) if actor is not Actor.STAFF else None
    for action in actions:
        decide(action, actor, subscription.channel, name).enforce()


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
    actions: Sequence[SubscriptionAction],
) -> Changed:
    """Run ``apply`` on the subscription in the frame every change shares (cancel, renew,
    change, rotate): scope, reach and the channel policy for ``actions``, row lock, save, audit
    and idempotent replay."""
    require_scope(principal, Resource.SUBSCRIPTIONS, Access.WRITE)
    key = check_idempotency_key(idempotency_key)
    async with unit_of_work() as uow:

        async def run() -> dict[str, Any]:
            subscription = await uow.subscriptions.lock(subscription_id)
            if subscription is None:
                raise NotFound("no such subscription", path=("subscriptionId",))
            await check_channel_policy(uow, principal, subscription, actions)
            before, now = summary(subscription), clock.now()
            result = await apply(uow, subscription, now)
            await uow.subscriptions.save(subscription)
            if subscription.deployment is Deployment.DEDICATED:
                # More seats than the tenant was sized for: a change to the provisioner; the
                # tenant's license follows (docs/dedicated.md).
                await request_change(
                    uow,
                    subscription,
                    now,
                    reason=operation,
                    deliver=operation == "changeSubscription",
                )
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
