"""changeDedicatedTenant: grow an ACTIVE Dedicated tenant's storage (and set its expected
users) - the same ledger change step a seat increase sends (docs/dedicated.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import NotFound
from domain.model.audit import AuditEntry
from domain.model.channel_policy import SubscriptionAction
from domain.model.dedicated import DedicatedTenant, TenantStep
from domain.model.subscription import Subscription
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.dedicated import tenant_step
from domain.use_cases.subscription_changes_shared import run_subscription_change


@dataclass(frozen=True)
class ChangeDedicatedTenant:
    subscription_id: uuid.UUID
    storage_gib: int
    expected_users: int
    idempotency_key: str | None = None


def _size(tenant: DedicatedTenant) -> dict[str, Any]:
    return {
        "storageGib": tenant.facts.storage_gib,
        "expectedUsers": tenant.facts.expected_users,
        "state": tenant.state.value,
    }


class ChangeDedicatedTenantHandler:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, max_attempts: int = 8
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._max_attempts = max_attempts

    async def __call__(
        self, principal: Principal, command: ChangeDedicatedTenant
    ) -> DedicatedTenant:
        async def change(uow: UnitOfWork, sub: Subscription, now: datetime) -> dict[str, Any]:
            tenant = await uow.dedicated_tenants.for_subscription(sub.id)
            if tenant is None:
                raise NotFound(
                    "this subscription has no Dedicated tenant", path=("subscriptionId",)
                )
            before = _size(tenant)
            wanted = tenant.resized(
                command.storage_gib, command.expected_users, sub.seats(now.date())
            )
            tenant.change_requested(now, wanted, "changeDedicatedTenant")
            await uow.dedicated_tenants.save(tenant)
            await uow.outbox.record(tenant_step(tenant, TenantStep.CHANGE, now, self._max_attempts))
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "changeDedicatedTenant",
                    "DedicatedTenant",
                    tenant.id,
                    now,
                    before=before,
                    after=_size(tenant),
                )
            )
            return {"tenantId": str(tenant.id)}

        changed = await run_subscription_change(
            self._unit_of_work,
            self._clock,
            principal,
            subscription_id=command.subscription_id,
            operation="changeDedicatedTenant",
            idempotency_key=command.idempotency_key,
            request={
                "id": str(command.subscription_id),
                "storageGib": command.storage_gib,
                "expectedUsers": command.expected_users,
            },
            apply=change,
            # Growing the tenant changes what was bought, as seats do: a partner-sold
            # subscription's customer asks the partner (docs/dedicated.md).
            actions=(SubscriptionAction.ADD_SEATS,),
        )
        async with self._unit_of_work() as uow:
            tenant = await uow.dedicated_tenants.for_subscription(changed.subscription.id)
        assert tenant is not None
        return tenant
