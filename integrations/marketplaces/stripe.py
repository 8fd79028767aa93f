"""Stripe-Billing-style subscription events (reference §5.3): ``customer.subscription.created``,
``.updated`` and ``.deleted``, POSTed to us and signed as Stripe signs them
(``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">``, keyed with the whole
``whsec_…`` string, 300 s tolerance). The event id is the inbox key and its ``created`` time
orders events of one subscription. Web-direct sales: channel WEB_DIRECT, no partner.

The subscription object names the price (the mapping's plan key) and its product (the
offer) on its first item, the quantity there, and the buyer in its ``metadata`` (``company``,
``contact_name``, ``contact_email``; the customer's id is the account), with the GitLab.com
group the buyer chose in ``gitlab_namespace_id`` for a GitLab.com plan."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from domain.model.marketplace import (
    Buyer,
    InboxEntry,
    Marketplace,
    MarketplaceEventRejected,
    MarketplaceOrder,
    OrderAction,
)

TOLERANCE_SECONDS = 300
EVENT_TYPES = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)


class SignatureRefused(Exception):
    """The Stripe-Signature header is missing, malformed, stale or does not match."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header Stripe would send (tests and the bench sign with it)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    header: str | None, body: bytes, secret: str, now: datetime, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """As Stripe's libraries: any ``v1`` matching in constant time, ``t`` within tolerance."""
    if not header:
        raise SignatureRefused("no Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureRefused("the signature's timestamp is not a number") from None
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureRefused("the Stripe-Signature header has no t= or no v1=")
    expected = sign(body, secret, timestamp).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureRefused("no signature matches")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureRefused("the signature's timestamp is outside the tolerance")


def _object(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise MarketplaceEventRejected("the Stripe event has no data.object")
    return found


def subscription_id_of(payload: dict[str, Any]) -> str | None:
    data = payload.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    value = found.get("id") if isinstance(found, dict) else None
    return value if isinstance(value, str) and value else None


class StripePeer:
    """Stored Stripe events → orders (no call back: the event holds the object)."""

    async def order(self, entry: InboxEntry) -> MarketplaceOrder:
        payload = entry.payload
        kind = payload.get("type")
        created = payload.get("created")
        if kind not in EVENT_TYPES:
            raise MarketplaceEventRejected(f"unhandled Stripe event type {kind!r}")
        if not isinstance(created, int) or isinstance(created, bool):
            raise MarketplaceEventRejected("the Stripe event has no created time")
        subscription = _object(payload)
        key = subscription.get("id")
        if not isinstance(key, str) or not key:
            raise MarketplaceEventRejected("the Stripe subscription has no id")
        items = subscription.get("items")
        data = items.get("data") if isinstance(items, dict) else None
        item = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
        price = item.get("price") if item else None
        if not isinstance(price, dict) or not isinstance(price.get("id"), str):
            raise MarketplaceEventRejected("the Stripe subscription has no item with a price")
        quantity = item.get("quantity") if item else None
        if quantity is not None and (not isinstance(quantity, int) or isinstance(quantity, bool)):
            raise MarketplaceEventRejected("the Stripe item's quantity is not a number")
        metadata = subscription.get("metadata")
        buyer = None
        if isinstance(metadata, dict) and metadata.get("contact_email"):
            buyer = Buyer(
                str(metadata.get("company", "")),
                str(metadata.get("contact_name", "")),
                str(metadata.get("contact_email", "")),
            )
        namespace = metadata.get("gitlab_namespace_id") if isinstance(metadata, dict) else None
        if namespace is not None and not (isinstance(namespace, str) and namespace.isdigit()):
            raise MarketplaceEventRejected("metadata.gitlab_namespace_id is not a GitLab group id")
        status = subscription.get("status")
        if kind == "customer.subscription.deleted" or status == "canceled":
            action = OrderAction.CANCEL
        elif status in ("incomplete", "incomplete_expired"):
            action = OrderAction.NOTHING  # not paid yet: nothing is sold
        elif subscription.get("cancel_at_period_end") is True:
            action = OrderAction.CANCEL_AT_PERIOD_END
        elif kind == "customer.subscription.created":
            action = OrderAction.PURCHASE
        else:
            action = OrderAction.UPDATE
        customer = subscription.get("customer")
        return MarketplaceOrder(
            marketplace=Marketplace.STRIPE,
            subscription_key=key,
            action=action,
            occurred_at=datetime.fromtimestamp(created, UTC),
            offer=str(price.get("product") or ""),
            plan_key=price["id"],
            quantity=quantity,
            account_key=customer if isinstance(customer, str) else "",
            buyer=buyer,
            namespace_gitlab_id=int(namespace) if namespace else None,
        )
