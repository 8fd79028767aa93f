"""HTTP_PING: POST a payload to a URL (smoke checks, tests and the drain benchmark)."""

from __future__ import annotations

import httpx

from domain.model.provision_event import ProvisionEvent
from domain.ports import EventHandler as Handler
from integrations.delivery import DeliveryRefused

HTTP_PING_KIND = "HTTP_PING"


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
