"""reportUsage, the seat link: an instance's daily report of its users, answered with the
newest license key when it is not the one the instance sent (protocol §4, DESIGN §2).

The license key in the report is the credential and names the subscription: it must be a key
Provision issued, matched by its text (``license_key_digest``), never merely one that decodes -
the format has no MAC, so anyone holding the public key can make a key that decodes. The same
report sent again (GitLab retries with snapshotted arguments) is stored once and answered the
same way. When today's content differs from the newest license (the clock reached a ramp step,
seats or add-ons changed, a renewal began, the subscription was cancelled now), a new key is
signed under the subscription's row lock, exactly as activation does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from domain.errors import LicenseKeyUnknown, ValidationFailed
from domain.model.customer import Customer
from domain.model.enums import SubscriptionStatus
from domain.model.instance import parse_instance_identifier
from domain.model.license import License
from domain.model.subscription import Subscription, Term
from domain.model.usage import UsageReport
from domain.model.webhook import DEFAULT_ATTEMPTS, WebhookEventType
from domain.policy import Access, Resource, require_scope
from domain.ports import Clock, LicenseSigner, UnitOfWork
from domain.principal import Principal, PrincipalKind
from domain.use_cases.emails import seat_overage
from domain.use_cases.fleet import fleet_usage
from domain.use_cases.licensing import issue_current_license, needs_new_license, newer_key
from domain.use_cases.webhooks import record_webhooks

OPERATION = "reportUsage"
# GitLab shows its upcoming-reconciliation banner from this many days before the date.
RECONCILIATION_ALERT_DAYS = 7
MAX_COUNT = 2_147_483_647  # the columns are 32-bit integers
MAX_ADD_ONS = 50
_LIMITS = {"hostname": 255, "gitlabVersion": 50, "addOnType": 100}


@dataclass(frozen=True)
class ReportUsage:
    """One seat-link report, as GitLab sends it (both generations of field names are mapped
    onto these by the adapters)."""

    license_key: str
    reported_at: datetime
    billable_users: int
    max_historical_users: int
    instance_identifier: str | None = None
    hostname: str | None = None
    gitlab_version: str | None = None
    add_on_seats: Mapping[str, int] = field(default_factory=dict)
    """Assigned seats per add-on type (``add_on_metrics``)."""


@dataclass(frozen=True)
class UsageReported:
    """What the instance is told, and what was recorded."""

    subscription: Subscription
    customer: Customer
    report: UsageReport
    recorded: bool
    """False when the same report was stored before (this one was a repeat)."""
    license: License
    """The subscription's current license (possibly the one the instance sent)."""
    new_license_key: str | None
    """The key to load, when it is not the one the instance sent."""
    future_terms: tuple[Term, ...]
    next_reconciliation_date: date | None
    display_alert_from: date | None


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > _LIMITS[name] or "\x00" in cleaned:
        raise ValidationFailed(
            f"{name} is longer than {_LIMITS[name]} characters or not text", path=(name,)
        )
    return cleaned or None


def _count(value: int, name: str) -> int:
    if not 0 <= value <= MAX_COUNT:
        raise ValidationFailed(f"{name} must be between 0 and {MAX_COUNT}", path=(name,))
    return value


def _add_on_seats(seats: Mapping[str, int]) -> dict[str, int]:
    if len(seats) > MAX_ADD_ONS:
        raise ValidationFailed(f"at most {MAX_ADD_ONS} add-ons", path=("addOnMetrics",))
    checked: dict[str, int] = {}
    for name, count in seats.items():
        kind = _text(name, "addOnType")
        if kind is None:
            raise ValidationFailed("an add-on type is empty", path=("addOnMetrics",))
        checked[kind] = _count(count, "assignedSeats")
    return checked


def _check_reach(principal: Principal | None, subscription_id: uuid.UUID) -> None:
    """A token-bearing caller (the GraphQL form) reports only within its reach: staff for any
    subscription, an instance for its own. Anything else reads as an unknown key."""
    if principal is None or principal.kind is PrincipalKind.STAFF:
        return
    if principal.kind is PrincipalKind.INSTANCE and principal.subscription_id == subscription_id:
        return
    raise LicenseKeyUnknown("no license with this key", path=("licenseKey",))


class ReportUsageHandler:
    """Record a seat-link report and answer with the newest license and future terms."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        signer: LicenseSigner,
        webhook_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._signer = signer
        self._webhook_attempts = webhook_attempts

    async def __call__(
        self, command: ReportUsage, principal: Principal | None = None
    ) -> UsageReported:
        """Without ``principal`` (the REST seat link) the key is the only credential; with one
        (reportUsage) it needs ``usage:write`` and the key's subscription within its reach.

        Raises ``LicenseKeyUnknown`` for a key Provision did not issue and ``ValidationFailed``
        for bad figures, both before anything is written.
        """
        if principal is not None:
            require_scope(principal, Resource.USAGE, Access.WRITE)
        identifier = (
            parse_instance_identifier(command.instance_identifier)
            if command.instance_identifier
            else None
        )
        hostname = _text(command.hostname, "hostname")
        version = _text(command.gitlab_version, "gitlabVersion")
        add_on_seats = _add_on_seats(command.add_on_seats)
        billable = _count(command.billable_users, "billableUsers")
        max_historical = _count(command.max_historical_users, "maxHistoricalUsers")
        if command.reported_at.tzinfo is None:
            raise ValidationFailed("the timestamp needs a UTC offset", path=("timestamp",))
        async with self._unit_of_work() as uow:
            sent = await uow.licenses.find_by_key(command.license_key)
            if sent is None:
                raise LicenseKeyUnknown("no license with this key", path=("licenseKey",))
            _check_reach(principal, sent.subscription_id)
            subscription = await uow.subscriptions.get(sent.subscription_id)
            assert subscription is not None
            customer = await uow.customers.get(subscription.customer_id)
            assert customer is not None
            now = self._clock.now()
            today = now.date()
            instance_id = None
            retired = None
            if identifier is not None:
                instance_id = await uow.instances.record_sync(
                    subscription.id, identifier, now, hostname, version
                )
                found = await uow.instances.find(subscription.id, identifier)
                retired = found if found is not None and found.retired else None
            report = UsageReport(
                subscription_id=subscription.id,
                billable_users=billable,
                max_historical_users=max_historical,
                reported_at=command.reported_at,
                instance_id=instance_id,
                add_on_seats=add_on_seats,
                gitlab_version=version,
                hostname=hostname,
                instance_identifier=identifier,
            )
            recorded = await uow.usage_reports.add_once(report)
            if retired is not None:
                # A retired instance gets its end key and nothing new (docs/instances.md).
                end_key = await uow.licenses.end_key_of(retired.id)
                assert end_key is not None
                await uow.commit()
                return _ended(subscription, customer, report, recorded, sent, end_key)
            counted = max_historical
            if instance_id is not None:
                # With several instances, the overage is the fleet rule's (replicas add none).
                counted = (await fleet_usage(uow, subscription, today, report)).max_seats_used
            if await seat_overage(uow, subscription, counted, now):
                # Once per term, as the email: later, larger reports send nothing new.
                seats = subscription.seats(today)
                await record_webhooks(
                    uow,
                    WebhookEventType.USAGE_OVER_SEATS,
                    subscription,
                    now,
                    {
                        "usage": {
                            "seats": seats,
                            "max_seats_used": counted,
                            "billable_users": billable,
                            "overage": counted - seats,
                            "reported_at": command.reported_at.isoformat(),
                        }
                    },
                    max_attempts=self._webhook_attempts,
                )
            latest = await uow.licenses.latest_for_subscription(subscription.id)
            if needs_new_license(subscription, customer, latest, today):
                # Checked again under the lock: concurrent syncs sign one key between them.
                locked = await uow.subscriptions.lock(subscription.id)
                assert locked is not None
                subscription = locked
                latest = await issue_current_license(
                    uow,
                    self._signer,
                    subscription,
                    customer,
                    now,
                    caller=principal or Principal(PrincipalKind.INSTANCE, subject=identifier),
                    operation=OPERATION,
                    instance_id=instance_id,
                    webhook_attempts=self._webhook_attempts,
                )
            await uow.commit()
        assert latest is not None
        return _answer(subscription, customer, report, recorded, sent, latest, today)


def _ended(
    subscription: Subscription,
    customer: Customer,
    report: UsageReport,
    recorded: bool,
    sent: License,
    end_key: License,
) -> UsageReported:
    """A retired instance's answer: its end key (once it runs on it, no key), no future terms
    and no reconciliation banner."""
    return UsageReported(
        subscription=subscription,
        customer=customer,
        report=report,
        recorded=recorded,
        license=end_key,
        new_license_key=newer_key(sent, end_key),
        future_terms=(),
        next_reconciliation_date=None,
        display_alert_from=None,
    )


def _answer(
    subscription: Subscription,
    customer: Customer,
    report: UsageReport,
    recorded: bool,
    sent: License,
    latest: License,
    today: date,
) -> UsageReported:
    running = subscription.status(today) is not SubscriptionStatus.CANCELLED and not (
        latest.cancelled
    )
    future = subscription.future_terms(today) if running else ()
    reconciliation = subscription.next_reconciliation_date(today) if running else None
    return UsageReported(
        subscription=subscription,
        customer=customer,
        report=report,
        recorded=recorded,
        license=latest,
        new_license_key=newer_key(sent, latest),
        future_terms=future,
        next_reconciliation_date=reconciliation,
        display_alert_from=(
            reconciliation - timedelta(days=RECONCILIATION_ALERT_DAYS) if reconciliation else None
        ),
    )
