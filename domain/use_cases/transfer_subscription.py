"""transferSubscription: staff move a subscription between channels (direct and a partner, or
from one partner to another), with a reason, effective at a moment. A moment not after now
applies at once; a later one is recorded PENDING and applied by ``ApplyDueTransfers`` (the
worker's ``transfers.apply_due`` job) once the Clock reaches it. Both are audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.errors import NotFound, ValidationFailed
from domain.model.audit import SYSTEM_ACTOR, AuditEntry
from domain.model.channel_policy import SubscriptionAction
from domain.model.channel_transfer import ChannelTransfer, check_destination
from domain.model.enums import Channel
from domain.model.idempotency import check_idempotency_key
from domain.model.partner import check_partner_id
from domain.model.subscription import Subscription
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.keyed import replay_or_run
from domain.use_cases.subscription_changes_shared import check_channel_policy

OPERATION = "transferSubscription"
APPLY_OPERATION = "applyChannelTransfer"


@dataclass(frozen=True)
class TransferSubscription:
    subscription_id: uuid.UUID
    to_channel: Channel
    reason: str
    to_partner_id: str | None = None
    effective_at: datetime | None = None
    """None: now."""
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Transferred:
    transfer: ChannelTransfer
    subscription: Subscription
    replayed: bool = False


def _channel_of(subscription: Subscription) -> dict[str, Any]:
    return {"channel": subscription.channel.value, "partnerId": subscription.partner_id}


async def apply_transfer(
    uow: UnitOfWork,
    transfer: ChannelTransfer,
    subscription: Subscription,
    now: datetime,
    *,
    actor_kind: str,
    actor_subject: str | None,
    idempotency_key: str | None = None,
) -> None:
    """Move the subscription, save both, and audit the move (by whoever asked for it)."""
    before = _channel_of(subscription)
    transfer.apply(subscription, now)
    await uow.subscriptions.save(subscription)
    await uow.channel_transfers.save(transfer)
    entry = AuditEntry.of(
        Principal(PrincipalKind.STAFF),
        APPLY_OPERATION,
        "Subscription",
        subscription.id,
        now,
        before=before,
        after={**_channel_of(subscription), "transferId": str(transfer.id)},
        idempotency_key=idempotency_key,
        reason=transfer.reason,
    )
    await uow.audit.record(replace(entry, actor_kind=actor_kind, actor_subject=actor_subject))


class TransferSubscriptionHandler:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    async def __call__(self, principal: Principal, command: TransferSubscription) -> Transferred:
        require_scope(principal, Resource.SUBSCRIPTIONS, Access.WRITE)
        key = check_idempotency_key(command.idempotency_key)
        if command.to_partner_id is not None:
            check_partner_id(command.to_partner_id, path=("toPartnerId",))
        check_destination(command.to_channel, command.to_partner_id)
        moment = command.effective_at
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise ValidationFailed("effectiveAt needs a UTC offset", path=("effectiveAt",))
        async with self._unit_of_work() as uow:

            async def run() -> dict[str, Any]:
                subscription = await uow.subscriptions.lock(command.subscription_id)
                if subscription is None:
                    raise NotFound("no such subscription", path=("subscriptionId",))
                await check_channel_policy(
                    uow, principal, subscription, (SubscriptionAction.TRANSFER,)
                )
                partner_id = command.to_partner_id
                if partner_id is not None and await uow.partners.get(partner_id) is None:
                    raise NotFound("no such partner", path=("toPartnerId",))
                now = self._clock.now()
                transfer = ChannelTransfer.of(
                    subscription,
                    command.to_channel,
                    command.to_partner_id,
                    effective_at=command.effective_at or now,
                    reason=command.reason,
                    now=now,
                    requested_by=principal.subject,
                )
                superseded = []
                for pending in await uow.channel_transfers.pending_for(subscription.id):
                    pending.supersede()
                    await uow.channel_transfers.save(pending)
                    superseded.append(str(pending.id))
                await uow.channel_transfers.add(transfer)
                await uow.audit.record(
                    AuditEntry.of(
                        principal,
                        OPERATION,
                        "Subscription",
                        subscription.id,
                        now,
                        before={**_channel_of(subscription), "supersededTransfers": []},
                        after={
                            "transferId": str(transfer.id),
                            "toChannel": transfer.to_channel.value,
                            "toPartnerId": transfer.to_partner_id,
                            "effectiveAt": transfer.effective_at.isoformat(),
                            "reason": transfer.reason,
                            "supersededTransfers": superseded,
                        },
                        idempotency_key=key,
                        reason=transfer.reason,
                    )
                )
                if transfer.is_due(now):
                    await apply_transfer(
                        uow,
                        transfer,
                        subscription,
                        now,
                        actor_kind=principal.kind.value,
                        actor_subject=principal.subject,
                        idempotency_key=key,
                    )
                return {"transferId": str(transfer.id)}

            stored, replayed = await replay_or_run(
                uow,
                principal,
                OPERATION,
                key,
                {
                    "id": str(command.subscription_id),
                    "toChannel": command.to_channel.value,
                    "toPartnerId": command.to_partner_id,
                    "effectiveAt": command.effective_at.isoformat()
                    if command.effective_at
                    else None,
                    "reason": command.reason,
                },
                run,
                clock=self._clock,
            )
            transfer = await uow.channel_transfers.get(uuid.UUID(stored["transferId"]))
            subscription = await uow.subscriptions.get(command.subscription_id)
            await uow.commit()
        assert transfer is not None
        assert subscription is not None
        return Transferred(transfer, subscription, replayed)


class ApplyDueTransfers:
    """Applies the PENDING transfers whose moment has come: each once, even when two workers
    run at the same time (the rows are claimed with SKIP LOCKED inside the transaction)."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], clock: Clock, batch: int = 100
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._batch = batch

    async def __call__(self) -> int:
        """How many transfers it applied (it runs batches until none is due)."""
        applied = 0
        while True:
            async with self._unit_of_work() as uow:
                now = self._clock.now()
                due = await uow.channel_transfers.claim_due(now, self._batch)
                for transfer in due:
                    subscription = await uow.subscriptions.lock(transfer.subscription_id)
                    if subscription is None:  # deleted since: nothing to move
                        continue
                    await apply_transfer(
                        uow,
                        transfer,
                        subscription,
                        now,
                        actor_kind=SYSTEM_ACTOR,  # the job, on behalf of who asked for it
                        actor_subject=transfer.requested_by,
                    )
                    applied += 1
                await uow.commit()
            if len(due) < self._batch:
                return applied
