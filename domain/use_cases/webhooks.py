"""Webhook endpoints: register, list, change, delete (each principal its own; staff any), and
the events use cases record for them in their own transaction (the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.model.audit import AuditEntry
from domain.model.email import EmailTemplate, email_event
from domain.model.license import License
from domain.model.namespace import Namespace
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from domain.model.webhook import (
    DEFAULT_ATTEMPTS,
    DEFAULT_OVERLAP,
    PROVISIONING_KINDS,
    WEBHOOK_DELIVERY_KIND,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    check_description,
    check_event_types,
    check_url,
    delivery_events,
    delivery_of,
    delivery_row,
    message_id,
    new_secret,
)
from domain.policy import Access, Resource, require_scope, sees_webhook_endpoint
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind


@dataclass(frozen=True)
class CreateWebhookEndpoint:
    url: str
    event_types: tuple[str, ...]
    description: str = ""
    enabled: bool = True
    customer_id: uuid.UUID | None = None
    """Staff: a customer's endpoint, or none for a global one. Portal users: which of their
    customers (required). Partners: not given (the endpoint is the partner's)."""


@dataclass(frozen=True)
class UpdateWebhookEndpoint:
    endpoint_id: uuid.UUID
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class WebhookEndpointCreated:
    endpoint: WebhookEndpoint
    secret: str
    """Shown once, in the mutation's payload."""


class WebhookEndpoints:
    """The endpoint use cases. ``allow_http_loopback`` lets development and tests register
    ``http://127.0.0.1`` receivers; elsewhere only https is accepted."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        allow_http_loopback: bool = False,
        new_secret: Callable[[], str] = new_secret,
        delivery_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._allow_http_loopback = allow_http_loopback
        self._new_secret = new_secret
        self._delivery_attempts = delivery_attempts

    async def create(
        self, principal: Principal, command: CreateWebhookEndpoint
    ) -> WebhookEndpointCreated:
        require_scope(principal, Resource.WEBHOOKS, Access.WRITE)
        url = check_url(command.url, allow_http_loopback=self._allow_http_loopback)
        event_types = check_event_types(command.event_types)
        description = check_description(command.description)
        async with self._unit_of_work() as uow:
            customer_id, partner_id = await self._owner(uow, principal, command.customer_id)
            now = self._clock.now()
            endpoint = WebhookEndpoint(
                url=url,
                event_types=event_types,
                secret=self._new_secret(),
                created_at=now,
                description=description,
                enabled=command.enabled,
                customer_id=customer_id,
                partner_id=partner_id,
            )
            await uow.webhook_endpoints.add(endpoint)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "createWebhookEndpoint",
                    "WebhookEndpoint",
                    endpoint.id,
                    now,
                    after=_summary(endpoint),
                )
            )
            await uow.commit()
        return WebhookEndpointCreated(endpoint, endpoint.secret)

    async def update(self, principal: Principal, command: UpdateWebhookEndpoint) -> WebhookEndpoint:
        require_scope(principal, Resource.WEBHOOKS, Access.WRITE)
        async with self._unit_of_work() as uow:
            endpoint = await self._visible(uow, principal, command.endpoint_id)
            before = _summary(endpoint)
            if command.url is not None:
                endpoint.url = check_url(command.url, allow_http_loopback=self._allow_http_loopback)
            if command.event_types is not None:
                endpoint.event_types = check_event_types(command.event_types)
            if command.description is not None:
                endpoint.description = check_description(command.description)
            if command.enabled is not None:
                endpoint.enabled = command.enabled
            now = self._clock.now()
            endpoint.updated_at = now
            await uow.webhook_endpoints.save(endpoint)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "updateWebhookEndpoint",
                    "WebhookEndpoint",
                    endpoint.id,
                    now,
                    before=before,
                    after=_summary(endpoint),
                )
            )
            await uow.commit()
        return endpoint

    async def delete(self, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        require_scope(principal, Resource.WEBHOOKS, Access.WRITE)
        async with self._unit_of_work() as uow:
            endpoint = await self._visible(uow, principal, endpoint_id)
            await uow.webhook_endpoints.delete(endpoint.id)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "deleteWebhookEndpoint",
                    "WebhookEndpoint",
                    endpoint.id,
                    self._clock.now(),
                    before=_summary(endpoint),
                )
            )
            await uow.commit()
        return endpoint

    async def rotate_secret(
        self, principal: Principal, endpoint_id: uuid.UUID, overlap: timedelta = DEFAULT_OVERLAP
    ) -> WebhookEndpointCreated:
        """A new secret, shown once; the old one signs too for ``overlap``."""
        require_scope(principal, Resource.WEBHOOKS, Access.WRITE)
        async with self._unit_of_work() as uow:
            endpoint = await self._visible(uow, principal, endpoint_id)
            now = self._clock.now()
            endpoint.rotate(self._new_secret(), now, overlap)
            await uow.webhook_endpoints.save(endpoint)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "rotateWebhookSecret",
                    "WebhookEndpoint",
                    endpoint.id,
                    now,
                    after={"overlapSeconds": int(overlap.total_seconds())},
                )
            )
            await uow.commit()
        return WebhookEndpointCreated(endpoint, endpoint.secret)

    async def resend(self, principal: Principal, delivery_id: uuid.UUID) -> WebhookDelivery:
        """Send a delivery again, whatever became of it: a new ledger row with the same body
        and the same ``webhook-id`` (receivers drop it if they had it), in the endpoint's FIFO
        lane. Another tenant's delivery, or one whose endpoint is gone, is not found."""
        require_scope(principal, Resource.WEBHOOKS, Access.WRITE)
        async with self._unit_of_work() as uow:
            original = await uow.provision_events.lock(delivery_id)
            if original is None or original.kind != WEBHOOK_DELIVERY_KIND:
                raise NotFound("no such webhook delivery", path=("id",))
            try:
                endpoint = await self._visible(
                    uow, principal, uuid.UUID(original.payload["endpoint_id"])
                )
            except NotFound:
                raise NotFound("no such webhook delivery", path=("id",)) from None
            if not endpoint.enabled:
                raise ValidationFailed(
                    "the endpoint is disabled: enable it (updateWebhookEndpoint) first",
                    path=("id",),
                )
            now = self._clock.now()
            again = delivery_row(
                endpoint.id,
                original.payload["event_type"],
                original.payload["message"],
                now,
                self._delivery_attempts,
                original.subscription_id,
                original.correlation_id,
                webhook_id=message_id(original),
            )
            await uow.outbox.record(again)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "resendWebhookDelivery",
                    "WebhookEndpoint",
                    endpoint.id,
                    now,
                    after={"delivery": str(original.id), "resend": str(again.id)},
                )
            )
            await uow.commit()
        return delivery_of(again)

    async def get(self, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        require_scope(principal, Resource.WEBHOOKS, Access.READ)
        async with self._unit_of_work() as uow:
            return await self._visible(uow, principal, endpoint_id)

    async def _visible(
        self, uow: UnitOfWork, principal: Principal, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        endpoint = await uow.webhook_endpoints.get(endpoint_id)
        member = (
            endpoint is not None
            and endpoint.customer_id is not None
            and principal.kind is PrincipalKind.PORTAL_USER
            and await uow.customers.role_of(endpoint.customer_id, principal.subject or "")
            is not None
        )
        if endpoint is None or not sees_webhook_endpoint(
            principal, endpoint.customer_id, endpoint.partner_id, member=member
        ):
            raise NotFound("no such webhook endpoint", path=("id",))
        return endpoint

    async def _owner(
        self, uow: UnitOfWork, principal: Principal, customer_id: uuid.UUID | None
    ) -> tuple[uuid.UUID | None, str | None]:
        if principal.kind is PrincipalKind.STAFF:
            if customer_id is not None and await uow.customers.get(customer_id) is None:
                raise NotFound("no such customer", path=("customerId",))
            return customer_id, None
        if principal.kind is PrincipalKind.PARTNER and principal.partner_id:
            if customer_id is not None:
                raise ValidationFailed(
                    "a partner's endpoint hears about what it sold; give no `customerId`",
                    path=("customerId",),
                )
            return None, principal.partner_id
        if principal.kind is PrincipalKind.PORTAL_USER and principal.subject:
            if customer_id is None:
                raise ValidationFailed(
                    "say which of your customers the endpoint is for", path=("customerId",)
                )
            if await uow.customers.role_of(customer_id, principal.subject) is None:
                raise NotFound("no such customer", path=("customerId",))
            return customer_id, None
        raise Forbidden("only staff, partners and customers' users register webhook endpoints")


WEBHOOKS_PRINCIPAL = Principal(PrincipalKind.STAFF, subject="provision:webhooks")
"""Who the audit trail names for what the delivery worker does to an endpoint."""


class EndpointHealth:
    """What deliveries do to their endpoint: a ``410 Gone`` disables it at once; ``threshold``
    events in a row that failed permanently (DEAD) disable it too. Either way its owner is
    emailed (a customer's contact; for partner and global endpoints ``staff_email``, if set)
    and the audit trail records it. ``updateWebhookEndpoint(enabled: true)`` turns it on."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        threshold: int = 10,
        staff_email: str | None = None,
        max_attempts: int = 8,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._threshold = threshold
        self._staff_email = staff_email
        self._max_attempts = max_attempts

    async def failed_permanently(self, endpoint_id: uuid.UUID, event_id: uuid.UUID) -> bool:
        """Delivery ``event_id`` failed its last attempt: disable the endpoint when the
        ``threshold - 1`` finished deliveries before it went DEAD too. True if disabled."""
        if self._threshold <= 0:
            return False
        async with self._unit_of_work() as uow:
            earlier = await uow.webhook_endpoints.recent_outcomes(
                endpoint_id, self._threshold - 1, excluding=event_id
            )
        if len(earlier) < self._threshold - 1 or any(s != "DEAD" for s in earlier):
            return False
        return await self.disable(
            endpoint_id, f"its last {self._threshold} events all failed after every retry"
        )

    async def disable(self, endpoint_id: uuid.UUID, reason: str) -> bool:
        """Turn the endpoint off (once: False when it is gone or off already), audited, with
        an email to its owner, in one transaction."""
        async with self._unit_of_work() as uow:
            endpoint = await uow.webhook_endpoints.get(endpoint_id)
            if endpoint is None or not endpoint.enabled:
                return False
            now = self._clock.now()
            before = _summary(endpoint)
            endpoint.enabled = False
            endpoint.updated_at = now
            await uow.webhook_endpoints.save(endpoint)
            await uow.audit.record(
                AuditEntry.of(
                    WEBHOOKS_PRINCIPAL,
                    "disableWebhookEndpoint",
                    "WebhookEndpoint",
                    endpoint.id,
                    now,
                    before=before,
                    after={**_summary(endpoint), "reason": reason},
                )
            )
            owner = await self._owner(uow, endpoint)
            if owner is not None:
                to, name = owner
                await uow.outbox.record(
                    email_event(
                        EmailTemplate.WEBHOOK_ENDPOINT_DISABLED,
                        to,
                        {
                            "contact_name": name,
                            "endpoint_id": f"whe_{endpoint.id.hex}",
                            "host": urlsplit(endpoint.url).hostname or "",
                            "description": endpoint.description,
                            "reason": reason,
                        },
                        now=now,
                        max_attempts=self._max_attempts,
                    )
                )
            await uow.commit()
        return True

    async def _owner(self, uow: UnitOfWork, endpoint: WebhookEndpoint) -> tuple[str, str] | None:
        """(email, name) of who hears that the endpoint was disabled."""
        if endpoint.customer_id is not None:
            customer = await uow.customers.get(endpoint.customer_id)
            if customer is not None:
                return customer.contact_email, customer.contact_name
        if self._staff_email:
            return self._staff_email, "Provision operators"
        return None


def _summary(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit trail keeps (never the secret)."""
    return {
        "url": endpoint.url,
        "eventTypes": [t.value for t in endpoint.event_types],
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "customerId": str(endpoint.customer_id) if endpoint.customer_id else None,
        "partnerId": endpoint.partner_id,
    }


def subscription_data(subscription: Subscription, today: Any) -> dict[str, Any]:
    """The ``data.subscription`` of subscription events (version 1)."""
    term = subscription.current_term(today)
    return {
        "id": str(subscription.id),
        "name": subscription.name,
        "customer_id": str(subscription.customer_id),
        "deployment": subscription.deployment.value,
        "plan": subscription.plan.value,
        "channel": subscription.channel.value,
        "partner_id": subscription.partner_id,
        "seats": subscription.seats(today),
        "starts_on": term.start_date.isoformat(),
        "ends_on": term.end_date.isoformat(),
        "auto_renew": subscription.auto_renew,
        "cancelled": subscription.cancelled_at is not None or subscription.cancel_at_period_end,
    }


async def record_webhooks(
    uow: UnitOfWork,
    event_type: WebhookEventType,
    subscription: Subscription,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
    *,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> Sequence[uuid.UUID]:
    """One delivery row per endpoint that hears ``event_type`` about ``subscription``, in the
    caller's transaction: the mutation commits them with its change and never waits for them."""
    data = {"subscription": subscription_data(subscription, now.date()), **(extra or {})}
    return await record_event(
        uow,
        event_type,
        data,
        now,
        customer_id=subscription.customer_id,
        partner_id=subscription.partner_id,
        subscription_id=subscription.id,
        max_attempts=max_attempts,
    )


async def record_event(
    uow: UnitOfWork,
    event_type: WebhookEventType,
    data: Mapping[str, Any],
    now: datetime,
    *,
    customer_id: uuid.UUID | None,
    partner_id: str | None,
    subscription_id: uuid.UUID | None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> Sequence[uuid.UUID]:
    """The delivery rows of one event about a customer's (or, without one, nobody's: only
    global endpoints hear it) object, in the caller's transaction."""
    events = await delivery_rows(
        uow,
        event_type,
        data,
        now,
        customer_id=customer_id,
        partner_id=partner_id,
        subscription_id=subscription_id,
        max_attempts=max_attempts,
    )
    for event in events:
        await uow.outbox.record(event)
    return [e.id for e in events]


async def delivery_rows(
    uow: UnitOfWork,
    event_type: WebhookEventType,
    data: Mapping[str, Any],
    now: datetime,
    *,
    customer_id: uuid.UUID | None,
    partner_id: str | None,
    subscription_id: uuid.UUID | None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> list[ProvisionEvent]:
    """The rows ``record_event`` writes, not written (a ledger transition's follow-ups)."""
    endpoints = await uow.webhook_endpoints.hearing(event_type, customer_id, partner_id)
    return delivery_events(
        endpoints,
        event_type,
        data,
        customer_id=customer_id,
        partner_id=partner_id,
        now=now,
        max_attempts=max_attempts,
        subscription_id=subscription_id,
    )


def license_data(license_: License) -> dict[str, Any]:
    """``data.license`` (version 1): what the license says, never its key."""
    return {
        "id": str(license_.id),
        "mode": license_.mode.value,
        "plan": license_.plan.value,
        "seats": license_.seats,
        "starts_at": license_.starts_at.isoformat(),
        "expires_at": license_.expires_at.isoformat(),
        "trial": license_.trial,
        "cancelled": license_.cancelled,
        "instance_id": str(license_.instance_id) if license_.instance_id else None,
    }


def trial_data(trial: Trial, namespace: Namespace | None) -> dict[str, Any]:
    """``data.trial`` (version 1), with its namespace when it is a namespace trial."""
    data: dict[str, Any] = {
        "trial": {
            "id": str(trial.id),
            "type": trial.type.value,
            "starts_on": trial.starts_on.isoformat(),
            "ends_on": trial.ends_on.isoformat(),
            "subscription_id": str(trial.subscription_id) if trial.subscription_id else None,
        }
    }
    if namespace is not None:
        data["namespace"] = namespace_data(namespace)
    return data


def namespace_data(namespace: Namespace) -> dict[str, Any]:
    return {
        "id": str(namespace.id),
        "gitlab_id": namespace.gitlab_id,
        "path": namespace.path,
        "plan": namespace.base_plan.value,
    }


async def record_namespace_event(
    uow: UnitOfWork,
    event_type: WebhookEventType,
    namespace: Namespace,
    data: Mapping[str, Any],
    now: datetime,
    *,
    linked: Subscription | None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> Sequence[uuid.UUID]:
    """An event about a namespace: heard by the owners of its linked subscription (if any)
    and by global endpoints."""
    full = dict(data)
    if linked is not None:
        full["subscription"] = subscription_data(linked, now.date())
    return await record_event(
        uow,
        event_type,
        full,
        now,
        customer_id=linked.customer_id if linked else None,
        partner_id=linked.partner_id if linked else None,
        subscription_id=linked.id if linked else None,
        max_attempts=max_attempts,
    )


def _step(event: ProvisionEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "kind": event.kind,
        "status": event.status.value,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "subscription_id": str(event.subscription_id) if event.subscription_id else None,
        "namespace_id": str(event.namespace_id) if event.namespace_id else None,
    }


async def ledger_transition_webhooks(
    uow: UnitOfWork, event: ProvisionEvent, now: datetime, max_attempts: int = DEFAULT_ATTEMPTS
) -> list[ProvisionEvent]:
    """The delivery rows a ledger row's outcome causes, to commit with that outcome: a
    provisioning row that went DEAD is ``provisioning.failed``; a NAMESPACE_PROVISION that
    succeeded is ``namespace.provisioned``; RESOLVED is ``provisioning.resolved``."""
    if event.kind not in PROVISIONING_KINDS:
        return []
    if event.status is ProvisionStatus.DEAD:
        event_type = WebhookEventType.PROVISIONING_FAILED
    elif event.status is ProvisionStatus.RESOLVED:
        event_type = WebhookEventType.PROVISIONING_RESOLVED
    elif event.status is ProvisionStatus.SUCCEEDED and event.kind == "NAMESPACE_PROVISION":
        event_type = WebhookEventType.NAMESPACE_PROVISIONED
    else:
        return []
    data: dict[str, Any] = {"step": _step(event)}
    if event.status is ProvisionStatus.RESOLVED:
        data["step"]["resolved_reason"] = event.resolved_reason
    subscription = None
    namespace = None
    if event.namespace_id is not None:
        namespace = await uow.namespaces.get(event.namespace_id)
        if namespace is not None:
            data["namespace"] = namespace_data(namespace)
    if event.subscription_id is not None:
        subscription = await uow.subscriptions.get(event.subscription_id)
    elif namespace is not None:
        subscription = await uow.subscriptions.linked_to(namespace.id)
    if subscription is not None:
        data["subscription"] = subscription_data(subscription, now.date())
    return await delivery_rows(
        uow,
        event_type,
        data,
        now,
        customer_id=subscription.customer_id if subscription else None,
        partner_id=subscription.partner_id if subscription else None,
        subscription_id=subscription.id if subscription else None,
        max_attempts=max_attempts,
    )
