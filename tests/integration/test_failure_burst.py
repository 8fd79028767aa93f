"""The failure-burst alert: N failed steps within a window raise one ALERT per window."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from api.worker.handlers import failure_burst_job
from domain.model.provision_event import ProvisionEvent
from integrations.alerts import alert_text
from persistence.database import Database
from persistence.unit_of_work import PostgresUnitOfWork

import factories as f


class _Clock:
    def now(self) -> Any:
        return f.NOW

    def today(self) -> Any:
        return f.TODAY


async def _failed_rows(db: Database, count: int) -> None:
    async with PostgresUnitOfWork(db) as uow:
        for n in range(count):
            await uow.outbox.record(
                ProvisionEvent.new("HTTP_PING", {"n": n}, now=f.NOW, max_attempts=3)
            )
        await uow.commit()
    await db.fetch(
        "UPDATE provision_event SET status = 'FAILED', attempts = 1, updated_at = $1", f.NOW
    )


async def _alerts(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM provision_event WHERE kind = 'ALERT'")
    return [json.loads(row["payload"]) for row in rows]


async def test_a_burst_of_failures_alerts_once_per_window(clean_db: Database) -> None:
    await _failed_rows(clean_db, 3)
    quiet = failure_burst_job(
        clean_db, _Clock(), threshold=4, window=timedelta(minutes=10), max_attempts=3
    )
    await quiet(f.NOW)
    assert await _alerts(clean_db) == []
    job = failure_burst_job(
        clean_db, _Clock(), threshold=3, window=timedelta(minutes=10), max_attempts=3
    )
    await job(f.NOW)
    await job(f.NOW)  # the same window: no second alert
    [alert] = await _alerts(clean_db)
    assert (alert["failures"], alert["threshold"], alert["window_minutes"]) == (3, 3, 10)
    event = ProvisionEvent.new("ALERT", alert, now=f.NOW, max_attempts=1)
    assert (
        alert_text(event)
        == ":warning: Provision: 3 steps failed in the last 10 minutes (alert threshold 3)"
    )
