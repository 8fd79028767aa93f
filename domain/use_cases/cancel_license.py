"""cancelLicense: record a cancellation key for an online cloud license, which the instance's
next seat link delivers (protocol §3.3 ``generated_from_cancellation``, §4)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from domain.errors import LicenseAlreadyCancelled, NotFound, ValidationFailed
from domain.model.audit import AuditEntry
from domain.model.enums import LicensingMode
from domain.model.idempotency import check_idempotency_key
from domain.model.license import License
from domain.model.license_attributes import license_attributes
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, LicenseSigner, UnitOfWork
from domain.principal import Principal
from domain.use_cases.keyed import replay_or_run
from domain.use_cases.licensing import cancellation_of
from domain.use_cases.subscription_changes_shared import may_act_on

OPERATION = "cancelLicense"


@dataclass(frozen=True)
class CancelLicense:
    license_id: uuid.UUID
    reason: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class LicenseCancelled:
    cancellation: License
    """The cancellation key: the subscription's newest license, cancelled and expired today."""
    replayed: bool = False


class CancelLicenseHandler:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, signer: LicenseSigner
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._signer = signer

    async def __call__(self, principal: Principal, command: CancelLicense) -> LicenseCancelled:
        """Cancel the subscription's license stream that ``command.license_id`` belongs to.

        ``NotFound`` outside the caller's reach (another tenant's license), ``Forbidden`` for
        a viewer, ``ValidationFailed`` for an offline cloud or legacy license (those are files,
        not synced), ``LicenseAlreadyCancelled`` when a cancellation key exists. The key and
        its audit entry are written in one transaction.
        """
        require_scope(principal, Resource.LICENSES, Access.WRITE)
        key = check_idempotency_key(command.idempotency_key)
        request = {"license": str(command.license_id)}
        async with self._unit_of_work() as uow:

            async def run() -> dict[str, Any]:
                return {"license": str((await self._cancel(uow, principal, command)).id)}

            stored, replayed = await replay_or_run(
                uow, principal, OPERATION, key, request, run, clock=self._clock
            )
            cancellation = await uow.licenses.get(uuid.UUID(stored["license"]))
            await uow.commit()
        assert cancellation is not None
        return LicenseCancelled(cancellation, replayed)

    async def _cancel(
        self, uow: UnitOfWork, principal: Principal, command: CancelLicense
    ) -> License:
        target = await uow.licenses.get(command.license_id)
        if target is None:
            raise NotFound("no such license", path=("licenseId",))
        # Locked: a concurrent seat link or cancellation waits, so one key is issued.
        subscription = await uow.subscriptions.lock(target.subscription_id)
        assert subscription is not None
        try:
            await may_act_on(uow, principal, subscription)
        except NotFound:
            raise NotFound("no such license", path=("licenseId",)) from None
        if target.mode is not LicensingMode.ONLINE_CLOUD:
            raise ValidationFailed(
                "only an online cloud license is cancelled with a key; offline and legacy"
                " licenses are files the instance loads",
                path=("licenseId",),
            )
        latest = await uow.licenses.latest_for_subscription(subscription.id) or target
        if target.cancelled or latest.cancelled:
            raise LicenseAlreadyCancelled("the license is already cancelled", path=("licenseId",))
        now = self._clock.now()
        wanted = cancellation_of(latest, now.date())
        signed = await self._signer.sign(
            license_attributes(wanted, subscription_name=subscription.name)
        )
        cancellation = replace(wanted, license_key=signed, created_at=now)
        await uow.licenses.add(cancellation)
        await uow.audit.record(
            AuditEntry.of(
                principal,
                OPERATION,
                "License",
                cancellation.id,
                now,
                before={"license": str(latest.id), "cancelled": False},
                after={
                    "license": str(cancellation.id),
                    "cancelled": True,
                    "expiresAt": cancellation.expires_at.isoformat(),
                    "reason": command.reason,
                },
                idempotency_key=command.idempotency_key,
                reason=command.reason,
            )
        )
        return cancellation
