"""Waiting on the ledger from e2e tests: record rows, and poll until a condition holds."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from persistence.database import Database
from persistence.ledger import PostgresLedger
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f
from fakes import FixedClock


async def record(db: Database, events: list[ProvisionEvent]) -> None:
    async with PostgresUnitOfWork(db) as uow:
        await uow.outbox.record_many(events)
        await uow.commit()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.02)


async def settled(
    db: Database, event_id: uuid.UUID, status: ProvisionStatus, seconds: float = 20
) -> ProvisionEvent:
    """The row once it has reached ``status``."""
    ledger = PostgresLedger(db, FixedClock(f.NOW))  # only reads rows: its clock is never read

    async def reached() -> bool:
        stored = await ledger.get(event_id)
        return stored is not None and stored.status is status

    await eventually(reached, seconds, f"the row is {status}")
    stored = await ledger.get(event_id)
    assert stored is not None
    return stored
