"""Azure-SaaS-Fulfillment-style intake (API v2, reference §4c): the buyer lands on our page
with ``?token=``, Resolve (header ``x-ms-marketplace-token``) names the SaaS subscription, and
once it is applied here Activate starts the billing; webhook operations (ChangePlan,
ChangeQuantity, Suspend, Reinstate, Unsubscribe, Renew) are trusted only after Get Operation
on the marketplace, with our own client-credentials token, confirms them (the documented rule),
and, when configured, a bearer on the webhook itself matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from domain.model.marketplace import (
    Buyer,
    InboxEntry,
    Marketplace,
    MarketplaceEventRejected,
    MarketplaceOrder,
    OrderAction,
)
from domain.ports import Clock

API_VERSION = "2018-08-31"
RESOURCE = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"
"""The Marketplace SaaS API's fixed application id (the token's ``resource``)."""

ACTIONS = {
    "ChangePlan": OrderAction.UPDATE,
    "ChangeQuantity": OrderAction.UPDATE,
    "Suspend": OrderAction.SUSPEND,
    "Reinstate": OrderAction.REINSTATE,
    "Unsubscribe": OrderAction.CANCEL,
    "Renew": OrderAction.RENEW,
}
ACKNOWLEDGED = frozenset({"ChangePlan", "ChangeQuantity"})


class AzureRefused(Exception):
    """The marketplace answered a 4xx: ``status`` says which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class AzureClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/api/saas/subscriptions"
        self._token_url = token_url
        self._client = (client_id, client_secret)
        self._clock = clock
        self._token: tuple[str, datetime] | None = None

    async def _bearer(self) -> str:
        now = self._clock.now()
        if self._token is not None and self._token[1] > now:
            return self._token[0]
        response = await self._http.post(
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client[0],
                "client_secret": self._client[1],
                "resource": RESOURCE,
            },
        )
        response.raise_for_status()
        body = response.json()
        token = body.get("access_token")
        if not isinstance(token, str):
            raise AzureRefused(response.status_code, "the token answer has no access_token")
        lifetime = int(body.get("expires_in", 300))
        self._token = (token, now + timedelta(seconds=max(0, lifetime - 60)))
        return token

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = {"Authorization": f"Bearer {await self._bearer()}", **(headers or {})}
        response = await self._http.request(
            method,
            f"{self._base}{path}",
            params={"api-version": API_VERSION},
            json=json,
            headers=sent,
        )
        if 400 <= response.status_code < 500:
            raise AzureRefused(response.status_code, response.text[:200])
        response.raise_for_status()
        if not response.content:
            return {}
        body = response.json()
        return body if isinstance(body, dict) else {}

    async def resolve(self, token: str) -> dict[str, Any]:
        return await self._call("POST", "/resolve", headers={"x-ms-marketplace-token": token})

    async def activate(self, subscription_id: str, plan_id: str, quantity: int | None) -> None:
        body: dict[str, Any] = {"planId": plan_id}
        if quantity is not None:
            body["quantity"] = quantity
        await self._call("POST", f"/{quote(subscription_id, safe='')}/activate", json=body)

    async def operation(self, subscription_id: str, operation_id: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            f"/{quote(subscription_id, safe='')}/operations/{quote(operation_id, safe='')}",
        )

    async def acknowledge(self, subscription_id: str, operation_id: str) -> None:
        await self._call(
            "PATCH",
            f"/{quote(subscription_id, safe='')}/operations/{quote(operation_id, safe='')}",
            json={"status": "Success"},
        )


def configured_client(
    http: httpx.AsyncClient,
    clock: Clock,
    url: str | None,
    token_url: str | None,
    client_id: str | None,
    client_secret: str | None,
) -> AzureClient | None:
    """The client when the API URL, the token URL and the client credentials are all set."""
    if not (url and token_url and client_id and client_secret):
        return None
    return AzureClient(http, url, token_url, client_id, client_secret, clock)


def confirms(operation: dict[str, Any], webhook: dict[str, Any]) -> bool:
    """Whether the operation read from the marketplace is the one the webhook announced."""
    for name in ("id", "subscriptionId", "action"):
        if operation.get(name) != webhook.get(name):
            return False
    for name in ("planId", "quantity"):
        if name in webhook and name in operation and operation[name] != webhook[name]:
            return False
    return True


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise MarketplaceEventRejected("the Azure operation has no timeStamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MarketplaceEventRejected(f"timeStamp {value!r} is not ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _quantity(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise MarketplaceEventRejected(f"quantity {value!r} is not a number")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MarketplaceEventRejected(f"the Azure event has no {what}")
    return value


class AzurePeer:
    """Stored Azure rows → orders: a resolved landing is a purchase (the buyer is the
    subscription's beneficiary); an operation, as Get Operation returned it, is its action."""

    def __init__(self, client: AzureClient) -> None:
        self._client = client

    async def order(self, entry: InboxEntry) -> MarketplaceOrder:
        payload = entry.payload
        if payload.get("type") == "resolved":
            resolved = payload.get("subscription")
            if not isinstance(resolved, dict):
                raise MarketplaceEventRejected("the resolved Azure subscription is missing")
            detail = resolved.get("subscription")
            detail = detail if isinstance(detail, dict) else {}
            person = detail.get("beneficiary") or detail.get("purchaser") or {}
            person = person if isinstance(person, dict) else {}
            email = _text(person.get("emailId"), "beneficiary email")
            name = str(resolved.get("subscriptionName") or detail.get("name") or email)
            return MarketplaceOrder(
                marketplace=Marketplace.AZURE,
                subscription_key=_text(resolved.get("id"), "subscription id"),
                action=OrderAction.PURCHASE,
                occurred_at=entry.received_at,
                offer=_text(resolved.get("offerId"), "offerId"),
                plan_key=_text(resolved.get("planId"), "planId"),
                quantity=_quantity(resolved.get("quantity")),
                account_key=str(person.get("tenantId") or ""),
                buyer=Buyer(name, email.split("@")[0], email),
            )
        if payload.get("type") == "operation":
            operation = payload.get("operation")
            if not isinstance(operation, dict):
                raise MarketplaceEventRejected("the Azure operation is missing")
            action = operation.get("action")
            if action not in ACTIONS:
                raise MarketplaceEventRejected(f"unknown Azure action {action!r}")
            return MarketplaceOrder(
                marketplace=Marketplace.AZURE,
                subscription_key=_text(operation.get("subscriptionId"), "subscriptionId"),
                action=ACTIONS[str(action)],
                occurred_at=_time(operation.get("timeStamp")),
                offer=str(operation.get("offerId") or ""),
                plan_key=str(operation.get("planId") or ""),
                quantity=_quantity(operation.get("quantity")),
            )
        raise MarketplaceEventRejected(f"unknown Azure event type {payload.get('type')!r}")

    async def after_applied(self, entry: InboxEntry) -> None:
        """Tell the marketplace: activate a resolved subscription (the buyer is billed from
        then on; "already subscribed" is fine), acknowledge a plan or quantity change."""
        payload = entry.payload
        if payload.get("type") == "resolved":
            resolved = payload.get("subscription")
            if not isinstance(resolved, dict):
                return
            quantity = _quantity(resolved.get("quantity"))
            try:
                await self._client.activate(str(resolved["id"]), str(resolved["planId"]), quantity)
            except AzureRefused as refused:
                if refused.status != 400:  # 400: Subscribed already (an earlier attempt did)
                    raise
            return
        operation = payload.get("operation")
        if isinstance(operation, dict) and operation.get("action") in ACKNOWLEDGED:
            try:
                await self._client.acknowledge(
                    str(operation["subscriptionId"]), str(operation["id"])
                )
            except AzureRefused as refused:
                if refused.status not in (400, 409):  # settled already
                    raise
