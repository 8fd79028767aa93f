"""resolveProvisionEvent: a person closes a FAILED or DEAD ledger row with a reason (done by
hand, no longer needed). The row becomes RESOLVED, and no worker claims it again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.model.provision_event import ProvisionEvent
from domain.model.webhook import DEFAULT_ATTEMPTS
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.provision_event_change import change_provision_event
from domain.use_cases.webhooks import ledger_transition_webhooks


@dataclass(frozen=True)
class ResolveProvisionEvent:
    event_id: uuid.UUID
    reason: str
    idempotency_key: str | None = None


class ResolveProvisionEventHandler:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._webhook_attempts = webhook_attempts

    async def __call__(
        self, principal: Principal, command: ResolveProvisionEvent
    ) -> ProvisionEvent:
        """The row, RESOLVED; ``ProvisionEventNotResolvable`` unless it was FAILED or DEAD,
        ``ValidationFailed`` without a reason, ``NotFound`` for an unknown row or a caller who
        is not staff."""

        def resolve(event: ProvisionEvent, now: datetime) -> None:
            event.resolve(command.reason, now=now)

        async def announce(uow: UnitOfWork, event: ProvisionEvent, now: datetime) -> None:
            # A provisioning step closed by hand: `provisioning.resolved`, in this transaction.
            for row in await ledger_transition_webhooks(uow, event, now, self._webhook_attempts):
                await uow.outbox.record(row)

        return await change_provision_event(
            self._unit_of_work,
            self._clock,
            principal,
            event_id=command.event_id,
            operation="resolveProvisionEvent",
            idempotency_key=command.idempotency_key,
            request={"eventId": str(command.event_id), "reason": command.reason},
            move=resolve,
            after=announce,
        )
