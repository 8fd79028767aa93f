"""GitLab Dedicated tenants (docs/dedicated.md): the order starts the lifecycle, ledger steps
drive it (DEDICATED_TENANT rows, one ``step`` each), the provisioner's callbacks move it on,
and two scheduled sweeps deliver renewals and deprovision cancelled tenants.

Every step is idempotent: it checks the tenant's state before acting, and every call to the
provisioner carries the row's idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.errors import NotFound, ValidationFailed
from domain.model.dedicated import (
    DEDICATED_TENANT_KIND,
    DedicatedTenant,
    TenantFacts,
    TenantState,
    TenantStep,
    TenantTransitionRefused,
    deprovision_date,
    reminder_due,
    renewal_due,
)
from domain.model.email import EmailTemplate, email_event
from domain.model.enums import Deployment
from domain.model.license import License
from domain.model.license_attributes import license_attributes
from domain.model.provision_event import ProvisionEvent
from domain.model.subscription import Subscription
from domain.policy import Access, Reach, Resource, reach, require_scope
from domain.ports import Clock, LicenseSigner, TenantProvisioner, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.licensing import same_content, wanted_license

WORKER = Principal(PrincipalKind.STAFF, subject="provision-worker")
"""Who the audit log names for what the worker does on its own."""


def tenant_step(
    tenant: DedicatedTenant,
    step: TenantStep,
    now: datetime,
    max_attempts: int,
    *,
    correlation_id: str | None = None,
    **extra: Any,
) -> ProvisionEvent:
    return ProvisionEvent.new(
        DEDICATED_TENANT_KIND,
        {"step": step.value, "tenant_id": str(tenant.id), **extra},
        now=now,
        max_attempts=max_attempts,
        correlation_id=correlation_id,
        subscription_id=tenant.subscription_id,
    )


async def order_tenant(
    uow: UnitOfWork,
    subscription: Subscription,
    facts: TenantFacts | None,
    now: datetime,
    max_attempts: int,
) -> DedicatedTenant | None:
    """In the order's transaction: a DEDICATED subscription gets its tenant (ORDERED) and the
    invitation step; the other deployments take no tenant facts."""
    if subscription.deployment is not Deployment.DEDICATED:
        if facts is not None:
            raise ValidationFailed(
                "only a DEDICATED subscription has a tenant", path=("dedicated",)
            )
        return None
    if facts is None:
        return None  # sold before tenants were tracked, or provisioned by hand (docs/dedicated.md)
    tenant = DedicatedTenant.order(subscription.id, facts, now)
    await uow.dedicated_tenants.add(tenant)
    await uow.outbox.record(tenant_step(tenant, TenantStep.INVITE, now, max_attempts))
    return tenant


async def request_change(
    uow: UnitOfWork,
    subscription: Subscription,
    now: datetime,
    *,
    reason: str,
    deliver: bool = False,
    facts: TenantFacts | None = None,
    max_attempts: int = 8,
) -> None:
    """In a subscription change's transaction: an ACTIVE tenant whose seats (expected users)
    or facts grow is sent a change; a tenant not yet ACTIVE gets the new facts with its
    provisioning, and later its license says the new seats anyway."""
    tenant = await uow.dedicated_tenants.for_subscription(subscription.id)
    if tenant is None:
        return
    wanted = facts or tenant.facts
    seats = subscription.seats(now.date())
    if seats > wanted.expected_users:
        wanted = replace(wanted, expected_users=seats)
    if wanted == tenant.facts:
        if deliver and tenant.state is TenantState.ACTIVE:
            # Same size, new license content (a renewal bought, add-ons): deliver it.
            await uow.outbox.record(
                tenant_step(tenant, TenantStep.DELIVER_LICENSE, now, max_attempts)
            )
        return
    if tenant.state is not TenantState.ACTIVE:
        tenant.facts = tenant.facts.changed_to(wanted)
        await uow.dedicated_tenants.save(tenant)
        return
    tenant.change_requested(now, wanted, reason)
    await uow.dedicated_tenants.save(tenant)
    await uow.outbox.record(tenant_step(tenant, TenantStep.CHANGE, now, max_attempts))


@dataclass(frozen=True)
class DedicatedSettings:
    max_attempts: int = 8
    renewal_days: int = 30


class DedicatedSteps:
    """Runs DEDICATED_TENANT rows (the worker's handler for that kind)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        provisioner: TenantProvisioner,
        signer: LicenseSigner,
        clock: Clock,
        settings: DedicatedSettings = DedicatedSettings(),
    ) -> None:
        self._uow = unit_of_work
        self._provisioner = provisioner
        self._signer = signer
        self._clock = clock
        self._settings = settings

    async def __call__(self, event: ProvisionEvent) -> None:
        step = TenantStep(event.payload["step"])
        tenant_id = uuid.UUID(event.payload["tenant_id"])
        if step is TenantStep.INVITE:
            await self._invite(tenant_id, event)
            return
        async with self._uow() as uow:
            tenant = await uow.dedicated_tenants.get(tenant_id)
            subscription = await uow.subscriptions.get(tenant.subscription_id) if tenant else None
        if tenant is None or subscription is None:
            return  # gone: nothing left to do
        try:
            if step is TenantStep.PROVISION:
                await self._provision(tenant, subscription, event)
            elif step is TenantStep.CHANGE:
                if tenant.state is TenantState.CHANGING:
                    await self._provisioner.change(tenant.id, tenant.facts, event.idempotency_key)
            elif step is TenantStep.DEPROVISION:
                if tenant.state is TenantState.DEPROVISIONING:
                    await self._provisioner.deprovision(tenant.id, event.idempotency_key)
            elif step is TenantStep.DELIVER_LICENSE:
                await self._deliver(tenant, event)
        except TenantTransitionRefused:
            raise
        except Exception as error:
            await self._note_failure(tenant.id, f"{step.value}: {type(error).__name__}: {error}")
            raise

    async def _invite(self, tenant_id: uuid.UUID, event: ProvisionEvent) -> None:
        async with self._uow() as uow:
            tenant = await uow.dedicated_tenants.get(tenant_id)
            if tenant is None or tenant.state is not TenantState.ORDERED:
                return  # done by an earlier attempt
            subscription = await uow.subscriptions.get(tenant.subscription_id)
            assert subscription is not None
            customer = await uow.customers.get(subscription.customer_id)
            assert customer is not None
            now = self._clock.now()
            for contact in tenant.facts.onboarding_contacts:
                await uow.outbox.record(
                    email_event(
                        EmailTemplate.DEDICATED_INVITATION,
                        contact,
                        {
                            "subscription_name": subscription.name,
                            "contact_name": contact,
                            "company": customer.company,
                            "expected_users": tenant.facts.expected_users,
                            "storage_gib": tenant.facts.storage_gib,
                            "primary_region": tenant.facts.primary_region,
                        },
                        now=now,
                        max_attempts=self._settings.max_attempts,
                        correlation_id=event.correlation_id,
                        subscription_id=subscription.id,
                    )
                )
            tenant.invited(now)
            await uow.dedicated_tenants.save(tenant)
            await uow.outbox.record(
                tenant_step(
                    tenant,
                    TenantStep.PROVISION,
                    now,
                    self._settings.max_attempts,
                    correlation_id=event.correlation_id,
                )
            )
            await uow.commit()

    async def _provision(
        self, tenant: DedicatedTenant, subscription: Subscription, event: ProvisionEvent
    ) -> None:
        if tenant.state not in (TenantState.ONBOARDING_INVITED, TenantState.PROVISIONING):
            return
        await self._provisioner.provision(
            tenant.id, subscription.name, tenant.facts, event.idempotency_key
        )
        async with self._uow() as uow:
            locked = await uow.dedicated_tenants.get(tenant.id)
            if locked is not None and locked.state is TenantState.ONBOARDING_INVITED:
                locked.provisioning_requested(self._clock.now())
                await uow.dedicated_tenants.save(locked)
            elif locked is not None and locked.last_error is not None:
                locked.last_error = None
                await uow.dedicated_tenants.save(locked)
            await uow.commit()

    async def _deliver(self, tenant: DedicatedTenant, event: ProvisionEvent) -> None:
        """Sign (or reuse) the license for the term the row names (today's, or the next term
        for a renewal) and install it on the tenant."""
        if tenant.state in (TenantState.DEPROVISIONING, TenantState.GONE):
            return
        as_of = event.payload.get("as_of")
        async with self._uow() as uow:
            subscription = await uow.subscriptions.lock(tenant.subscription_id)
            assert subscription is not None
            customer = await uow.customers.get(subscription.customer_id)
            assert customer is not None
            now = self._clock.now()
            day = datetime.fromisoformat(as_of).date() if as_of else now.date()
            latest = await uow.licenses.latest_for_subscription(subscription.id)
            wanted = wanted_license(subscription, customer, latest, max(day, now.date()))
            if latest is not None and same_content(latest, wanted):
                license_ = latest
            else:
                signed = await self._signer.sign(
                    license_attributes(wanted, subscription_name=subscription.name)
                )
                license_ = replace(wanted, license_key=signed, created_at=now)
                await uow.licenses.add(license_)
            await uow.commit()
        await self._provisioner.deliver_license(
            tenant.id, license_.license_key, license_.expires_at, event.idempotency_key
        )
        async with self._uow() as uow:
            locked = await uow.dedicated_tenants.get(tenant.id)
            if locked is not None:
                locked.license_id = license_.id
                locked.last_error = None
                await uow.dedicated_tenants.save(locked)
            await uow.commit()

    async def _note_failure(self, tenant_id: uuid.UUID, message: str) -> None:
        async with self._uow() as uow:
            tenant = await uow.dedicated_tenants.get(tenant_id)
            if tenant is not None:
                tenant.step_failed(message)
                await uow.dedicated_tenants.save(tenant)
            await uow.commit()


@dataclass(frozen=True)
class TenantCallback:
    """What the provisioner reports: ``state`` reached (ACTIVE, GONE), or ``failed``."""

    callback_id: str
    tenant_id: uuid.UUID
    event: str
    """``state_reached`` or ``failed``."""
    state: TenantState | None
    reason: str
    tenant_url: str | None = None


async def apply_callback(
    uow_factory: Callable[[], UnitOfWork], clock: Clock, callback: TenantCallback, max_attempts: int
) -> bool:
    """Apply the callback once (keyed on its id); False when it was applied before. ACTIVE
    sends the license to the tenant. A move the tenant's state refuses raises."""
    if callback.event not in ("state_reached", "failed"):
        raise ValidationFailed("event is state_reached or failed", path=("event",))
    async with uow_factory() as uow:
        now = clock.now()
        tenant = await uow.dedicated_tenants.get(callback.tenant_id)
        if tenant is None:
            raise NotFound("no such tenant", path=("tenant_id",))
        if not await uow.dedicated_tenants.first_callback(callback.callback_id, now):
            return False
        if callback.event == "failed":
            tenant.failed(now, callback.reason or "the provisioner reported a failure")
        else:
            if callback.state is None:
                raise ValidationFailed("state_reached needs a state", path=("state",))
            tenant.reached(callback.state, now, callback.reason or f"{callback.state} reached")
            if callback.tenant_url:
                tenant.tenant_url = callback.tenant_url
            if callback.state is TenantState.ACTIVE:
                await uow.outbox.record(
                    tenant_step(tenant, TenantStep.DELIVER_LICENSE, now, max_attempts)
                )
        await uow.dedicated_tenants.save(tenant)
        await uow.commit()
    return True


class RetryTenant:
    """retryDedicatedTenant: staff send a FAILED tenant's step again."""

    _STEPS = {
        TenantState.PROVISIONING: TenantStep.PROVISION,
        TenantState.CHANGING: TenantStep.CHANGE,
        TenantState.DEPROVISIONING: TenantStep.DEPROVISION,
    }

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, max_attempts: int = 8
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._max_attempts = max_attempts

    async def __call__(self, principal: Principal, tenant_id: uuid.UUID) -> DedicatedTenant:
        require_scope(principal, Resource.PROVISION_EVENTS, Access.WRITE)
        if reach(principal, Resource.PROVISION_EVENTS) is not Reach.EVERYTHING:
            raise NotFound("no such tenant", path=("id",))
        async with self._uow() as uow:
            tenant = await uow.dedicated_tenants.get(tenant_id)
            if tenant is None:
                raise NotFound("no such tenant", path=("id",))
            now = self._clock.now()
            back = tenant.retried(now)
            await uow.dedicated_tenants.save(tenant)
            await uow.outbox.record(tenant_step(tenant, self._STEPS[back], now, self._max_attempts))
            await uow.commit()
        return tenant


class TenantSweeps:
    """The scheduled sweeps: renewals (the next term's license delivered ``renewal_days``
    before the delivered one expires) and cancellations (reminders before, deprovisioning on
    the day). Each fact once (``once`` keys), so overlapping runs change nothing."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        settings: DedicatedSettings = DedicatedSettings(),
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._settings = settings

    async def __call__(self) -> None:
        async with self._uow() as uow:
            tenants = await uow.dedicated_tenants.active()
            for tenant in tenants:
                subscription = await uow.subscriptions.get(tenant.subscription_id)
                if subscription is not None:
                    await self._sweep(uow, tenant, subscription)
            await uow.commit()

    async def _sweep(
        self, uow: UnitOfWork, tenant: DedicatedTenant, subscription: Subscription
    ) -> None:
        now = self._clock.now()
        today = now.date()
        ends = deprovision_date(
            subscription.cancelled_at.date() if subscription.cancelled_at else None,
            subscription.cancel_at_period_end,
            subscription.end_date,
        )
        if ends is not None:
            if today >= ends:
                tenant.deprovisioning_requested(now, f"subscription cancelled, ended {ends}")
                await uow.dedicated_tenants.save(tenant)
                await uow.outbox.record(
                    tenant_step(tenant, TenantStep.DEPROVISION, now, self._settings.max_attempts)
                )
                return
            days = reminder_due(today, ends)
            if days is not None:
                await self._remind(uow, tenant, subscription, ends, days, now)
            return
        delivered: License | None = (
            await uow.licenses.get(tenant.license_id) if tenant.license_id else None
        )
        if delivered is None:
            return
        following = [t for t in subscription.terms if t.start_date >= delivered.expires_at]
        next_start = following[0].start_date if following else None
        if renewal_due(delivered.expires_at, next_start, today, self._settings.renewal_days):
            assert next_start is not None
            event = tenant_step(
                tenant,
                TenantStep.DELIVER_LICENSE,
                now,
                self._settings.max_attempts,
                as_of=next_start.isoformat(),
                once=f"dedicated_renewal:{tenant.id}:{next_start.isoformat()}",
            )
            await uow.outbox.record_once(event)

    async def _remind(
        self,
        uow: UnitOfWork,
        tenant: DedicatedTenant,
        subscription: Subscription,
        ends: Any,
        days: int,
        now: datetime,
    ) -> None:
        customer = await uow.customers.get(subscription.customer_id)
        assert customer is not None
        for contact in (customer.contact_email, *tenant.facts.onboarding_contacts):
            await uow.outbox.record_once(
                email_event(
                    EmailTemplate.DEDICATED_DEPROVISIONING,
                    contact,
                    {
                        "subscription_name": subscription.name,
                        "contact_name": customer.contact_name,
                        "company": customer.company,
                        "deprovision_on": ends.isoformat(),
                        "days_left": (ends - now.date()).days,
                    },
                    now=now,
                    max_attempts=self._settings.max_attempts,
                    subscription_id=subscription.id,
                    once=f"dedicated_deprovisioning:{tenant.id}:{days}:{contact}",
                )
            )
