"""retryProvisionEvent: staff send a FAILED or DEAD ledger row again, due now, with a fresh
set of attempts (the counter starts over; the row's ``max_attempts`` is kept)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.model.provision_event import ProvisionEvent
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.provision_event_change import change_provision_event


@dataclass(frozen=True)
class RetryProvisionEvent:
    event_id: uuid.UUID
    idempotency_key: str | None = None


class RetryProvisionEventHandler:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    async def __call__(self, principal: Principal, command: RetryProvisionEvent) -> ProvisionEvent:
        """The row, PENDING and due now; ``ProvisionEventNotRetryable`` unless it was FAILED
        or DEAD, ``NotFound`` for an unknown row or a caller who is not staff."""

        def retry(event: ProvisionEvent, now: datetime) -> None:
            event.retry(now=now)

        return await change_provision_event(
            self._unit_of_work,
            self._clock,
            principal,
            event_id=command.event_id,
            operation="retryProvisionEvent",
            idempotency_key=command.idempotency_key,
            request={"eventId": str(command.event_id)},
            move=retry,
        )
