"""WEBHOOK_DELIVERY: POST one event to one endpoint, signed per Standard Webhooks v1.

The body is the row's ``payload.message`` serialised the same way on every attempt
(``domain.model.webhook.body_of``); ``webhook-id`` is the row's id (or, for a re-send, the id
of the delivery it repeats), stable across retries so receivers drop a repeat;
``webhook-timestamp`` is this attempt's time from the Clock; ``webhook-signature`` is
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` made by the ``standardwebhooks`` package
with the endpoint's secrets, read at send time (payloads never hold secrets).

Outcomes (the spec's recommendations): any 2xx succeeds; anything else fails the attempt -
3xx included (redirects are never followed); ``410 Gone`` also disables the endpoint; 429,
502, 503 and 504 with ``Retry-After`` make the ledger wait at least that long (capped); a
timeout or a network error fails without an answer. The client is the SSRF-guarded one
(``integrations.webhooks.egress``). Each attempt's answer and latency are stored for the
``deliveries`` connection; the last attempt's failure may disable the endpoint
(``EndpointHealth``).
"""

from __future__ import annotations

import email.utils
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from domain.model.provision_event import ProvisionEvent
from domain.model.webhook import WebhookEndpoint, body_of, message_id
from domain.ports import Clock
from domain.ports import EventHandler as Handler
from domain.use_cases.webhooks import EndpointHealth
from integrations.delivery import DeliveryRefused
from integrations.webhooks.egress import AddressRefused

logger = logging.getLogger("provision.webhooks")

FindEndpoint = Callable[[uuid.UUID], Awaitable[WebhookEndpoint | None]]
RecordResult = Callable[[uuid.UUID, uuid.UUID, int | None, int | None, datetime], Awaitable[None]]
"""(delivery id, endpoint id, status code or None, latency ms or None, attempted at)."""
USER_AGENT = "Provision-Webhooks/1"
THROTTLED = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = timedelta(hours=1)
"""A longer ``Retry-After`` is cut to this (the row's retry span still applies)."""


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


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date, 0 to ``MAX_RETRY_AFTER``; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        wait = when - now
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


async def _nothing(*_: object) -> None:
    return None


def webhook_delivery_handler(
    http: httpx.AsyncClient,
    find_endpoint: FindEndpoint,
    clock: Clock,
    *,
    record_result: RecordResult = _nothing,
    health: EndpointHealth | None = None,
    timeout: float | None = None,
) -> Handler:
    """``http`` should be ``egress.guarded_client`` (the SSRF guard); ``timeout`` seconds per
    attempt (None: the client's)."""

    async def deliver(event: ProvisionEvent) -> None:
        endpoint_id = uuid.UUID(event.payload["endpoint_id"])
        endpoint = await find_endpoint(endpoint_id)
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
        host = httpx.URL(endpoint.url).host
        started = time.perf_counter()
        try:
            response = await http.post(
                endpoint.url,
                content=body.encode(),
                headers={
                    **headers,
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                },
                follow_redirects=False,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except (AddressRefused, httpx.HTTPError) as error:
            await record_result(event.id, endpoint_id, None, None, clock.now())
            await _last_failure(event, endpoint_id)
            if isinstance(error, AddressRefused):
                raise
            raise DeliveryRefused(
                f"no answer from the endpoint at {host}: {type(error).__name__}"
            ) from error
        latency = round((time.perf_counter() - started) * 1000)
        status = response.status_code
        await record_result(event.id, endpoint_id, status, latency, clock.now())
        if response.is_success:
            return
        if status == 410 and health is not None:
            await health.disable(endpoint_id, f"it answered 410 Gone to {message_id(event)}")
            raise DeliveryRefused(f"the endpoint at {host} answered 410 Gone: it is disabled")
        await _last_failure(event, endpoint_id)
        wait = retry_after(response.headers.get("retry-after"), clock.now())
        raise DeliveryRefused(
            f"the endpoint at {host} answered {status}",
            retry_after=wait if status in THROTTLED else None,
        )

    async def _last_failure(event: ProvisionEvent, endpoint_id: uuid.UUID) -> None:
        last = health is not None and event.attempts >= event.max_attempts
        if last and health is not None and await health.failed_permanently(endpoint_id, event.id):
            logger.warning("webhook endpoint %s disabled: it keeps failing", endpoint_id)

    return deliver
