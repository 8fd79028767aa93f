"""What staff changes to a ledger row share: only staff reach the ledger (anyone else reads
it as *not found*), lock the row, apply the move, save, audit and keep the idempotent result -
in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from domain.errors import NotFound
from domain.model.audit import AuditEntry
from domain.model.idempotency import check_idempotency_key
from domain.model.provision_event import ProvisionEvent
from domain.policy import Access, Reach, Resource, reach, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal
from domain.use_cases.keyed import replay_or_run

Move = Callable[[ProvisionEvent, datetime], None]
After = Callable[[UnitOfWork, ProvisionEvent, datetime], Awaitable[None]]


def summary(event: ProvisionEvent) -> dict[str, Any]:
    """The fields an audit entry compares before and after."""
    return {
        "status": event.status.value,
        "attempts": event.attempts,
        "maxAttempts": event.max_attempts,
        "nextAttemptAt": event.next_attempt_at.isoformat(),
        "resolvedReason": event.resolved_reason,
        "resolvedAt": event.resolved_at.isoformat() if event.resolved_at else None,
    }


async def change_provision_event(
    unit_of_work: Callable[[], UnitOfWork],
    clock: Clock,
    principal: Principal,
    *,
    event_id: uuid.UUID,
    operation: str,
    idempotency_key: str | None,
    request: dict[str, Any],
    move: Move,
    after: After | None = None,
) -> ProvisionEvent:
    """Apply ``move`` to the locked row and return the row as stored."""
    require_scope(principal, Resource.PROVISION_EVENTS, Access.WRITE)
    key = check_idempotency_key(idempotency_key)
    if reach(principal, Resource.PROVISION_EVENTS) is not Reach.EVERYTHING:
        # A token that somehow holds the scope but is no staff sees no ledger at all.
        raise NotFound("no such provision event", path=("eventId",))
    async with unit_of_work() as uow:

        async def run() -> dict[str, Any]:
            event = await uow.provision_events.lock(event_id)
            if event is None:
                raise NotFound("no such provision event", path=("eventId",))
            before, now = summary(event), clock.now()
            move(event, now)
            await uow.provision_events.save(event)
            if after is not None:
                await after(uow, event, now)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    operation,
                    "ProvisionEvent",
                    event.id,
                    now,
                    before=before,
                    after=summary(event),
                    idempotency_key=key,
                )
            )
            return summary(event)

        await replay_or_run(uow, principal, operation, key, request, run, clock=clock)
        stored = await uow.provision_events.lock(event_id)
        await uow.commit()
    assert stored is not None
    return stored
