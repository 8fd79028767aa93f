"""Usage: what instances and GitLab.com report, and the overage derived from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from domain.errors import ValidationFailed
from domain.model.ids import new_id
from domain.model.subscription import Subscription


class UsageSource(StrEnum):
    """Where a report's figures came from."""

    SEAT_LINK = "SEAT_LINK"
    """An online instance's daily sync (or ``reportUsage``)."""
    USAGE_FILE = "USAGE_FILE"
    """A row of a license usage file an offline instance exported (docs/usage-file.md)."""


@dataclass
class UsageReport:
    """One seat-link report from an instance (daily).

    ``reported_at`` is the moment the figures are from (the payload's ``timestamp``, or its
    ``date`` at midnight UTC from older GitLab versions), not when the report arrived.
    """

    subscription_id: uuid.UUID
    billable_users: int
    max_historical_users: int
    reported_at: datetime
    instance_id: uuid.UUID | None = None
    add_on_seats: dict[str, int] = field(default_factory=dict)
    gitlab_version: str | None = None
    hostname: str | None = None
    instance_identifier: str | None = None
    source: UsageSource = UsageSource.SEAT_LINK
    license_id: uuid.UUID | None = None
    """The license whose key a usage file carried (usage-file rows only)."""
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.billable_users < 0:
            raise ValidationFailed("billableUsers must not be negative", path=("billableUsers",))
        if self.max_historical_users < 0:
            raise ValidationFailed(
                "maxHistoricalUsers must not be negative", path=("maxHistoricalUsers",)
            )


def report_identity(report: UsageReport) -> tuple[uuid.UUID, str, datetime]:
    """Which report this is: the subscription, the instance that sent it and the instant its
    figures are from. GitLab retries a failed sync with the arguments it snapshotted at enqueue
    time (protocol §4), so the same report can arrive many times: it is stored once (a unique
    index in the database). A report without an instance id is one per instant.

    A usage-file row is one per license and instant (protocols-next §1.5): the file names no
    instance, and the same rows come back in every later export of the term."""
    if report.source is UsageSource.USAGE_FILE:
        return (report.subscription_id, f"file:{report.license_id}", report.reported_at)
    return (report.subscription_id, report.instance_identifier or "", report.reported_at)


@dataclass(frozen=True)
class Usage:
    """A subscription's latest usage figures and what they mean against its seats."""

    seats_in_use: int
    max_seats_used: int
    overage: int
    reported_at: datetime | None
    next_reconciliation_date: date | None


def usage_of(
    subscription: Subscription,
    seats_in_use: int,
    max_seats_used: int,
    reported_at: datetime | None,
    today: date,
) -> Usage:
    """Overage = max(0, max seats used - seats of the current segment)."""
    return Usage(
        seats_in_use=seats_in_use,
        max_seats_used=max_seats_used,
        overage=subscription.overage(max_seats_used, today),
        reported_at=reported_at,
        next_reconciliation_date=subscription.next_reconciliation_date(today),
    )
