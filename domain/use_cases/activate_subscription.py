"""activateSubscription: a self-managed instance turns an activation code into a license.

Rules (DESIGN §2, issue 4): the code's format is checked before any lookup; at most
``maxInstances`` distinct instances; the same instance again gets the same key; an expired or
cancelled subscription cannot activate; nothing about seats or true-ups blocks activation
(overage is reported, not enforced). The license covers the whole current term (a multi-year
deal never expires after year one) with the current segment's seats, and a new key is signed
only when that content changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import (
    ActivationCodeInvalid,
    InstanceLimitReached,
    SubscriptionNotActive,
    SubscriptionNotCloudLicensable,
    ValidationFailed,
)
from domain.model.activation_code import hash_activation_code, is_activation_code
from domain.model.audit import AuditEntry
from domain.model.customer import Customer
from domain.model.email import EmailTemplate, email_event
from domain.model.enums import Deployment, LicensingMode, SubscriptionStatus
from domain.model.idempotency import check_idempotency_key
from domain.model.instance import Instance, parse_instance_identifier
from domain.model.license import License
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Subscription, Term
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.ports import Clock, LicenseSigner, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.keyed import replay_or_run
from domain.use_cases.licensing import issue_current_license
from domain.use_cases.webhooks import record_webhooks

OPERATION = "activateSubscription"
LICENSE_EMAIL_ATTEMPTS = 8


@dataclass(frozen=True)
class ActivateSubscription:
    activation_code: str
    instance_identifier: str
    hostname: str | None = None
    gitlab_version: str | None = None
    automated: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Activated:
    subscription: Subscription
    customer: Customer
    license: License
    instance: Instance
    future_terms: tuple[Term, ...]
    replayed: bool = False


class ActivateSubscriptionHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        signer: LicenseSigner,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._signer = signer
        self._webhook_attempts = webhook_attempts

    async def __call__(self, command: ActivateSubscription) -> Activated:
        # The code is the credential, and its format is checked before anything is looked up.
        if not is_activation_code(command.activation_code):
            raise ActivationCodeInvalid(
                "invalid activation code: 24 characters from A-Z and 0-9",
                path=("activationCode",),
            )
        identifier = parse_instance_identifier(command.instance_identifier)
        key = check_idempotency_key(command.idempotency_key)
        caller = Principal(PrincipalKind.INSTANCE, subject=identifier)
        request = {
            "code": hash_activation_code(command.activation_code),
            "instance": identifier,
        }
        async with self._unit_of_work() as uow:
            subscription_id = await uow.activation_codes.subscription_for(
                hash_activation_code(command.activation_code)
            )
            if subscription_id is None:
                raise ActivationCodeInvalid("invalid activation code", path=("activationCode",))
            results: list[Activated] = []

            async def activate() -> dict[str, Any]:
                activated = await self._activate(uow, caller, subscription_id, identifier, command)
                results.append(activated)
                return {
                    "license": str(activated.license.id),
                    "instance": str(activated.instance.id),
                }

            _, replayed = await replay_or_run(
                uow, caller, OPERATION, key, request, activate, clock=self._clock
            )
            if replayed:
                # The same instance asking again: the same answer (the license may have
                # changed since, so it is worked out again; unchanged content keeps its key).
                activated = await self._activate(uow, caller, subscription_id, identifier, command)
                results.append(Activated(**{**activated.__dict__, "replayed": True}))
            await uow.commit()
        return results[-1]

    async def _activate(
        self,
        uow: UnitOfWork,
        caller: Principal,
        subscription_id: Any,
        identifier: str,
        command: ActivateSubscription,
    ) -> Activated:
        now = self._clock.now()
        today = now.date()
        # Locked: concurrent activations of one subscription queue here, so the instance
        # limit holds.
        subscription = await uow.subscriptions.lock(subscription_id)
        assert subscription is not None
        status = subscription.status(today)
        if status in (SubscriptionStatus.EXPIRED, SubscriptionStatus.CANCELLED):
            raise SubscriptionNotActive(
                f"the subscription is {status.value.lower()}; it cannot be activated",
                path=("activationCode",),
            )
        if subscription.deployment is not Deployment.SELF_MANAGED or (
            subscription.licensing_mode is LicensingMode.LEGACY
        ):
            raise SubscriptionNotCloudLicensable(
                "activation code without cloud compatible subscription",
                path=("activationCode",),
            )
        customer = await uow.customers.get(subscription.customer_id)
        assert customer is not None
        instances = list(await uow.instances.for_subscription(subscription.id))
        instance = next((i for i in instances if i.instance_identifier == identifier), None)
        if instance is not None and instance.retired:
            raise ValidationFailed(
                "this instance was retired from the subscription; activate its replacement",
                path=("instanceIdentifier",),
            )
        if instance is None:
            # Retired and replaced instances no longer take a place (docs/instances.md).
            if sum(not i.retired for i in instances) >= subscription.max_instances:
                raise InstanceLimitReached(
                    f"{subscription.max_instances} instance(s) already activated this"
                    " subscription; deactivate one or raise maxInstances",
                    path=("instanceIdentifier",),
                )
            instance = Instance(
                instance_identifier=identifier,
                subscription_id=subscription.id,
                activated_at=now,
                hostname=_text(command.hostname, "hostname"),
                gitlab_version=_text(command.gitlab_version, "gitlabVersion"),
            )
            await uow.instances.add(instance)
            await uow.audit.record(
                AuditEntry.of(
                    caller,
                    OPERATION,
                    "Instance",
                    instance.id,
                    now,
                    after={"subscription": subscription.name, "hostname": instance.hostname},
                    idempotency_key=command.idempotency_key,
                )
            )
            await record_webhooks(
                uow,
                WebhookEventType.INSTANCE_ACTIVATED,
                subscription,
                now,
                {
                    "instance": {
                        "id": str(instance.id),
                        "hostname": instance.hostname,
                        "gitlab_version": instance.gitlab_version,
                        "activated_at": now.isoformat().replace("+00:00", "Z"),
                    }
                },
                max_attempts=self._webhook_attempts,
            )
        issued = await issue_current_license(
            uow,
            self._signer,
            subscription,
            customer,
            now,
            caller=caller,
            operation=OPERATION,
            instance_id=instance.id,
            idempotency_key=command.idempotency_key,
            webhook_attempts=self._webhook_attempts,
        )
        if issued.created_at == now:  # newly signed: deliver it by email too
            await uow.outbox.record(_license_email(subscription, customer, issued, instance, now))
        future = subscription.future_terms(today)
        return Activated(subscription, customer, issued, instance, future)


def _license_email(
    subscription: Subscription,
    customer: Customer,
    issued: License,
    instance: Instance,
    now: datetime,
) -> ProvisionEvent:
    """A new license goes to the customer's contact too, attached (by id: its key is read when
    the email is built, so the row holds no key)."""
    return email_event(
        EmailTemplate.LICENSE_DELIVERED,
        customer.contact_email,
        {
            "subscription_name": subscription.name,
            "contact_name": customer.contact_name,
            "company": customer.company,
            "plan": issued.plan.value.title(),
            "seats": issued.seats,
            "starts_on": issued.starts_at.isoformat(),
            "expires_on": issued.expires_at.isoformat(),
            "hostname": instance.hostname,
        },
        license_id=issued.id,
        now=now,
        max_attempts=LICENSE_EMAIL_ATTEMPTS,
        subscription_id=subscription.id,
        instance_id=instance.id,
    )


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > 255:
        raise ValidationFailed(f"{name} is longer than 255 characters", path=(name,))
    return cleaned or None
