"""ALERT: a Slack-compatible message to the alert webhook about a DEAD row or a burst of
failures (or, without a webhook, a log line)."""

from __future__ import annotations

import logging

import httpx

from domain.model.provision_event import ProvisionEvent
from domain.ports import EventHandler as Handler
from integrations.delivery import DeliveryRefused

logger = logging.getLogger("provision.worker")


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
