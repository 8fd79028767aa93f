"""AWS-Marketplace-style SaaS (reference §4a): the buyer's browser POSTs
``x-amzn-marketplace-token`` to our fulfillment URL, ResolveCustomer turns it into the buyer's
account, license and product, and GetEntitlements says what they bought; SNS notifications
(``subscribe-success``, ``entitlement-updated``, ``unsubscribe-pending``,
``unsubscribe-success``) make us read the entitlements again.

Authentication. Calls to the marketplace API carry ``Authorization: Bearer <token>`` (standing
in for SigV4). Notifications are SNS messages signed as SNS signs them (SignatureVersion 2:
RSA SHA-256 over the canonical string); instead of fetching the certificate named by
``SigningCertURL``, the signature is checked with the certificate configured for the peer, and
``SigningCertURL`` must be on the configured marketplace's host."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from domain.model.marketplace import (
    Buyer,
    InboxEntry,
    Marketplace,
    MarketplaceEventRejected,
    MarketplaceOrder,
    OrderAction,
)

RESOLVE_TARGET = "AWSMPMeteringService.ResolveCustomer"
ENTITLEMENTS_TARGET = "AWSMPEntitlementService.GetEntitlements"
CONTENT_TYPE = "application/x-amz-json-1.1"

ACTIONS = {
    "subscribe-success": OrderAction.UPDATE,
    "entitlement-updated": OrderAction.UPDATE,
    "subscribe-fail": OrderAction.NOTHING,
    "unsubscribe-pending": OrderAction.NOTHING,
    "unsubscribe-success": OrderAction.CANCEL,
}

_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


class AwsRefused(Exception):
    """The marketplace refused a call (an invalid or expired token, say): ``code`` is its
    exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class NotificationForged(Exception):
    """An SNS message whose signature, certificate URL or shape does not hold."""


def canonical_string(message: dict[str, Any]) -> bytes:
    """What SNS signs: ``key\\nvalue\\n`` for the type's keys in order (absent ones left out)."""
    keys = (
        _CONFIRMATION_KEYS
        if message.get("Type") == "SubscriptionConfirmation"
        else _NOTIFICATION_KEYS
    )
    parts = []
    for key in keys:
        value = message.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise NotificationForged(f"{key} is not a string")
        parts.append(f"{key}\n{value}\n")
    return "".join(parts).encode()


def load_certificate(pem: bytes) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the SNS certificate must hold an RSA key")
    return key


_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com")


def signing_host_allowed(cert_url: str, peer_url: str) -> bool:
    """``SigningCertURL`` on the configured marketplace's host, or https on SNS's own
    (``sns.<region>.amazonaws.com``). The certificate is never fetched: the configured one is
    the trust anchor, so this is a second check on what the message claims."""
    parts = urlsplit(cert_url)
    if parts.netloc == urlsplit(peer_url).netloc:
        return True
    return parts.scheme == "https" and _SNS_HOST.fullmatch(parts.hostname or "") is not None


def verify_notification(message: dict[str, Any], key: rsa.RSAPublicKey, peer_url: str) -> None:
    """Raise ``NotificationForged`` unless ``message`` is signed by ``key`` (SignatureVersion
    2, SHA-256) and names a certificate on the peer's host."""
    if message.get("SignatureVersion") != "2":
        raise NotificationForged("only SignatureVersion 2 (SHA256withRSA) is accepted")
    cert_url = message.get("SigningCertURL")
    if not isinstance(cert_url, str) or not signing_host_allowed(cert_url, peer_url):
        raise NotificationForged("SigningCertURL is not on the marketplace's or SNS's host")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise NotificationForged("the signature is not base64") from None
    try:
        key.verify(signature, canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise NotificationForged("the signature does not verify") from None


def sns_time(value: object) -> datetime:
    """SNS's ``Timestamp`` (ISO 8601, UTC, ``Z``)."""
    if not isinstance(value, str):
        raise MarketplaceEventRejected("the notification has no Timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MarketplaceEventRejected(f"Timestamp {value!r} is not ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def subscription_key(account: str, license_arn: str | None) -> str:
    """One AWS subscription: the buyer's account and license ("concurrent agreements")."""
    return f"{account}:{license_arn}" if license_arn else account


class AwsMarketplaceClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str | None) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/"
        self._token = token

    async def _call(self, target: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"X-Amz-Target": target, "Content-Type": CONTENT_TYPE}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        response = await self._http.post(self._url, json=body, headers=headers)
        if response.status_code == 400:
            error = _json(response)
            raise AwsRefused(str(error.get("__type", "BadRequest")), str(error.get("message", "")))
        response.raise_for_status()
        return _json(response)

    async def resolve_customer(self, token: str) -> dict[str, str]:
        """ResolveCustomer: CustomerAWSAccountId, LicenseArn, ProductCode."""
        answer = await self._call(RESOLVE_TARGET, {"RegistrationToken": token})
        account, product = answer.get("CustomerAWSAccountId"), answer.get("ProductCode")
        if not isinstance(account, str) or not isinstance(product, str):
            raise AwsRefused("InvalidResponse", "ResolveCustomer named no account or product")
        license_arn = answer.get("LicenseArn")
        return {
            "account": account,
            "product_code": product,
            "license_arn": license_arn if isinstance(license_arn, str) else "",
        }

    async def entitlements(self, product_code: str, account: str) -> list[dict[str, Any]]:
        """GetEntitlements for one account, every page."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {
                "ProductCode": product_code,
                "Filter": {"CUSTOMER_AWS_ACCOUNT_ID": [account]},
            }
            if token:
                body["NextToken"] = token
            answer = await self._call(ENTITLEMENTS_TARGET, body)
            found += [e for e in answer.get("Entitlements") or [] if isinstance(e, dict)]
            token = answer.get("NextToken")
            if not token:
                return found


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _quantity(value: object) -> int | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("IntegerValue"), int):
        return int(value["IntegerValue"])
    if value.get("BooleanValue") is True:
        return 1
    return None


def _current(entitlement: dict[str, Any], now: datetime) -> bool:
    expires = entitlement.get("ExpirationDate")
    if expires is None:
        return True
    try:
        when = (
            datetime.fromtimestamp(float(expires), UTC)
            if isinstance(expires, int | float)
            else sns_time(expires)
        )
    except (ValueError, OverflowError, MarketplaceEventRejected):
        return True
    return when > now


class AwsPeer:
    """Stored AWS rows → orders: the registration and every notification read the account's
    entitlements again; the first current dimension with a quantity is what is sold (no
    current entitlement left: the subscription is cancelled)."""

    def __init__(self, client: AwsMarketplaceClient) -> None:
        self._client = client

    async def order(self, entry: InboxEntry) -> MarketplaceOrder:
        payload = entry.payload
        kind = payload.get("type")
        account = payload.get("account")
        product = payload.get("product_code")
        if not isinstance(account, str) or not account or not isinstance(product, str):
            raise MarketplaceEventRejected("the AWS event names no account or product code")
        license_arn = payload.get("license_arn")
        key = subscription_key(account, license_arn if isinstance(license_arn, str) else None)
        buyer = None
        if kind == "registration":
            action = OrderAction.PURCHASE
            occurred = entry.received_at
            raw_buyer = payload.get("buyer")
            if isinstance(raw_buyer, dict):
                buyer = Buyer(
                    str(raw_buyer.get("company", "")),
                    str(raw_buyer.get("contact_name", "")),
                    str(raw_buyer.get("contact_email", "")),
                )
        elif kind == "notification":
            name = payload.get("action")
            if name not in ACTIONS:
                raise MarketplaceEventRejected(f"unknown AWS notification action {name!r}")
            action = ACTIONS[str(name)]
            occurred = sns_time(payload.get("timestamp"))
        else:
            raise MarketplaceEventRejected(f"unknown AWS event type {kind!r}")
        base = {
            "marketplace": Marketplace.AWS,
            "subscription_key": key,
            "occurred_at": occurred,
            "account_key": account,
            "buyer": buyer,
            "offer": product,
        }
        if action in (OrderAction.NOTHING, OrderAction.CANCEL):
            return MarketplaceOrder(action=action, **base)  # type: ignore[arg-type]
        entitlements = await self._client.entitlements(product, account)
        current = sorted(
            (
                e
                for e in entitlements
                if _current(e, entry.received_at) and (_quantity(e.get("Value")) or 0) > 0
            ),
            key=lambda e: str(e.get("Dimension", "")),
        )
        if not current:
            if action is OrderAction.PURCHASE:
                raise MarketplaceEventRejected(
                    f"AWS account {account} has no current entitlement to product {product}"
                )
            return MarketplaceOrder(action=OrderAction.CANCEL, **base)  # type: ignore[arg-type]
        chosen = current[0]
        return MarketplaceOrder(
            action=action,
            plan_key=str(chosen.get("Dimension", "")),
            quantity=_quantity(chosen.get("Value")),
            **base,  # type: ignore[arg-type]
        )
