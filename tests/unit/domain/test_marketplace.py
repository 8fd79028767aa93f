"""The rules that apply marketplace orders (domain/model/marketplace.py ``decide``) and the
intake use case on in-memory fakes: a purchase creates the customer and subscription with the
marketplace's channel and the offer's terms, once; updates change seats and plan; an older
event never undoes a newer one; a cancel before the purchase leaves a tombstone; suspend,
reinstate and renew; an unknown offer is rejected for good."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.model.enums import Channel, Deployment, Plan
from domain.model.marketplace import (
    Buyer,
    InboxState,
    LinkSession,
    Marketplace,
    MarketplaceEventRejected,
    MarketplaceLink,
    MarketplaceOrder,
    OfferMapping,
    OrderAction,
    Step,
    decide,
)
from domain.use_cases.cancel_subscription import CancelSubscriptionHandler
from domain.use_cases.change_subscription import ChangeSubscriptionHandler
from domain.use_cases.create_subscription import CreateSubscriptionHandler
from domain.use_cases.marketplace import ApplyMarketplaceOrder
from domain.use_cases.renew_subscription import RenewSubscriptionHandler

from fakes import FixedClock
from memory import MemoryUnitOfWork, Store

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLOCK = FixedClock(T0)
BUYER = Buyer("Initech", "Peter", "peter@initech.test")


def order(
    action: OrderAction = OrderAction.PURCHASE,
    at: datetime = T0,
    *,
    quantity: int | None = 10,
    plan_key: str = "users",
    key: str = "acct:lic",
    buyer: Buyer | None = BUYER,
    marketplace: Marketplace = Marketplace.AWS,
) -> MarketplaceOrder:
    return MarketplaceOrder(
        marketplace=marketplace,
        subscription_key=key,
        action=action,
        occurred_at=at,
        offer="prod",
        plan_key=plan_key,
        quantity=quantity,
        account_key="acct",
        buyer=buyer,
    )


def link(at: datetime = T0, subscription: uuid.UUID | None = None) -> MarketplaceLink:
    return MarketplaceLink(Marketplace.AWS, "acct:lic", at, subscription or uuid.uuid4())


@pytest.mark.parametrize(
    ("action", "current", "step"),
    [
        (OrderAction.PURCHASE, None, Step.CREATE),
        (OrderAction.PURCHASE, "linked", Step.CHANGE),
        (OrderAction.UPDATE, "linked", Step.CHANGE),
        (OrderAction.CANCEL, "linked", Step.CANCEL),
        (OrderAction.CANCEL, None, Step.TOMBSTONE),
        (OrderAction.PURCHASE, "tombstone", Step.IGNORE),
        (OrderAction.NOTHING, "linked", Step.IGNORE),
        (OrderAction.SUSPEND, "linked", Step.SUSPEND),
        (OrderAction.REINSTATE, "linked", Step.REINSTATE),
        (OrderAction.RENEW, "linked", Step.RENEW),
        (OrderAction.CANCEL_AT_PERIOD_END, "linked", Step.CANCEL_AT_PERIOD_END),
    ],
)
def test_what_an_order_does(action: OrderAction, current: str | None, step: Step) -> None:
    existing = {
        None: None,
        "linked": link(T0 - timedelta(hours=1)),
        "tombstone": MarketplaceLink(Marketplace.AWS, "acct:lic", T0 - timedelta(hours=1)),
    }[current]
    assert decide(order(action), existing) is step


def test_an_older_event_is_stale_and_the_same_time_is_not() -> None:
    assert decide(order(OrderAction.UPDATE, T0 - timedelta(seconds=1)), link()) is Step.IGNORE_STALE
    assert decide(order(OrderAction.UPDATE, T0), link()) is Step.CHANGE
    assert decide(order(OrderAction.CANCEL, T0 - timedelta(days=1)), link()) is Step.IGNORE_STALE


def test_an_update_before_the_purchase_without_a_buyer_waits_for_the_purchase() -> None:
    assert decide(order(OrderAction.UPDATE, buyer=None), None) is Step.IGNORE
    assert decide(order(OrderAction.UPDATE), None) is Step.CREATE  # Stripe's carry the buyer


@pytest.mark.parametrize("action", [OrderAction.SUSPEND, OrderAction.RENEW])
def test_lifecycle_actions_need_a_subscription(action: OrderAction) -> None:
    with pytest.raises(MarketplaceEventRejected, match="no subscription here"):
        decide(order(action), None)


def test_a_rejection_is_final_for_the_ledger() -> None:
    assert MarketplaceEventRejected("x").final is True


def test_seats_come_from_the_mapping_or_the_quantity() -> None:
    fixed = OfferMapping(Marketplace.AWS, "p", "d", Plan.PREMIUM, Deployment.SELF_MANAGED, seats=5)
    assert fixed.seats_for(None) == 5
    per_unit = OfferMapping(Marketplace.AWS, "p", "d", Plan.PREMIUM, Deployment.SELF_MANAGED)
    assert per_unit.seats_for(12) == 12
    with pytest.raises(MarketplaceEventRejected, match="has none"):
        per_unit.seats_for(None)
    assert per_unit.term(date(2026, 1, 31)) == (date(2026, 1, 31), date(2027, 1, 31))


@dataclass
class MemoryLinks:
    """``MarketplaceLinks`` in memory: a session commits on a clean exit only."""

    offers: dict[tuple[Marketplace, str, str], OfferMapping] = field(default_factory=dict)
    links: dict[tuple[Marketplace, str], MarketplaceLink] = field(default_factory=dict)
    settled: dict[uuid.UUID, tuple[InboxState, str | None]] = field(default_factory=dict)
    customers: dict[tuple[Marketplace, str], uuid.UUID] = field(default_factory=dict)

    @asynccontextmanager
    async def session(
        self,
        marketplace: Marketplace,
        key: str,
        offer: tuple[str, str] | None = None,
        inbox_id: uuid.UUID | None = None,
        account_key: str | None = None,
    ) -> AsyncIterator[LinkSession]:
        outer = self
        done = self.settled.get(inbox_id) if inbox_id else None
        bought = await self.customer_of(marketplace, account_key) if account_key else None

        class Session:
            link = outer.links.get((marketplace, key))
            mapping = outer.offers.get((marketplace, *offer)) if offer else None
            settled = done[0] if done else None
            account_customer = bought
            saved: list[MarketplaceLink] = []
            outcomes: dict[uuid.UUID, tuple[InboxState, str | None]] = {}

            async def save(self, new: MarketplaceLink) -> None:
                self.saved.append(new)

            async def settle(
                self, inbox_id: uuid.UUID, state: InboxState, reason: str | None
            ) -> None:
                self.outcomes[inbox_id] = (state, reason)

        session = Session()
        yield session
        for saved in session.saved:
            self.links[(saved.marketplace, saved.subscription_key)] = saved
        self.settled.update(session.outcomes)

    async def customer_of(self, marketplace: Marketplace, account_key: str) -> uuid.UUID | None:
        return self.customers.get((marketplace, account_key))

    async def offer(
        self, marketplace: Marketplace, offer: str, plan_key: str
    ) -> OfferMapping | None:
        return self.offers.get((marketplace, offer, plan_key))


@pytest.fixture
def world() -> tuple[Store, MemoryLinks, ApplyMarketplaceOrder]:
    store, links = Store(), MemoryLinks()
    for plan_key, plan in (("users", Plan.PREMIUM), ("ultimate", Plan.ULTIMATE)):
        links.offers[(Marketplace.AWS, "prod", plan_key)] = OfferMapping(
            Marketplace.AWS, "prod", plan_key, plan, Deployment.SELF_MANAGED
        )

    def uow() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(store)

    apply = ApplyMarketplaceOrder(
        uow,
        CLOCK,
        links,
        create=CreateSubscriptionHandler(uow, CLOCK),
        change=ChangeSubscriptionHandler(uow, CLOCK),
        cancel=CancelSubscriptionHandler(uow, CLOCK),
        renew=RenewSubscriptionHandler(uow, CLOCK),
    )
    return store, links, apply


async def test_a_purchase_creates_customer_and_subscription_once(
    world: tuple[Store, MemoryLinks, ApplyMarketplaceOrder],
) -> None:
    store, links, apply = world
    inbox_id = uuid.uuid4()
    applied = await apply(inbox_id, order())
    assert (applied.state, applied.step) == (InboxState.APPLIED, Step.CREATE)
    [sub] = store.subscriptions.values()
    assert (sub.channel, sub.partner_id, sub.plan, sub.seats(CLOCK.today())) == (
        Channel.MARKETPLACE,
        "aws-marketplace",
        Plan.PREMIUM,
        10,
    )
    assert (sub.start_date, sub.end_date) == (date(2026, 3, 1), date(2027, 3, 1))
    [customer] = store.customers.values()
    assert customer.contact_email == "peter@initech.test"
    assert links.links[(Marketplace.AWS, "acct:lic")].subscription_id == sub.id
    assert links.settled[inbox_id] == (InboxState.APPLIED, None)
    assert [e.kind for e in store.events] == ["EMAIL"]  # the activation code
    assert (store.audit[-1].actor_subject, store.audit[-1].action) == (
        "marketplace:aws",
        "createSubscription",
    )

    # The same inbox row run again (a second attempt, whose lease ran out, waited for the
    # lock): the row is settled under the lock, so nothing more is done, nothing twice.
    audited = len(store.audit)
    again = await apply(inbox_id, order())
    assert (again.state, again.step, again.subscription_id) == (
        InboxState.APPLIED,
        Step.IGNORE,
        sub.id,
    )
    assert len(store.subscriptions) == 1
    assert len(store.customers) == 1
    assert len(store.audit) == audited


async def test_updates_change_seats_and_plan_and_older_ones_are_ignored(
    world: tuple[Store, MemoryLinks, ApplyMarketplaceOrder],
) -> None:
    store, links, apply = world
    await apply(uuid.uuid4(), order())
    later = T0 + timedelta(minutes=5)
    await apply(uuid.uuid4(), order(OrderAction.UPDATE, later, quantity=25, plan_key="ultimate"))
    [sub] = store.subscriptions.values()
    assert (sub.plan, sub.seats(CLOCK.today())) == (Plan.ULTIMATE, 25)
    stale_id = uuid.uuid4()
    stale = await apply(stale_id, order(OrderAction.UPDATE, T0 + timedelta(minutes=1), quantity=3))
    assert stale.state is InboxState.IGNORED_STALE
    assert links.settled[stale_id][0] is InboxState.IGNORED_STALE
    assert "older" in (links.settled[stale_id][1] or "")
    [sub] = store.subscriptions.values()
    assert (sub.plan, sub.seats(CLOCK.today())) == (Plan.ULTIMATE, 25)


async def test_a_cancel_before_the_purchase_means_the_purchase_creates_nothing(
    world: tuple[Store, MemoryLinks, ApplyMarketplaceOrder],
) -> None:
    store, _, apply = world
    cancelled = await apply(uuid.uuid4(), order(OrderAction.CANCEL, T0 + timedelta(minutes=1)))
    assert cancelled.step is Step.TOMBSTONE
    late = await apply(uuid.uuid4(), order(OrderAction.PURCHASE, T0))
    assert late.state is InboxState.IGNORED_STALE
    newer = await apply(uuid.uuid4(), order(OrderAction.UPDATE, T0 + timedelta(minutes=2)))
    assert newer.state is InboxState.IGNORED
    assert store.subscriptions == {}


async def test_cancel_suspend_reinstate_and_renew(
    world: tuple[Store, MemoryLinks, ApplyMarketplaceOrder],
) -> None:
    store, links, apply = world
    await apply(uuid.uuid4(), order())
    [sub_id] = store.subscriptions

    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    await apply(uuid.uuid4(), order(OrderAction.SUSPEND, at(1)))
    assert store.subscriptions[sub_id].auto_renew is False
    assert links.links[(Marketplace.AWS, "acct:lic")].suspended is True
    await apply(uuid.uuid4(), order(OrderAction.REINSTATE, at(2)))
    assert store.subscriptions[sub_id].auto_renew is True
    await apply(uuid.uuid4(), order(OrderAction.RENEW, at(3), quantity=None))
    renewed = store.subscriptions[sub_id]
    assert [(t.start_date, t.end_date) for t in renewed.terms] == [
        (date(2026, 3, 1), date(2027, 3, 1)),
        (date(2027, 3, 1), date(2028, 3, 1)),
    ]
    assert renewed.terms[-1].segments[0].seats == 10
    await apply(uuid.uuid4(), order(OrderAction.CANCEL, at(4)))
    assert store.subscriptions[sub_id].cancelled_at == T0
    # Cancelled again (a re-sent unsubscribe with a new id): nothing more, no error.
    again = await apply(uuid.uuid4(), order(OrderAction.CANCEL, at(5)))
    assert again.state is InboxState.APPLIED


async def test_an_unknown_offer_or_a_purchase_without_a_buyer_is_rejected(
    world: tuple[Store, MemoryLinks, ApplyMarketplaceOrder],
) -> None:
    store, links, apply = world
    inbox_id = uuid.uuid4()
    with pytest.raises(MarketplaceEventRejected, match=r"unknown offer.*'admins'"):
        await apply(inbox_id, order(plan_key="admins"))
    with pytest.raises(MarketplaceEventRejected, match="names no buyer"):
        await apply(uuid.uuid4(), order(buyer=None))
    assert store.subscriptions == {}
    assert links.links == {}
    assert inbox_id not in links.settled


async def test_stripe_sells_web_direct_without_a_partner(
    world: tuple[Store, MemoryLinks, ApplyMarketplaceOrder],
) -> None:
    store, links, apply = world
    links.offers[(Marketplace.STRIPE, "prod", "users")] = OfferMapping(
        Marketplace.STRIPE, "prod", "users", Plan.PREMIUM, Deployment.GITLAB_COM, seats=3
    )
    await apply(uuid.uuid4(), order(marketplace=Marketplace.STRIPE, quantity=None))
    [sub] = store.subscriptions.values()
    assert (sub.channel, sub.partner_id, sub.deployment) == (
        Channel.WEB_DIRECT,
        None,
        Deployment.GITLAB_COM,
    )
    assert sub.seats(CLOCK.today()) == 3
    assert store.events == []  # no activation code for GitLab.com
