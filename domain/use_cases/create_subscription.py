"""createSubscription: staff sell anything; a partner sells through its own channel, to new
customers or to customers it already sold to. A self-managed subscription gets its activation
code, shown once and stored as a hash."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.model.activation_code import hash_activation_code, new_activation_code
from domain.model.audit import AuditEntry
from domain.model.customer import Customer
from domain.model.dedicated import TenantFacts
from domain.model.email import EmailTemplate, email_event
from domain.model.enums import Channel, Deployment, LicensingMode, Plan
from domain.model.idempotency import check_idempotency_key
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Segment, Subscription, Term
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.dedicated import order_tenant
from domain.use_cases.keyed import replay_or_run
from domain.use_cases.webhooks import record_webhooks

OPERATION = "createSubscription"


@dataclass(frozen=True)
class NewCustomer:
    company: str
    contact_name: str
    contact_email: str


@dataclass(frozen=True)
class SegmentSpec:
    start_date: date
    end_date: date
    seats: int


@dataclass(frozen=True)
class CreateSubscription:
    deployment: Deployment
    plan: Plan
    segments: tuple[SegmentSpec, ...]
    customer_id: uuid.UUID | None = None
    new_customer: NewCustomer | None = None
    licensing_mode: LicensingMode | None = None
    max_instances: int = 1
    channel: Channel = Channel.SALES
    partner_id: str | None = None
    auto_renew: bool = True
    reconciliation_enabled: bool = False
    idempotency_key: str | None = None
    dedicated: TenantFacts | None = None
    """A DEDICATED subscription's tenant facts (required for it, refused for the others)."""


@dataclass(frozen=True)
class SubscriptionCreated:
    subscription: Subscription
    activation_code: str | None
    """Only on the first answer: a replay cannot show it again (it is stored hashed)."""
    replayed: bool = False


class CreateSubscriptionHandler:
    """Creates the subscription (and the customer, when new) in one transaction, with its
    activation code and an audit entry."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        new_code: Callable[[], str] = new_activation_code,
        max_attempts: int = 8,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._new_code = new_code
        self._max_attempts = max_attempts
        self._webhook_attempts = webhook_attempts

    async def __call__(
        self, principal: Principal, command: CreateSubscription
    ) -> SubscriptionCreated:
        require_scope(principal, Resource.SUBSCRIPTIONS, Access.WRITE)
        key = check_idempotency_key(command.idempotency_key)
        channel, partner_id = _channel_for(principal, command)
        if (command.customer_id is None) == (command.new_customer is None):
            raise ValidationFailed(
                "give exactly one of `customerId` and `newCustomer`", path=("customerId",)
            )
        request = {k: v for k, v in asdict(command).items() if k != "idempotency_key"}
        code: list[str] = []

        async with self._unit_of_work() as uow:

            async def create() -> dict[str, str]:
                now = self._clock.now()
                customer_id = await self._customer(uow, principal, command)
                subscription = Subscription(
                    name=await uow.subscriptions.next_name(),
                    customer_id=customer_id,
                    deployment=command.deployment,
                    plan=command.plan,
                    channel=channel,
                    partner_id=partner_id,
                    terms=(Term(tuple(Segment(**asdict(s)) for s in command.segments)),),
                    licensing_mode=command.licensing_mode,
                    max_instances=command.max_instances,
                    auto_renew=command.auto_renew,
                    reconciliation_enabled=command.reconciliation_enabled,
                    created_at=now,
                )
                await uow.subscriptions.add(subscription)
                await order_tenant(uow, subscription, command.dedicated, now, self._max_attempts)
                if subscription.deployment is Deployment.SELF_MANAGED:
                    code.append(self._new_code())
                    await uow.activation_codes.set(
                        subscription.id, hash_activation_code(code[0]), now
                    )
                    await uow.outbox.record(await self._code_email(uow, subscription, code[0], now))
                await record_webhooks(
                    uow,
                    WebhookEventType.SUBSCRIPTION_CREATED,
                    subscription,
                    now,
                    max_attempts=self._webhook_attempts,
                )
                await uow.audit.record(
                    AuditEntry.of(
                        principal,
                        OPERATION,
                        "Subscription",
                        subscription.id,
                        now,
                        after=_summary(subscription),
                        idempotency_key=key,
                    )
                )
                return {"subscription_id": str(subscription.id)}

            result, replayed = await replay_or_run(
                uow, principal, OPERATION, key, request, create, clock=self._clock
            )
            subscription = await uow.subscriptions.get(uuid.UUID(result["subscription_id"]))
            await uow.commit()
        assert subscription is not None
        return SubscriptionCreated(
            subscription, None if replayed else code[0] if code else None, replayed
        )

    async def _code_email(
        self, uow: UnitOfWork, subscription: Subscription, code: str, now: datetime
    ) -> ProvisionEvent:
        """The customer's contact gets the code by email. The code rides in the row's secrets
        (it is stored hashed elsewhere, so the worker could not find it again); the EMAIL
        handler clears it once the message is sent, and staff never see it."""
        customer = await uow.customers.get(subscription.customer_id)
        assert customer is not None
        today = now.date()
        term = subscription.current_term(today)
        return email_event(
            EmailTemplate.ACTIVATION_CODE,
            customer.contact_email,
            {
                "subscription_name": subscription.name,
                "contact_name": customer.contact_name,
                "company": customer.company,
                "plan": subscription.plan.value.title(),
                "seats": subscription.seats(today),
                "starts_on": term.start_date.isoformat(),
                "ends_on": term.end_date.isoformat(),
            },
            secrets={"activation_code": code},
            now=now,
            max_attempts=self._max_attempts,
            subscription_id=subscription.id,
        )

    async def _customer(
        self, uow: UnitOfWork, principal: Principal, command: CreateSubscription
    ) -> uuid.UUID:
        if command.new_customer is not None:
            new = command.new_customer
            created = Customer(new.company, new.contact_name, new.contact_email, self._clock.now())
            await uow.customers.add(created)
            return created.id
        assert command.customer_id is not None
        customer = await uow.customers.get(command.customer_id)
        sold_here = customer is not None and (
            principal.kind is not PrincipalKind.PARTNER
            or await uow.customers.bought_from(customer.id, principal.partner_id or "")
        )
        if customer is None or not sold_here:
            # A partner's view of customers is the ones it sold to: others do not exist for it.
            raise NotFound("no such customer", path=("customerId",))
        return customer.id


def _channel_for(principal: Principal, command: CreateSubscription) -> tuple[Channel, str | None]:
    if principal.kind is PrincipalKind.STAFF:
        return command.channel, command.partner_id
    if principal.kind is PrincipalKind.PARTNER:
        if not command.channel.needs_partner:
            raise ValidationFailed(
                "a partner sells through the RESELLER or MARKETPLACE channel", path=("channel",)
            )
        if command.partner_id not in (None, principal.partner_id):
            raise ValidationFailed("a partner sells for itself only", path=("partnerId",))
        return command.channel, principal.partner_id
    raise Forbidden("only staff and partners create subscriptions")


def _summary(subscription: Subscription) -> dict[str, object]:
    return {
        "name": subscription.name,
        "customerId": str(subscription.customer_id),
        "deployment": subscription.deployment.value,
        "plan": subscription.plan.value,
        "channel": subscription.channel.value,
        "partnerId": subscription.partner_id,
        "segments": [
            [s.start_date.isoformat(), s.end_date.isoformat(), s.seats]
            for s in subscription.segments
        ],
        "licensingMode": subscription.licensing_mode.value if subscription.licensing_mode else None,
        "maxInstances": subscription.max_instances,
        "autoRenew": subscription.auto_renew,
    }
