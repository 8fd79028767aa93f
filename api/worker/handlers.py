"""The built-in ledger handlers and jobs: ALERT (the Slack-compatible webhook), HTTP_PING
(POST a payload to a URL: smoke checks, tests and the drain benchmark), and the clean-up job
that gives up rows whose worker died on their last attempt."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import httpx

from api.worker.loop import Handler, JobBody, WorkerConfig
from domain.model.provision_event import ALERT_KIND, ProvisionEvent
from domain.ports import Clock, Ledger
from persistence.database import Database
from persistence.ledger import count_failures_since
from persistence.unit_of_work import PostgresUnitOfWork

logger = logging.getLogger("provision.worker")

HTTP_PING_KIND = "HTTP_PING"
GIVE_UP_LOST_ROWS_JOB = "ledger.give_up_lost_rows"


class DeliveryRefused(Exception):
    """The peer answered, but not with a 2xx."""


def alert_text(event: ProvisionEvent) -> str:
    """One line for people: which row died, after how many attempts, and why (or how many
    steps failed in a window)."""
    payload = event.payload
    if "failures" in payload:
        return (
            f":warning: Provision: {payload['failures']} steps failed in the last"
            f" {payload['window_minutes']} minutes (alert threshold {payload['threshold']})"
        )
    return (
        f":rotating_light: Provision event {payload.get('kind')} {payload.get('event_id')}"
        f" is DEAD after {payload.get('attempts')} attempts"
        f" (correlation {event.correlation_id}): {payload.get('last_error') or 'no error text'}"
    )


def alert_handler(http: httpx.AsyncClient, webhook_url: str | None) -> Handler:
    """POST a Slack-compatible message about a DEAD row to the webhook; without a webhook the
    alert is logged and counts as delivered."""

    async def send_alert(event: ProvisionEvent) -> None:
        text = alert_text(event)
        if webhook_url is None:
            logger.error("ALERT (no PROVISION_ALERT_WEBHOOK_URL configured): %s", text)
            return
        body = {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
        response = await http.post(
            webhook_url, json=body, headers={"Idempotency-Key": event.idempotency_key}
        )
        if not response.is_success:
            # Not raise_for_status(): its message carries the URL, and a webhook URL is a secret.
            raise DeliveryRefused(f"the alert webhook answered {response.status_code}")

    return send_alert


def http_ping_handler(http: httpx.AsyncClient) -> Handler:
    """POST ``payload["body"]`` with the event's id, attempt and idempotency key to
    ``payload["url"]``; any answer but 2xx is a failure."""

    async def ping(event: ProvisionEvent) -> None:
        url = event.payload.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("an HTTP_PING event needs an http(s) url in its payload")
        response = await http.post(
            url,
            json={
                "event_id": str(event.id),
                "idempotency_key": event.idempotency_key,
                "correlation_id": event.correlation_id,
                "attempt": event.attempts,
                "body": event.payload.get("body"),
            },
            headers={"Idempotency-Key": event.idempotency_key},
        )
        if not response.is_success:
            raise DeliveryRefused(f"the peer answered {response.status_code}")

    return ping


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
