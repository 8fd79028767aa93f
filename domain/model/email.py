"""Emails as ledger rows: which messages exist, and the EMAIL event that sends one.

An EMAIL row names a template, a recipient and the values the template shows. A secret the
recipient must receive (the activation code: stored only hashed elsewhere, so the worker could
not find it again) travels in ``payload["secrets"]``; the handler clears it once the message
is handed over, and the staff read model never shows it (``redact_secrets``). A license is
attached by id (``payload["license_id"]``): its key is read when the message is built.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.model.provision_event import ProvisionEvent

EMAIL_KIND = "EMAIL"
SECRETS = "secrets"
"""The payload key that holds values the message needs but nobody may read from the row."""
REDACTED = "[redacted]"
ONCE = "once"
"""The payload key of an email sent at most once per subject (``Outbox.record_once``): a
second row with the same value is not recorded (a unique index in the database)."""


class EmailTemplate(StrEnum):
    """The messages Provision sends; each has a subject, a text and an HTML template."""

    ACTIVATION_CODE = "activation_code"
    LICENSE_DELIVERED = "license_delivered"
    TRIAL_STARTED = "trial_started"
    TRIAL_ENDING_SOON = "trial_ending_soon"
    SUBSCRIPTION_RENEWED = "subscription_renewed"
    SUBSCRIPTION_EXPIRING = "subscription_expiring"
    SUBSCRIPTION_CANCELLED = "subscription_cancelled"
    SEAT_OVERAGE = "seat_overage"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"
    INSTANCE_STOPPED_SYNCING = "instance_stopped_syncing"
    DEDICATED_INVITATION = "dedicated_invitation"
    DEDICATED_DEPROVISIONING = "dedicated_deprovisioning"


def email_event(
    template: EmailTemplate,
    to: str,
    context: Mapping[str, Any],
    *,
    now: datetime,
    max_attempts: int,
    secrets: Mapping[str, str] | None = None,
    license_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
    subscription_id: uuid.UUID | None = None,
    instance_id: uuid.UUID | None = None,
    namespace_id: uuid.UUID | None = None,
    once: str | None = None,
) -> ProvisionEvent:
    """The EMAIL row that sends ``template`` to ``to`` once (``context`` must be JSON values).

    ``once`` names the fact the email is about (``seat_overage:<subscription>:<term start>``);
    recorded with ``Outbox.record_once``, a second email about the same fact is dropped."""
    payload: dict[str, Any] = {"template": template.value, "to": to, "context": dict(context)}
    if once is not None:
        payload[ONCE] = once
    if secrets:
        payload[SECRETS] = dict(secrets)
    if license_id is not None:
        payload["license_id"] = str(license_id)
    return ProvisionEvent.new(
        EMAIL_KIND,
        payload,
        now=now,
        max_attempts=max_attempts,
        correlation_id=correlation_id,
        subscription_id=subscription_id,
        namespace_id=namespace_id,
        instance_id=instance_id,
    )


def redact_secrets(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as people may see it: every value under ``secrets`` replaced."""
    shown = dict(payload)
    secrets = shown.get(SECRETS)
    if isinstance(secrets, Mapping):
        shown[SECRETS] = dict.fromkeys(secrets, REDACTED)
    elif secrets is not None:
        shown[SECRETS] = REDACTED
    return shown
