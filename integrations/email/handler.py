"""The EMAIL handler: renders the row's template and hands the message to the transport, once.

After the hand-over the row is marked ``sent_at`` (and its secrets cleared) before the attempt
ends, so a later run of the same row sends nothing. Only a crash between the hand-over and
that mark sends again, with the same Message-ID, which lets mail systems drop the duplicate.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import jinja2

from domain.model.email import SECRETS, EmailTemplate, redact_secrets
from domain.model.provision_event import ProvisionEvent
from domain.ports import Clock
from domain.ports import EventHandler as Handler
from integrations.email.messages import build_message, render
from integrations.email.transports import Transport

logger = logging.getLogger("provision.worker")


def email_handler(
    env: jinja2.Environment,
    transport: Transport,
    sender: str,
    load_license_key: Callable[[uuid.UUID], Awaitable[str | None]],
    save_payload: Callable[[ProvisionEvent], Awaitable[bool]],
    clock: Clock,
) -> Handler:
    async def send_email(event: ProvisionEvent) -> None:
        payload = event.payload
        if payload.get("sent_at"):
            return  # handed over by an earlier attempt: never twice
        template = EmailTemplate(payload["template"])
        secrets = payload.get(SECRETS) or {}
        context: dict[str, Any] = {**payload.get("context", {}), **secrets}
        rendered = render(env, template, context)
        attachment = None
        if payload.get("license_id"):
            key = await load_license_key(uuid.UUID(payload["license_id"]))
            if key is None:
                raise LookupError(f"license {payload['license_id']} is gone")
            name = payload.get("context", {}).get("subscription_name") or "license"
            attachment = (f"{name}.gitlab-license", key.encode())
        message = build_message(
            event, rendered, sender=sender, to=payload["to"], attachment=attachment
        )
        await transport.deliver(message, str(event.id))
        event.payload = {**redact_secrets(payload), "sent_at": clock.now().isoformat()}
        if not await save_payload(event):
            logger.warning("the lease on %s was lost before its delivery was stored", event.id)
        logger.info("email %s (%s) handed over", event.id, template.value)

    return send_email
