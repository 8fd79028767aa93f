"""Outbound webhooks (Standard Webhooks v1): endpoints, the event catalogue, the message each
delivery carries, and what is signed. The ledger delivers (kind ``WEBHOOK_DELIVERY``); this
module only decides what and to whom."""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from domain.errors import ValidationFailed
from domain.model.ids import new_id
from domain.model.provision_event import ProvisionEvent

WEBHOOK_DELIVERY_KIND = "WEBHOOK_DELIVERY"
PAYLOAD_VERSION = 1
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 24
"""192 bits, the spec's minimum (it allows 24 to 64 bytes)."""
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)


class WebhookEventType(StrEnum):
    """The catalogue: what an endpoint can ask for. Values are the payloads' ``type``."""

    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_CHANGED = "subscription.changed"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_CANCELLED = "subscription.cancelled"
    LICENSE_ISSUED = "license.issued"
    INSTANCE_ACTIVATED = "instance.activated"
    TRIAL_STARTED = "trial.started"
    TRIAL_ENDED = "trial.ended"
    NAMESPACE_PROVISIONED = "namespace.provisioned"
    PROVISIONING_FAILED = "provisioning.failed"
    PROVISIONING_RESOLVED = "provisioning.resolved"
    USAGE_OVER_SEATS = "usage.over_seats"


EMITTED = frozenset(WebhookEventType)
"""Every type of the catalogue is emitted (docs/webhooks.md names the emitter of each)."""

PROVISIONING_KINDS = frozenset({"NAMESPACE_PROVISION"})
"""Ledger kinds whose end is an event: a row of these going DEAD is ``provisioning.failed``
(and its resolution ``provisioning.resolved``); a NAMESPACE_PROVISION that succeeds is
``namespace.provisioned``. Deliveries, emails and alerts are not provisioning."""


def new_secret(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """``whsec_`` + base64 of 24 random bytes, shown to the owner once."""
    return SECRET_PREFIX + base64.b64encode(random_bytes(SECRET_BYTES)).decode("ascii")


def check_url(url: str, *, allow_http_loopback: bool = False) -> str:
    """An endpoint URL: absolute https with a host; plain http only to a loopback address, and
    only where the setting allows it (development and tests)."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(f"give a URL of 1-{MAX_URL_LENGTH} characters", path=("url",))
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationFailed("the URL does not parse", path=("url",)) from None
    if not host or parts.username or parts.password:
        raise ValidationFailed("the URL needs a host and no credentials", path=("url",))
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return url
    raise ValidationFailed(
        "webhook URLs must be https (plain http only to a loopback address in development)",
        path=("url",),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_refusal(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why a delivery may not connect to ``address`` (an IP), or None when it may: only
    public unicast addresses, and loopback where development allows it (the SSRF guard)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    for name, refused in (
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not global", not ip.is_global),
    ):
        if refused:
            return name
    return None


def check_event_types(values: Iterable[str]) -> tuple[WebhookEventType, ...]:
    """At least one known event type, each once, in catalogue order."""
    wanted: set[WebhookEventType] = set()
    for value in values:
        try:
            wanted.add(WebhookEventType(value))
        except ValueError:
            known = ", ".join(t.value for t in WebhookEventType)
            raise ValidationFailed(
                f"unknown event type {value!r} (known: {known})", path=("eventTypes",)
            ) from None
    if not wanted:
        raise ValidationFailed("ask for at least one event type", path=("eventTypes",))
    return tuple(t for t in WebhookEventType if t in wanted)


def check_description(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed(
            f"a description has at most {MAX_DESCRIPTION_LENGTH} characters",
            path=("description",),
        )
    return value


@dataclass
class WebhookEndpoint:
    """Where events go. Its owner is a customer, a partner, or nobody (staff's global
    endpoint, which hears about every subscription)."""

    url: str
    event_types: tuple[WebhookEventType, ...]
    secret: str
    created_at: datetime
    description: str = ""
    enabled: bool = True
    customer_id: uuid.UUID | None = None
    partner_id: str | None = None
    updated_at: datetime | None = None
    previous_secret: str | None = None
    """After a rotation: the old secret, still signing until ``previous_secret_until``."""
    previous_secret_until: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.customer_id is not None and self.partner_id is not None:
            raise ValueError("an endpoint has one owner: a customer or a partner")
        if self.updated_at is None:
            self.updated_at = self.created_at

    def rotate(self, new: str, now: datetime, overlap: timedelta) -> None:
        """Take ``new`` as the secret; the current one keeps signing for ``overlap`` too, so
        receivers can switch without dropping a delivery (they accept any matching ``v1``)."""
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise ValidationFailed(
                f"the overlap is 0 to {MAX_OVERLAP.days} days", path=("overlapSeconds",)
            )
        self.previous_secret = self.secret if overlap else None
        self.previous_secret_until = now + overlap if overlap else None
        self.secret = new
        self.updated_at = now

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets a delivery at ``now`` is signed with: the current one, and the previous
        one while its overlap lasts (up to and including ``previous_secret_until``)."""
        until = self.previous_secret_until
        if self.previous_secret and until is not None and now <= until:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    @property
    def is_global(self) -> bool:
        return self.customer_id is None and self.partner_id is None

    def hears(
        self, event_type: WebhookEventType, customer_id: uuid.UUID | None, partner_id: str | None
    ) -> bool:
        """Whether an event about a subscription of ``customer_id`` (sold by ``partner_id``)
        goes here: enabled, asked for, and the subscription is the owner's."""
        if not self.enabled or event_type not in self.event_types:
            return False
        if self.customer_id is not None:
            return self.customer_id == customer_id
        if self.partner_id is not None:
            return self.partner_id == partner_id
        return True


@dataclass(frozen=True)
class WebhookDelivery:
    """A delivery as its endpoint's owner reads it: the ledger row (status, attempts, next
    attempt) and its last attempt's answer."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_type: str
    webhook_id: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_error: str | None
    subscription_id: uuid.UUID | None
    status_code: int | None
    latency_ms: int | None
    attempted_at: datetime | None


def delivery_of(event: ProvisionEvent) -> WebhookDelivery:
    """A delivery row as its owner reads it (before any attempt's answer is known)."""
    return WebhookDelivery(
        id=event.id,
        endpoint_id=uuid.UUID(event.payload["endpoint_id"]),
        event_type=event.payload["event_type"],
        webhook_id=message_id(event),
        status=event.status.value,
        attempts=event.attempts,
        max_attempts=event.max_attempts,
        next_attempt_at=event.next_attempt_at if event.status.value in _OPEN else None,
        created_at=event.created_at,
        last_error=event.last_error,
        subscription_id=event.subscription_id,
        status_code=None,
        latency_ms=None,
        attempted_at=None,
    )


_OPEN = frozenset({"PENDING", "RUNNING", "FAILED"})


def message(event_type: WebhookEventType, at: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    """The versioned body every delivery sends: ``{type, version, timestamp, data}``."""
    return {
        "type": event_type.value,
        "version": PAYLOAD_VERSION,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "data": dict(data),
    }


def body_of(payload: Mapping[str, Any]) -> str:
    """The exact text sent (and signed) for a delivery row: the same on every attempt."""
    return json.dumps(payload["message"], separators=(",", ":"), sort_keys=True)


def message_id(event: ProvisionEvent) -> str:
    """``webhook-id``: the delivery row's id, stable across retries (no ``.`` in it); a
    re-send (a new row) carries the id of the delivery it repeats, so receivers dedupe it."""
    repeated = event.payload.get("webhook_id")
    return repeated if isinstance(repeated, str) else f"msg_{event.id.hex}"


def fifo_key(endpoint_id: uuid.UUID, subscription_id: uuid.UUID | None) -> str | None:
    """The ledger's FIFO lane of a delivery (``payload.fifo``): one per endpoint and
    subscription. A row is not claimed while an older row of its lane is unfinished."""
    return None if subscription_id is None else f"{endpoint_id}:{subscription_id}"


def signed_content(msg_id: str, timestamp: int, body: str) -> bytes:
    """What the ``v1`` signature covers: ``{id}.{timestamp}.{body}`` (spec §Signature)."""
    if "." in msg_id:
        raise ValueError("a webhook id may not contain '.'")
    return f"{msg_id}.{timestamp}.{body}".encode()


def delivery_events(
    endpoints: Iterable[WebhookEndpoint],
    event_type: WebhookEventType,
    data: Mapping[str, Any],
    *,
    customer_id: uuid.UUID | None,
    partner_id: str | None,
    now: datetime,
    max_attempts: int,
    subscription_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
) -> list[ProvisionEvent]:
    """One ledger row per endpoint that hears the event. The row names its endpoint; the
    secret stays on the endpoint (the worker reads it when it signs), never in a payload.
    An event about a subscription carries its FIFO lane (``fifo_key``)."""
    body = message(event_type, now, data)
    return [
        delivery_row(e.id, event_type, body, now, max_attempts, subscription_id, correlation_id)
        for e in endpoints
        if e.hears(event_type, customer_id, partner_id)
    ]


def delivery_row(
    endpoint_id: uuid.UUID,
    event_type: WebhookEventType | str,
    body: Mapping[str, Any],
    now: datetime,
    max_attempts: int,
    subscription_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
    *,
    webhook_id: str | None = None,
) -> ProvisionEvent:
    """The WEBHOOK_DELIVERY row sending ``body`` to one endpoint (``webhook_id``: a re-send
    of an earlier delivery keeps its ``webhook-id``)."""
    payload: dict[str, Any] = {
        "endpoint_id": str(endpoint_id),
        "event_type": str(event_type),
        "message": dict(body),
    }
    lane = fifo_key(endpoint_id, subscription_id)
    if lane is not None:
        payload["fifo"] = lane
    if webhook_id is not None:
        payload["webhook_id"] = webhook_id
    return ProvisionEvent.new(
        WEBHOOK_DELIVERY_KIND,
        payload,
        now=now,
        max_attempts=max_attempts,
        subscription_id=subscription_id,
        correlation_id=correlation_id,
    )


def attempts_for(span: timedelta, *, base: timedelta, cap: timedelta) -> int:
    """How many attempts make the ledger's jittered backoff retry for at least ``span``.

    Each wait is uniform in ``[0, min(cap, base * 2**(n-1)))``, so its mean is half that
    ceiling; attempts are added until the mean total reaches 1.25 times ``span`` (the sum of
    hundreds of uniform draws stays well within that margin)."""
    if span <= timedelta(0):
        return 1
    target = 1.25 * span.total_seconds()
    total, attempt = 0.0, 1
    while total < target:
        ceiling = min(cap.total_seconds(), base.total_seconds() * 2 ** min(attempt - 1, 62))
        if ceiling <= 0:
            raise ValueError("the backoff never waits: give a positive base and cap")
        total += ceiling / 2
        attempt += 1
    return attempt


RETRY_SPAN = timedelta(hours=24)
DEFAULT_ATTEMPTS = attempts_for(RETRY_SPAN, base=timedelta(seconds=2), cap=timedelta(minutes=10))
"""Attempts of a delivery row under the ledger's default backoff (2 s base, 10 min cap)."""
