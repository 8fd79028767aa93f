"""What a subscription's license says today, and signing a new key only when that changes.

Activation, seat link and cancellation share these rules (DESIGN §2, protocol §3.2): a license
covers the whole current term with the current segment's seats; GitLab compares keys as
strings, so unchanged content keeps its key byte for byte; a cancellation key is final.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from domain.model.audit import AuditEntry
from domain.model.customer import Customer
from domain.model.enums import LicensingMode, SubscriptionStatus
from domain.model.ids import new_id
from domain.model.license import License, Licensee
from domain.model.license_attributes import license_attributes
from domain.model.subscription import Subscription
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.ports import LicenseSigner, UnitOfWork
from domain.principal import Principal
from domain.use_cases.webhooks import license_data, record_webhooks


def license_for(
    subscription: Subscription, customer: Customer, today: date, *, trial: bool = False
) -> License:
    """What the subscription's license says today (its key is filled in by signing)."""
    term = subscription.current_term(today)
    assert subscription.licensing_mode is not None
    return License(
        subscription_id=subscription.id,
        mode=subscription.licensing_mode,
        plan=subscription.plan,
        seats=subscription.seats(today),
        starts_at=term.start_date,
        expires_at=term.end_date,
        licensee=Licensee(customer.contact_name, customer.contact_email, customer.company),
        license_key="",
        created_at=datetime.min,
        auto_renew=subscription.auto_renew,
        reconciliation_enabled=subscription.reconciliation_enabled,
        add_ons=tuple(a for a in subscription.add_ons if a.start_date < term.end_date),
        trial=trial,
    )


def same_content(issued: License, wanted: License) -> bool:
    """Whether an issued license still says what ``wanted`` says (ids, keys and times aside)."""

    def content(lic: License) -> tuple[Any, ...]:
        return (
            lic.mode,
            lic.plan,
            lic.seats,
            lic.starts_at,
            lic.expires_at,
            lic.trial,
            lic.cancelled,
            lic.auto_renew,
            lic.reconciliation_enabled,
            lic.add_ons,
            lic.licensee,
        )

    return content(issued) == content(wanted)


def cancellation_of(license_: License, on: date) -> License:
    """The cancellation key of ``license_`` (protocol §3.3 ``generated_from_cancellation``):
    the same content, cancelled, expired on ``on`` (GitLab: expired when today >= expires_at,
    and it saves an expired license only when it is a cancellation key). A license must end
    after it starts, so one cancelled on (or before) its first day starts the day before."""
    return replace(
        license_,
        id=new_id(),
        cancelled=True,
        starts_at=min(license_.starts_at, on - timedelta(days=1)),
        expires_at=on,
        license_key="",
        created_at=datetime.min,
        instance_id=None,
    )


def wanted_license(
    subscription: Subscription,
    customer: Customer,
    latest: License | None,
    today: date,
    *,
    trial: bool = False,
) -> License:
    """What the license should say today.

    A cancellation key is final: once issued, the subscription's license stays cancelled. An
    online cloud subscription cancelled at once gets a cancellation key dated the day it was
    cancelled. Otherwise: the current term, the current segment's seats.
    """
    if latest is not None and latest.cancelled:
        return latest
    # A trial subscription stays one: its first license says so, and the rest follow it.
    wanted = license_for(
        subscription, customer, today, trial=latest.trial if latest is not None else trial
    )
    if (
        subscription.status(today) is SubscriptionStatus.CANCELLED
        and subscription.cancelled_at is not None
        and subscription.licensing_mode is LicensingMode.ONLINE_CLOUD
    ):
        return cancellation_of(wanted, subscription.cancelled_at.date())
    return wanted


def needs_new_license(
    subscription: Subscription, customer: Customer, latest: License | None, today: date
) -> bool:
    """Whether today's content differs from the newest license (or there is none yet)."""
    if latest is None:
        return True
    return not same_content(latest, wanted_license(subscription, customer, latest, today))


def newer_key(sent: License, latest: License) -> str | None:
    """The key a syncing instance should load: the subscription's newest license when it is
    not the one the instance sent (a seat change, a ramp step, a renewal, a cancellation),
    else None - the instance already runs on it."""
    return None if latest.id == sent.id else latest.license_key


async def issue_current_license(
    uow: UnitOfWork,
    signer: LicenseSigner,
    subscription: Subscription,
    customer: Customer,
    now: datetime,
    *,
    caller: Principal,
    operation: str,
    instance_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    webhook_attempts: int = DEFAULT_ATTEMPTS,
) -> License:
    """The subscription's current license: the newest one when its content is still right,
    else a newly signed and stored one (audited). The caller holds the subscription's row
    lock, so concurrent callers sign one key, not one each."""
    latest = await uow.licenses.latest_for_subscription(subscription.id)
    trial = latest is None and bool(await uow.trials.for_subscription(subscription.id))
    wanted = wanted_license(subscription, customer, latest, now.date(), trial=trial)
    if latest is not None and same_content(latest, wanted):
        return latest
    signed = await signer.sign(license_attributes(wanted, subscription_name=subscription.name))
    issued = replace(wanted, license_key=signed, created_at=now, instance_id=instance_id)
    await uow.licenses.add(issued)
    await uow.audit.record(
        AuditEntry.of(
            caller,
            operation,
            "License",
            issued.id,
            now,
            before=_summary(latest) if latest is not None else {},
            after={"subscription": subscription.name, **_summary(issued)},
            idempotency_key=idempotency_key,
        )
    )
    await record_webhooks(
        uow,
        WebhookEventType.LICENSE_ISSUED,
        subscription,
        now,
        {"license": license_data(issued)},
        max_attempts=webhook_attempts,
    )
    return issued


def _summary(license_: License) -> dict[str, Any]:
    return {
        "seats": license_.seats,
        "expiresAt": license_.expires_at.isoformat(),
        "cancelled": license_.cancelled,
    }
