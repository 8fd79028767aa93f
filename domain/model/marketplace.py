"""Marketplace intake (docs/marketplaces.md): orders that arrive by themselves from AWS
Marketplace, Azure SaaS fulfillment or a Stripe-style billing system, normalised into one
``MarketplaceOrder``; the staff's offer mapping that says what an offer sells; the link from a
marketplace's subscription to ours; and the rules that decide what an order does (``decide``).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from domain.errors import ValidationFailed
from domain.model.calendar import add_months
from domain.model.enums import Channel, Deployment, Plan
from domain.model.ids import new_id

MARKETPLACE_EVENT_KIND = "MARKETPLACE_EVENT"
"""The ledger row that applies one stored inbound event (its payload names the inbox row)."""

MAX_KEY_LENGTH = 200
MAX_TERM_MONTHS = 60
MAX_SEATS = 1_000_000


class Marketplace(StrEnum):
    """Where orders come from. Each has its channel and, for a marketplace, the partner id its
    subscriptions carry (Stripe-style billing is our own web store: WEB_DIRECT, no partner)."""

    AWS = "AWS"
    AZURE = "AZURE"
    STRIPE = "STRIPE"

    @property
    def channel(self) -> Channel:
        return Channel.WEB_DIRECT if self is Marketplace.STRIPE else Channel.MARKETPLACE

    @property
    def partner_id(self) -> str | None:
        return {Marketplace.AWS: "aws-marketplace", Marketplace.AZURE: "azure-marketplace"}.get(
            self
        )


class OrderAction(StrEnum):
    """What a normalised event asks for."""

    PURCHASE = "PURCHASE"
    """Create the subscription (or, when it exists, bring it to the order's terms)."""
    UPDATE = "UPDATE"
    """Plan or quantity changed: bring the subscription to the order's terms."""
    CANCEL = "CANCEL"
    """Unsubscribed: cancelled now."""
    CANCEL_AT_PERIOD_END = "CANCEL_AT_PERIOD_END"
    SUSPEND = "SUSPEND"
    """Stops renewing (Provision has no suspended state; licenses stay until the term ends)."""
    REINSTATE = "REINSTATE"
    """Renews again."""
    RENEW = "RENEW"
    """A new term of the offer's length, at the current seats."""
    NOTHING = "NOTHING"
    """Recorded, changes nothing (AWS ``unsubscribe-pending``, ``subscribe-fail``)."""


class InboxState(StrEnum):
    """An inbound event's state. While RECEIVED its ledger row says how far it got (FAILED
    or DEAD with the reason, retried by staff like any other row)."""

    RECEIVED = "RECEIVED"
    APPLIED = "APPLIED"
    IGNORED_STALE = "IGNORED_STALE"
    """Older than what was already applied to the same marketplace subscription."""
    IGNORED = "IGNORED"
    """Nothing to do (an action that changes nothing)."""


class MarketplaceEventRejected(Exception):
    """The event cannot be applied as it is (malformed, an unknown offer): its ledger row goes
    DEAD at once with this reason; staff fix the cause (add the offer) and retry the row."""

    final = True


@dataclass(frozen=True)
class Buyer:
    company: str
    contact_name: str
    contact_email: str


@dataclass(frozen=True)
class MarketplaceOrder:
    """One inbound event, normalised: which marketplace subscription, what it asks for, the
    offer and quantity it now stands at, and the marketplace's own time (orders events)."""

    marketplace: Marketplace
    subscription_key: str
    """The marketplace's subscription: AWS account + license ARN, Azure's subscription id,
    Stripe's subscription id."""
    action: OrderAction
    occurred_at: datetime
    offer: str = ""
    plan_key: str = ""
    quantity: int | None = None
    account_key: str = ""
    """The buyer's account at the marketplace (AWS account, Azure tenant, Stripe customer):
    its other subscriptions' customer is reused."""
    buyer: Buyer | None = None
    namespace_gitlab_id: int | None = None
    """The GitLab.com group the buyer chose (web-direct purchases name it): linked, and so
    provisioned, as soon as the GitLab.com subscription is created."""

    def __post_init__(self) -> None:
        if not self.subscription_key or len(self.subscription_key) > MAX_KEY_LENGTH:
            raise MarketplaceEventRejected("the event names no marketplace subscription")
        if self.occurred_at.tzinfo is None:
            raise MarketplaceEventRejected("the event's time has no time zone")
        if self.quantity is not None and not 0 <= self.quantity <= MAX_SEATS:
            raise MarketplaceEventRejected(f"quantity {self.quantity} is out of range")


def _text(value: str, name: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH:
        raise ValidationFailed(f"{name} is 1-{MAX_KEY_LENGTH} characters", path=(name,))
    return value


@dataclass
class OfferMapping:
    """Staff's rule: this marketplace offer (AWS product code, Azure offer, Stripe product)
    and plan (AWS dimension, Azure plan, Stripe price) sell this plan, on this deployment, for
    ``seats`` seats (None: the order's quantity) over terms of ``term_months``."""

    marketplace: Marketplace
    offer: str
    plan_key: str
    plan: Plan
    deployment: Deployment
    term_months: int = 12
    seats: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.offer = _text(self.offer, "offer")
        self.plan_key = _text(self.plan_key, "planKey")
        if self.plan is Plan.FREE:
            raise ValidationFailed("FREE is not sold as a subscription", path=("plan",))
        if not 1 <= self.term_months <= MAX_TERM_MONTHS:
            raise ValidationFailed(
                f"termMonths is 1-{MAX_TERM_MONTHS}, got {self.term_months}", path=("termMonths",)
            )
        if self.seats is not None and not 1 <= self.seats <= MAX_SEATS:
            raise ValidationFailed(f"seats is 1-{MAX_SEATS}, got {self.seats}", path=("seats",))

    def seats_for(self, quantity: int | None) -> int:
        """The seats an order gets: the mapping's, or the order's quantity."""
        if self.seats is not None:
            return self.seats
        if quantity is None or quantity < 1:
            raise MarketplaceEventRejected(
                f"offer {self.offer}/{self.plan_key} takes its seats from the quantity, and the"
                f" event has {'none' if quantity is None else quantity}"
            )
        return quantity

    def term(self, start: date) -> tuple[date, date]:
        return start, add_months(start, self.term_months)


@dataclass(frozen=True)
class MarketplaceLink:
    """Our subscription for one marketplace subscription, and the marketplace time of the last
    event applied to it (older events are ignored). ``subscription_id`` None: the
    marketplace subscription was cancelled before any purchase was applied (a tombstone, so the
    purchase arriving late does not create it)."""

    marketplace: Marketplace
    subscription_key: str
    last_event_at: datetime
    subscription_id: uuid.UUID | None = None
    account_key: str = ""
    suspended: bool = False

    def after(self, order: MarketplaceOrder, **changes: object) -> MarketplaceLink:
        return replace(self, last_event_at=order.occurred_at, **changes)  # type: ignore[arg-type]


class Step(StrEnum):
    """What applying an order does (``decide``)."""

    IGNORE_STALE = "IGNORE_STALE"
    IGNORE = "IGNORE"
    CREATE = "CREATE"
    CHANGE = "CHANGE"
    CANCEL = "CANCEL"
    CANCEL_AT_PERIOD_END = "CANCEL_AT_PERIOD_END"
    TOMBSTONE = "TOMBSTONE"
    SUSPEND = "SUSPEND"
    REINSTATE = "REINSTATE"
    RENEW = "RENEW"


_NEEDS_SUBSCRIPTION = {
    OrderAction.SUSPEND: Step.SUSPEND,
    OrderAction.REINSTATE: Step.REINSTATE,
    OrderAction.RENEW: Step.RENEW,
    OrderAction.CANCEL_AT_PERIOD_END: Step.CANCEL_AT_PERIOD_END,
}


def decide(order: MarketplaceOrder, link: MarketplaceLink | None) -> Step:
    """The rules: an event older than the last one applied to the same marketplace
    subscription is ignored (a newer state is never undone by a late one); a purchase or
    update creates the subscription when there is none and changes it when there is; a cancel
    before any purchase leaves a tombstone so a late purchase creates nothing; the other
    actions need the subscription (an event for one we never had is rejected)."""
    if link is not None and order.occurred_at < link.last_event_at:
        return Step.IGNORE_STALE
    if order.action is OrderAction.NOTHING:
        return Step.IGNORE
    has_subscription = link is not None and link.subscription_id is not None
    if link is not None and link.subscription_id is None:
        # Cancelled before it was bought: everything later about it is moot.
        return Step.IGNORE
    if order.action is OrderAction.UPDATE and not has_subscription and order.buyer is None:
        # An update before the purchase, saying nothing of the buyer (AWS's subscribe-success
        # comes before the buyer registers): the purchase will read the same state.
        return Step.IGNORE
    if order.action in (OrderAction.PURCHASE, OrderAction.UPDATE):
        return Step.CHANGE if has_subscription else Step.CREATE
    if order.action is OrderAction.CANCEL:
        return Step.CANCEL if has_subscription else Step.TOMBSTONE
    if not has_subscription:
        raise MarketplaceEventRejected(
            f"{order.action.value} for marketplace subscription {order.subscription_key},"
            " which has no subscription here"
        )
    return _NEEDS_SUBSCRIPTION[order.action]


def marketplace_event_payload(inbox_id: uuid.UUID, marketplace: Marketplace) -> dict[str, str]:
    return {"inbox_id": str(inbox_id), "marketplace": marketplace.value}


@dataclass(frozen=True)
class InboxEntry:
    """One inbound event as stored, keyed on (marketplace, message id)."""

    marketplace: Marketplace
    message_id: str
    payload: dict[str, object]
    received_at: datetime
    state: InboxState = InboxState.RECEIVED
    subscription_key: str | None = None
    reason: str | None = None
    ledger_event_id: uuid.UUID | None = None
    applied_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)


class LinkSession(Protocol):
    """One marketplace subscription, held (locked) while an order is applied to it: events
    of the same marketplace subscription apply one at a time, in the order they take it."""

    link: MarketplaceLink | None
    mapping: OfferMapping | None
    """The mapping of the offer the session was opened for, read with the link (None when
    that offer has none, or the session was opened for none)."""
    account_customer: uuid.UUID | None
    """The customer of the first subscription bought by the account the session was opened
    for (``customer_of``, read with the link; None: none, or no account named)."""
    settled: InboxState | None
    """The state of the inbox row the session was opened for, read under the lock, when an
    earlier attempt settled it already (None: it still waits, or no row was named)."""

    async def save(self, link: MarketplaceLink) -> None: ...

    async def settle(self, inbox_id: uuid.UUID, state: InboxState, reason: str | None) -> None:
        """The inbox row's outcome, kept with the link when the session ends cleanly."""
        ...


class MarketplaceLinks(Protocol):
    """The port the intake use case keeps its links, offers and inbox outcomes through."""

    def session(
        self,
        marketplace: Marketplace,
        subscription_key: str,
        offer: tuple[str, str] | None = None,
        inbox_id: uuid.UUID | None = None,
        account_key: str | None = None,
    ) -> AbstractAsyncContextManager[LinkSession]:
        """Lock the marketplace subscription; commit on a clean exit, roll back otherwise.
        With ``offer`` (offer, plan key), the session's ``mapping`` is that offer's; with
        ``inbox_id``, its ``settled`` is that row's state if it is settled already; with
        ``account_key``, its ``account_customer`` is that account's customer."""
        ...

    async def customer_of(self, marketplace: Marketplace, account_key: str) -> uuid.UUID | None:
        """The customer of another subscription bought by the same marketplace account."""
        ...

    async def offer(
        self, marketplace: Marketplace, offer: str, plan_key: str
    ) -> OfferMapping | None: ...


class MarketplacePeer(Protocol):
    """A marketplace adapter's reading side: a stored inbound event as an order (the AWS
    adapter asks the marketplace for the current entitlements here)."""

    async def order(self, entry: InboxEntry) -> MarketplaceOrder: ...
