"""The worker's built-in scheduled jobs: the clean-up job that gives up rows whose worker died
on their last attempt, and the failure-burst alert. (The built-in handlers, ALERT and
HTTP_PING, call the outside world: integrations/alerts.py, integrations/http_ping.py.)"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from api.worker.loop import JobBody, WorkerConfig
from domain.model.provision_event import ALERT_KIND, ProvisionEvent
from domain.ports import Clock, Ledger
from persistence.database import Database
from persistence.ledger import count_failures_since
from persistence.unit_of_work import PostgresUnitOfWork

logger = logging.getLogger("provision.worker")

GIVE_UP_LOST_ROWS_JOB = "ledger.give_up_lost_rows"


def give_up_lost_rows_job(ledger: Ledger, clock: Clock, config: WorkerConfig) -> JobBody:
    """Rows whose lease expired on their last attempt are not reclaimed (that would exceed
    their attempts): this job makes them DEAD and enqueues their ALERT."""

    async def give_up_lost_rows(due: datetime) -> None:
        while batch := await ledger.expired_without_attempts(100):
            for event in batch:
                now = clock.now()
                event.give_up("the worker was lost during the last attempt", now=now)
                alert = event.alert(now=now, max_attempts=config.max_attempts)
                if await ledger.give_up(event, [alert] if alert else []):
                    logger.error(
                        "%s %s is DEAD: its worker was lost on the last attempt",
                        event.kind,
                        event.id,
                    )

    return give_up_lost_rows


FAILURE_BURST_JOB = "ledger.failure_burst"


def failure_burst_job(
    db: Database, clock: Clock, *, threshold: int, window: timedelta, max_attempts: int
) -> JobBody:
    """Alert when ``threshold`` steps or more failed within ``window``: at most one ALERT per
    window (its ``once`` key names the window), whichever worker runs the job."""

    async def check(due: datetime) -> None:
        now = clock.now()
        failures = await count_failures_since(db, now - window)
        if failures < threshold:
            return
        bucket = int(now.timestamp() // window.total_seconds())
        alert = ProvisionEvent.new(
            ALERT_KIND,
            {
                "failures": failures,
                "threshold": threshold,
                "window_minutes": int(window.total_seconds() // 60),
                "once": f"failure_burst:{bucket}",
            },
            now=now,
            max_attempts=max_attempts,
        )
        async with PostgresUnitOfWork(db) as uow:
            if await uow.outbox.record_once(alert):
                logger.error("%s steps failed in the last %s: alert sent", failures, window)
            await uow.commit()

    return check
