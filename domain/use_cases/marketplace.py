"""Applying a marketplace order (docs/marketplaces.md): the rules of ``decide``, carried out
through the usual create, change, renew and cancel use cases, so licenses, emails, webhooks,
the audit trail and the ledger follow as for any sale. Each call is keyed by the inbox row
(an idempotency key), so an attempt that ran but could not record its outcome replays the
first result instead of acting twice."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import DomainError, SubscriptionAlreadyCancelled, SubscriptionNotActive
from domain.model.channel_policy import SubscriptionAction
from domain.model.enums import Deployment
from domain.model.marketplace import (
    InboxState,
    MarketplaceEventRejected,
    MarketplaceLink,
    MarketplaceLinks,
    MarketplaceOrder,
    OfferMapping,
    Step,
    decide,
)
from domain.model.subscription import Subscription
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.cancel_subscription import CancelSubscription, CancelSubscriptionHandler
from domain.use_cases.change_subscription import ChangeSubscription, ChangeSubscriptionHandler
from domain.use_cases.create_subscription import (
    CreateSubscription,
    CreateSubscriptionHandler,
    NewCustomer,
    SegmentSpec,
)
from domain.use_cases.link_namespace import LinkNamespace, LinkNamespaceHandler
from domain.use_cases.renew_subscription import RenewSubscription, RenewSubscriptionHandler
from domain.use_cases.subscription_changes_shared import run_subscription_change

logger = logging.getLogger("provision.marketplace")


class NamespaceNotKnownYet(Exception):
    """The buyer's GitLab.com group has not been upserted by GitLab.com yet: retried."""


def intake_principal(order: MarketplaceOrder) -> Principal:
    """Who the audit trail names for a marketplace's change: ``marketplace:aws`` and so on."""
    return Principal(
        PrincipalKind.STAFF,
        subject=f"marketplace:{order.marketplace.value.lower()}",
        scopes=frozenset({"subscriptions:write", "namespaces:write"}),
    )


@dataclass(frozen=True)
class Applied:
    state: InboxState
    step: Step
    subscription_id: uuid.UUID | None = None


class ApplyMarketplaceOrder:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        links: MarketplaceLinks,
        *,
        create: CreateSubscriptionHandler,
        change: ChangeSubscriptionHandler,
        cancel: CancelSubscriptionHandler,
        renew: RenewSubscriptionHandler,
        link_namespace: LinkNamespaceHandler | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._links = links
        self._create = create
        self._change = change
        self._cancel = cancel
        self._renew = renew
        self._link_namespace = link_namespace

    async def __call__(self, inbox_id: uuid.UUID, order: MarketplaceOrder) -> Applied:
        async with self._links.session(
            order.marketplace,
            order.subscription_key,
            (order.offer, order.plan_key),
            inbox_id,
            order.account_key,
        ) as session:
            link = session.link
            if session.settled is not None:
                # Another attempt of this row (its lease ran out) applied it while this one
                # waited for the lock: what it did is committed with the outcome; nothing more.
                logger.info("marketplace event %s settled already", inbox_id)
                return Applied(session.settled, Step.IGNORE, link.subscription_id if link else None)
            step = decide(order, link)
            if step is Step.IGNORE_STALE:
                assert link is not None
                reason = (
                    f"older ({order.occurred_at.isoformat()}) than the last event applied"
                    f" ({link.last_event_at.isoformat()})"
                )
                logger.info("marketplace event %s ignored: %s", inbox_id, reason)
                await session.settle(inbox_id, InboxState.IGNORED_STALE, reason)
                return Applied(InboxState.IGNORED_STALE, step, link.subscription_id)
            key = f"marketplace:{inbox_id}"
            try:
                new_link = await self._carry_out(
                    step, order, link, key, session.mapping, session.account_customer
                )
            except DomainError as refused:
                raise MarketplaceEventRejected(
                    f"the order cannot be applied: {refused.message}"
                ) from refused
            if new_link is not None:
                await session.save(new_link)
            state = InboxState.IGNORED if step is Step.IGNORE else InboxState.APPLIED
            await session.settle(inbox_id, state, None)
            return Applied(state, step, new_link.subscription_id if new_link else None)

    async def _carry_out(
        self,
        step: Step,
        order: MarketplaceOrder,
        link: MarketplaceLink | None,
        key: str,
        mapping: OfferMapping | None,
        account_customer: uuid.UUID | None = None,
    ) -> MarketplaceLink | None:
        """``mapping``: the order's offer's, read with the link (None: not mapped);
        ``account_customer``: the customer the order's account bought for before."""
        principal = intake_principal(order)
        if step is Step.CREATE:
            created = await self._create_subscription(
                principal, order, key, mapping, account_customer
            )
            return MarketplaceLink(
                order.marketplace,
                order.subscription_key,
                order.occurred_at,
                subscription_id=created,
                account_key=order.account_key,
            )
        if step is Step.TOMBSTONE:
            return MarketplaceLink(
                order.marketplace,
                order.subscription_key,
                order.occurred_at,
                account_key=order.account_key,
            )
        if step is Step.IGNORE:
            if link is None:
                return None  # nothing to remember: no link, and no tombstone either
            return link.after(order) if order.occurred_at > link.last_event_at else link
        assert link is not None
        subscription_id = link.subscription_id
        assert subscription_id is not None
        if step is Step.CHANGE:
            await self._bring_to_terms(principal, order, subscription_id, key, mapping)
            return link.after(order)
        if step in (Step.CANCEL, Step.CANCEL_AT_PERIOD_END):
            try:
                await self._cancel(
                    principal,
                    CancelSubscription(
                        subscription_id,
                        at_period_end=step is Step.CANCEL_AT_PERIOD_END,
                        reason=f"cancelled on {order.marketplace.value}",
                        idempotency_key=key,
                    ),
                )
            except (SubscriptionAlreadyCancelled, SubscriptionNotActive):
                logger.info("marketplace cancel of %s: already cancelled", subscription_id)
            return link.after(order)
        if step in (Step.SUSPEND, Step.REINSTATE):
            suspend = step is Step.SUSPEND
            subscription = await self._subscription(subscription_id)
            if not subscription.cancel_at_period_end and subscription.cancelled_at is None:
                await self._change(
                    principal,
                    ChangeSubscription(
                        subscription_id, auto_renew=not suspend, idempotency_key=key
                    ),
                )
            return link.after(order, suspended=suspend)
        assert step is Step.RENEW
        await self._renew_subscription(principal, order, subscription_id, key, mapping)
        return link.after(order, suspended=False)

    @staticmethod
    def _mapping(order: MarketplaceOrder, mapping: OfferMapping | None) -> OfferMapping:
        if mapping is None:
            raise MarketplaceEventRejected(
                f"unknown offer: no mapping for {order.marketplace.value} offer"
                f" {order.offer!r} plan {order.plan_key!r} (add it with setMarketplaceOffer,"
                " then retry this row)"
            )
        return mapping

    async def _subscription(self, subscription_id: uuid.UUID) -> Subscription:
        async with self._unit_of_work() as uow:
            subscription = await uow.subscriptions.get(subscription_id)
        if subscription is None:
            raise MarketplaceEventRejected(f"subscription {subscription_id} no longer exists")
        return subscription

    async def _create_subscription(
        self,
        principal: Principal,
        order: MarketplaceOrder,
        key: str,
        found: OfferMapping | None,
        account_customer: uuid.UUID | None,
    ) -> uuid.UUID:
        mapping = self._mapping(order, found)
        seats = mapping.seats_for(order.quantity)
        customer_id = account_customer if order.account_key else None
        buyer = order.buyer
        if customer_id is None and buyer is None:
            raise MarketplaceEventRejected("a purchase for a new account names no buyer")
        start, end = mapping.term(self._clock.today())
        created = await self._create(
            principal,
            CreateSubscription(
                deployment=mapping.deployment,
                plan=mapping.plan,
                segments=(SegmentSpec(start, end, seats),),
                customer_id=customer_id,
                new_customer=None
                if customer_id is not None or buyer is None
                else NewCustomer(buyer.company, buyer.contact_name, buyer.contact_email),
                channel=order.marketplace.channel,
                partner_id=order.marketplace.partner_id,
                idempotency_key=key,
            ),
        )
        if order.namespace_gitlab_id is not None and mapping.deployment is Deployment.GITLAB_COM:
            await self._link(principal, created.subscription.id, order.namespace_gitlab_id)
        logger.info(
            "marketplace %s subscription %s created %s",
            order.marketplace.value,
            order.subscription_key,
            created.subscription.name,
        )
        return created.subscription.id

    async def _link(self, principal: Principal, subscription_id: uuid.UUID, gitlab_id: int) -> None:
        """Link the group the buyer chose: its plan is provisioned on GitLab.com through the
        ledger, as a portal link would. A group GitLab.com has not told us of yet is retried
        (the create replays under its key)."""
        if self._link_namespace is None:
            raise MarketplaceEventRejected("this worker cannot link GitLab.com groups")
        async with self._unit_of_work() as uow:
            namespace = await uow.namespaces.get_by_gitlab_id(gitlab_id)
        if namespace is None:
            raise NamespaceNotKnownYet(f"GitLab.com group {gitlab_id} is not known here yet")
        if namespace.id == (await self._subscription(subscription_id)).namespace_id:
            return  # linked by an earlier attempt
        await self._link_namespace.link(principal, LinkNamespace(subscription_id, namespace.id))

    async def _bring_to_terms(
        self,
        principal: Principal,
        order: MarketplaceOrder,
        subscription_id: uuid.UUID,
        key: str,
        found: OfferMapping | None,
    ) -> None:
        mapping = self._mapping(order, found)
        subscription = await self._subscription(subscription_id)
        today = self._clock.today()
        # A plan change that says no quantity (Azure's ChangePlan may not) keeps the seats.
        seats = (
            subscription.seats(today)
            if mapping.seats is None and order.quantity is None
            else mapping.seats_for(order.quantity)
        )
        if subscription.plan is not mapping.plan:
            await self._change_plan(principal, subscription_id, mapping, f"{key}:plan")
        if subscription.seats(today) != seats:
            await self._change(
                principal,
                ChangeSubscription(subscription_id, seats=seats, idempotency_key=f"{key}:seats"),
            )

    async def _change_plan(
        self, principal: Principal, subscription_id: uuid.UUID, mapping: OfferMapping, key: str
    ) -> None:
        """The plan changes in the frame every change shares (lock, audit, idempotency)."""

        async def apply(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            if sub.cancelled_at is not None:
                raise SubscriptionNotActive("the subscription is cancelled; it cannot change")
            sub.plan = mapping.plan
            return {}

        await run_subscription_change(
            self._unit_of_work,
            self._clock,
            principal,
            subscription_id=subscription_id,
            operation="marketplaceChangePlan",
            idempotency_key=key,
            request={"id": str(subscription_id), "plan": mapping.plan.value},
            apply=apply,
            actions=(SubscriptionAction.CHANGE_PLAN,),
        )

    async def _renew_subscription(
        self,
        principal: Principal,
        order: MarketplaceOrder,
        subscription_id: uuid.UUID,
        key: str,
        found: OfferMapping | None,
    ) -> None:
        subscription = await self._subscription(subscription_id)
        mapping = self._mapping(order, found)
        if subscription.end_date > self._clock.today() and subscription.future_terms(
            self._clock.today()
        ):
            return  # renewed already
        start, end = mapping.term(subscription.end_date)
        seats = mapping.seats_for(order.quantity) if order.quantity else None
        await self._renew(
            principal,
            RenewSubscription(
                subscription_id,
                (SegmentSpec(start, end, seats or subscription.segments[-1].seats),),
                idempotency_key=key,
            ),
        )


Apply = Callable[[uuid.UUID, MarketplaceOrder], Awaitable[Applied]]
