"""WEBHOOK_DELIVERY: POST one event to one endpoint, signed per Standard Webhooks v1.

The body is the row's ``payload.message`` serialised the same way on every attempt
(``domain.model.webhook.body_of``); ``webhook-id`` is the row's id (stable across retries,
so receivers drop a re-send); ``webhook-timestamp`` is this attempt's time from the Clock;
``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` made by the
``standardwebhooks`` package with the endpoint's current secret, read at send time (payloads
never hold secrets). Any answer but a 2xx, a redirect included (never followed), fails the
attempt; the ledger retries it with its backoff.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC

import httpx
from standardwebhooks.webhooks import Webhook

from domain.model.provision_event import ProvisionEvent
from domain.model.webhook import WebhookEndpoint, body_of, message_id
from domain.ports import Clock
from domain.ports import EventHandler as Handler
from integrations.delivery import DeliveryRefused

logger = logging.getLogger("provision.webhooks")

FindEndpoint = Callable[[uuid.UUID], Awaitable[WebhookEndpoint | None]]
USER_AGENT = "Provision-Webhooks/1"


def signed_headers(
    endpoint: WebhookEndpoint, msg_id: str, clock: Clock, body: str
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt: one ``v1`` signature per secret
    in use (two during a rotation's overlap), space-separated."""
    at = clock.now().astimezone(UTC)
    signatures = [Webhook(s).sign(msg_id, at, body) for s in endpoint.signing_secrets(at)]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def webhook_delivery_handler(
    http: httpx.AsyncClient, find_endpoint: FindEndpoint, clock: Clock
) -> Handler:
    async def deliver(event: ProvisionEvent) -> None:
        endpoint = await find_endpoint(uuid.UUID(event.payload["endpoint_id"]))
        if endpoint is None or not endpoint.enabled:
            # Deleted or turned off since the event: nothing to send, nothing to retry.
            logger.info(
                "webhook delivery %s skipped: its endpoint is %s",
                event.id,
                "gone" if endpoint is None else "disabled",
            )
            return
        body = body_of(event.payload)
        headers = signed_headers(endpoint, message_id(event), clock, body)
        response = await http.post(
            endpoint.url,
            content=body.encode(),
            headers={
                **headers,
                "content-type": "application/json",
                "user-agent": USER_AGENT,
            },
            follow_redirects=False,
        )
        if not response.is_success:
            host = httpx.URL(endpoint.url).host
            raise DeliveryRefused(f"the endpoint at {host} answered {response.status_code}")

    return deliver
