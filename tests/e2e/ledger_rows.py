"""Ledger rows in a given state, written straight through the outbox (e2e helpers)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

from clocks import SESSION_CLOCK


def row(
    kind: str = "TEST_STEP",
    status: ProvisionStatus = ProvisionStatus.PENDING,
    *,
    age: timedelta = timedelta(0),
    subscription_id: uuid.UUID | None = None,
    namespace_id: uuid.UUID | None = None,
    instance_id: uuid.UUID | None = None,
    now: datetime | None = None,
    **payload: Any,
) -> ProvisionEvent:
    """A row recorded ``age`` before ``now`` (pass the app's or the worker's clock's time;
    without it, the session app's clock's); a FAILED or DEAD one has used its 3 attempts' share."""
    created: datetime = (now or SESSION_CLOCK.now()) - age
    event = ProvisionEvent.new(
        kind,
        payload,
        now=created,
        max_attempts=3,
        subscription_id=subscription_id,
        namespace_id=namespace_id,
        instance_id=instance_id,
    )
    if status is ProvisionStatus.PENDING:
        return event
    attempts = {ProvisionStatus.FAILED: 1, ProvisionStatus.SUCCEEDED: 1}.get(status, 3)
    return dataclasses.replace(
        event,
        status=status,
        attempts=attempts,
        last_error=None if status is ProvisionStatus.SUCCEEDED else "DeliveryRefused: 503",
        next_attempt_at=created + timedelta(hours=1)
        if status is ProvisionStatus.FAILED
        else created,
    )


async def record(db: Database, *events: ProvisionEvent) -> None:
    async with PostgresUnitOfWork(db) as uow:
        await uow.outbox.record_many(events)
        await uow.commit()
