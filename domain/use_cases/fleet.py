"""The fleet use cases (docs/instances.md): an instance's role, retiring or replacing an
instance (its next seat link gets an end key), the subscription's combined usage, and the one
reminder about instances that stopped syncing.

Who may act: staff, and the customer's owners and admins (a viewer is refused, another
tenant's instance is *not found*); the token needs ``licenses:write`` - these decide which
keys instances receive and what they are billed for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from domain.errors import NotFound, ValidationFailed
from domain.model.audit import AuditEntry
from domain.model.email import EmailTemplate, email_event
from domain.model.enums import SubscriptionStatus
from domain.model.fleet import (
    STALE_AFTER_DAYS,
    FleetUsage,
    InstanceFigures,
    InstanceRole,
    access_end,
    combine,
)
from domain.model.instance import Instance, parse_instance_identifier
from domain.model.license import License
from domain.model.license_attributes import license_attributes
from domain.model.subscription import Subscription
from domain.model.usage import UsageReport
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, LicenseSigner, UnitOfWork
from domain.principal import Principal
from domain.use_cases.licensing import cancellation_of
from domain.use_cases.subscription_changes_shared import may_act_on

STALE_BATCH = 500


@dataclass(frozen=True)
class SetInstanceRole:
    instance_id: uuid.UUID
    role: InstanceRole


@dataclass(frozen=True)
class RetireInstance:
    instance_id: uuid.UUID
    access_ends_on: date | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ReplaceInstance:
    instance_id: uuid.UUID
    new_instance_identifier: str
    access_ends_on: date | None = None
    hostname: str | None = None


@dataclass(frozen=True)
class Retired:
    instance: Instance
    end_key: License
    """The key the retired instance's next seat link receives (expires ``access_ends_on``)."""
    replacement: Instance | None = None


async def fleet_usage(
    uow: UnitOfWork,
    subscription: Subscription,
    today: date,
    incoming: UsageReport | None = None,
) -> FleetUsage:
    """The subscription's usage as the rule combines its instances' latest seat links
    (``incoming``, the report being received, stands for its instance's)."""
    instances = await uow.instances.for_subscription(subscription.id)
    latest = dict(await uow.usage_reports.latest_by_instance(subscription.id))
    if incoming is not None and incoming.instance_id is not None:
        latest[incoming.instance_id] = incoming
    return combine(subscription.seats(today), figures_of(instances, latest))


def figures_of(
    instances: Sequence[Instance], latest: Mapping[uuid.UUID, UsageReport]
) -> list[InstanceFigures]:
    """Each instance (in the order given) with its newest report."""
    figures = []
    for instance in instances:
        report = latest.get(instance.id)
        figures.append(
            InstanceFigures(
                instance.id,
                instance.role,
                report.billable_users if report else None,
                report.max_historical_users if report else None,
                instance.retired,
            )
        )
    return figures


class Fleet:
    """Role changes, retirement and replacement, each in one transaction with its audit."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, signer: LicenseSigner
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._signer = signer

    async def _target(
        self, uow: UnitOfWork, principal: Principal, instance_id: uuid.UUID
    ) -> tuple[Instance, Subscription]:
        instance = await uow.instances.get(instance_id)
        if instance is None:
            raise NotFound("no such instance", path=("instanceId",))
        subscription = await uow.subscriptions.lock(instance.subscription_id)
        assert subscription is not None
        try:
            await may_act_on(uow, principal, subscription)
        except NotFound:
            raise NotFound("no such instance", path=("instanceId",)) from None
        return instance, subscription

    async def set_role(self, principal: Principal, command: SetInstanceRole) -> Instance:
        require_scope(principal, Resource.LICENSES, Access.WRITE)
        async with self._unit_of_work() as uow:
            instance, _ = await self._target(uow, principal, command.instance_id)
            if instance.retired:
                raise ValidationFailed("a retired instance keeps its role", path=("instanceId",))
            before = instance.role
            instance.role = command.role
            await uow.instances.save(instance)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "setInstanceRole",
                    "Instance",
                    instance.id,
                    self._clock.now(),
                    before={"role": before.value},
                    after={"role": instance.role.value},
                )
            )
            await uow.commit()
        return instance

    async def retire(self, principal: Principal, command: RetireInstance) -> Retired:
        require_scope(principal, Resource.LICENSES, Access.WRITE)
        async with self._unit_of_work() as uow:
            instance, subscription = await self._target(uow, principal, command.instance_id)
            ends_on = command.access_ends_on
            end_key = await self._end(uow, principal, instance, subscription, ends_on)
            await uow.commit()
        return Retired(instance, end_key)

    async def replace(self, principal: Principal, command: ReplaceInstance) -> Retired:
        require_scope(principal, Resource.LICENSES, Access.WRITE)
        try:
            identifier = parse_instance_identifier(command.new_instance_identifier)
        except ValidationFailed as bad:
            raise ValidationFailed(bad.message, path=("newInstanceIdentifier",)) from None
        async with self._unit_of_work() as uow:
            instance, subscription = await self._target(uow, principal, command.instance_id)
            if await uow.instances.find(subscription.id, identifier) is not None:
                raise ValidationFailed(
                    "an instance with this identifier is already on the subscription",
                    path=("newInstanceIdentifier",),
                )
            now = self._clock.now()
            new = Instance(
                instance_identifier=identifier,
                subscription_id=subscription.id,
                activated_at=now,
                hostname=(command.hostname or "").strip()[:255] or None,
                role=instance.role,
            )
            await uow.instances.add(new)
            instance.replaced_by = new.id
            ends_on = command.access_ends_on
            end_key = await self._end(uow, principal, instance, subscription, ends_on)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "replaceInstance",
                    "Instance",
                    new.id,
                    now,
                    before={"instance": str(instance.id)},
                    after={"instance": str(new.id), "role": new.role.value},
                )
            )
            await uow.commit()
        return Retired(instance, end_key, new)

    async def _end(
        self,
        uow: UnitOfWork,
        principal: Principal,
        instance: Instance,
        subscription: Subscription,
        requested: date | None,
    ) -> License:
        """Retire ``instance`` and sign its end key: the subscription's license, cancelled,
        expiring on the access end date (GitLab keeps it until then, and then does not fall
        back to an older license of the subscription: protocol §3.3, §3.5)."""
        if instance.retired:
            raise ValidationFailed("the instance is already retired", path=("instanceId",))
        now = self._clock.now()
        today = now.date()
        latest = await uow.licenses.latest_for_subscription(subscription.id)
        if latest is None:
            raise ValidationFailed("the subscription has no license yet", path=("instanceId",))
        ends_on = access_end(requested, today, max(latest.expires_at, today))
        wanted = replace(
            cancellation_of(latest, ends_on), instance_id=instance.id, retires_instance=instance.id
        )
        signed = await self._signer.sign(
            license_attributes(wanted, subscription_name=subscription.name)
        )
        end_key = replace(wanted, license_key=signed, created_at=now)
        await uow.licenses.add(end_key)
        instance.retired_at = now
        instance.access_ends_on = ends_on
        await uow.instances.save(instance)
        await uow.audit.record(
            AuditEntry.of(
                principal,
                "retireInstance",
                "Instance",
                instance.id,
                now,
                before={"retired": False},
                after={
                    "retired": True,
                    "accessEndsOn": ends_on.isoformat(),
                    "endKey": str(end_key.id),
                    "replacedBy": str(instance.replaced_by) if instance.replaced_by else None,
                },
            )
        )
        return end_key


def stale_before(now: datetime, days: int = STALE_AFTER_DAYS) -> datetime:
    """The last sync at or before which an instance counts as stopped syncing."""
    return now - timedelta(days=days)


async def remind_stopped_syncing(
    uow: UnitOfWork, now: datetime, days: int = STALE_AFTER_DAYS, max_attempts: int = 8
) -> int:
    """One email to the customer's contact per instance and silence: the once key names the
    instance and the last sync it is silent since, so the daily sweep sends nothing new, and
    an instance that syncs again and then stops again is reminded again."""
    sent = 0
    for instance in await uow.instances.stale(stale_before(now, days), STALE_BATCH):
        subscription = await uow.subscriptions.get(instance.subscription_id)
        if subscription is None or subscription.status(now.date()) is not SubscriptionStatus.ACTIVE:
            continue
        customer = await uow.customers.get(subscription.customer_id)
        if customer is None:
            continue
        since = instance.last_synced_at or instance.activated_at
        sent += await uow.outbox.record_once(
            email_event(
                EmailTemplate.INSTANCE_STOPPED_SYNCING,
                customer.contact_email,
                {
                    "subscription_name": subscription.name,
                    "contact_name": customer.contact_name,
                    "company": customer.company,
                    "instance_identifier": instance.instance_identifier,
                    "hostname": instance.hostname,
                    "role": instance.role.value,
                    "last_synced_at": since.isoformat(),
                    "days": (now - since).days,
                },
                now=now,
                max_attempts=max_attempts,
                subscription_id=subscription.id,
                instance_id=instance.id,
                once=f"instance_stopped_syncing:{instance.id}:{since.isoformat()}",
            )
        )
    return sent
