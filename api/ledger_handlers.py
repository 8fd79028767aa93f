"""The built-in ledger handlers and jobs: ALERT (the Slack-compatible webhook), HTTP_PING
(POST a payload to a URL: smoke checks, tests and the drain benchmark), and the clean-up job
that gives up rows whose worker died on their last attempt."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

from api.worker import Handler, JobBody, WorkerConfig
from domain.model.provision_event import ProvisionEvent
from domain.ports import Clock, Ledger

logger = logging.getLogger("provision.worker")

HTTP_PING_KIND = "HTTP_PING"
GIVE_UP_LOST_ROWS_JOB = "ledger.give_up_lost_rows"


class DeliveryRefused(Exception):
    """The peer answered, but not with a 2xx."""


def alert_text(event: ProvisionEvent) -> str:
    """One line for people: which row died, after how many attempts, and why."""
    payload = event.payload
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
