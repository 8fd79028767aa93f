"""Fleet: several instances under one subscription, each with a role, and the rules that say
which of their users count against the subscription's seats (docs/instances.md).

The rules are pure: they take what each instance last reported (seat link) and return the
subscription's combined figures with every instance's contribution and the reason for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain.errors import ValidationFailed

STALE_AFTER_DAYS = 7
"""Default silence after which an instance is listed as stopped syncing. GitLab syncs daily
and retries a failed sync for about two days (protocol §4), so a week without any seat link
means the instance is off, offline, or moved - not a transient failure."""

RETIREMENT_GRACE_DAYS = 14
"""Default days between retiring (or replacing) an instance and the end of its access: time
for a hardware move, where old and new run side by side."""


class InstanceRole(StrEnum):
    """What an instance is for; the role decides whether its users count seats."""

    PRODUCTION = "PRODUCTION"
    """The instance people work on: every billable user counts."""
    STAGING = "STAGING"
    """A pre-production copy: free up to the non-production allowance; users beyond it count."""
    DISASTER_RECOVERY = "DISASTER_RECOVERY"
    """A standby that takes over when production fails: its users are production's, none
    counts."""
    GEO_SECONDARY = "GEO_SECONDARY"
    """A Geo replica of a primary: it mirrors the primary's users, none counts."""
    TEST = "TEST"
    """A test installation: counted like staging (free up to the allowance)."""

    @property
    def is_replica(self) -> bool:
        """Replicas mirror another instance's users and add none."""
        return self in (InstanceRole.DISASTER_RECOVERY, InstanceRole.GEO_SECONDARY)

    @property
    def is_non_production(self) -> bool:
        """Staging and test instances are free up to the allowance."""
        return self in (InstanceRole.STAGING, InstanceRole.TEST)


class ContributionReason(StrEnum):
    """Why an instance's users count, or do not."""

    COUNTED = "COUNTED"
    """A production instance: all its users count."""
    REPLICA = "REPLICA"
    """A Geo secondary or disaster-recovery standby: none counts."""
    WITHIN_ALLOWANCE = "WITHIN_ALLOWANCE"
    """A staging or test instance within the non-production allowance: none counts."""
    BEYOND_ALLOWANCE = "BEYOND_ALLOWANCE"
    """A staging or test instance beyond the allowance: the users beyond it count."""
    RETIRED = "RETIRED"
    """Retired or replaced: its users moved on (to the replacement), none counts."""
    NO_REPORT = "NO_REPORT"
    """No seat link yet: nothing to count."""


def non_production_allowance(seats: int) -> int:
    """The plan rule: each staging or test instance may have as many users as the subscription
    has seats (a copy of production) before any of them count."""
    return seats


@dataclass(frozen=True)
class InstanceFigures:
    """What one instance last reported, and what it is."""

    instance_id: uuid.UUID
    role: InstanceRole
    billable_users: int | None
    """None when it never sent a seat link."""
    max_historical_users: int | None
    retired: bool = False


@dataclass(frozen=True)
class Contribution:
    """One instance's part of the subscription's usage, and why."""

    instance_id: uuid.UUID
    role: InstanceRole
    billable_users: int
    max_historical_users: int
    counted_billable_users: int
    counted_max_users: int
    reason: ContributionReason
    explanation: str


@dataclass(frozen=True)
class FleetUsage:
    """The subscription's usage as the rule combines its instances."""

    seats: int
    billable_users: int
    """Counted billable users now: the sum of the counted parts."""
    max_seats_used: int
    """Counted highest users: the sum of each instance's counted maximum (the true-up input)."""
    overage: int
    """max(0, max_seats_used - seats): the seats a true-up would bill."""
    contributions: tuple[Contribution, ...]


def contribution_of(figures: InstanceFigures, seats: int) -> Contribution:
    """The rule for one instance."""
    billable = figures.billable_users or 0
    maximum = figures.max_historical_users or 0

    def made(counted: int, counted_max: int, reason: ContributionReason, why: str) -> Contribution:
        return Contribution(
            figures.instance_id, figures.role, billable, maximum, counted, counted_max, reason, why
        )

    if figures.retired:
        return made(0, 0, ContributionReason.RETIRED, "retired or replaced: its users moved on")
    if figures.billable_users is None:
        return made(0, 0, ContributionReason.NO_REPORT, "no seat link received yet")
    if figures.role.is_replica:
        return made(
            0,
            0,
            ContributionReason.REPLICA,
            f"{figures.role.value.lower()} mirrors another instance's users",
        )
    if figures.role.is_non_production:
        allowance = non_production_allowance(seats)
        beyond_now, beyond_max = max(0, billable - allowance), max(0, maximum - allowance)
        if beyond_max == 0:
            return made(
                0,
                0,
                ContributionReason.WITHIN_ALLOWANCE,
                f"{figures.role.value.lower()} within its allowance of {allowance} users",
            )
        return made(
            beyond_now,
            beyond_max,
            ContributionReason.BEYOND_ALLOWANCE,
            f"{figures.role.value.lower()} counts the users beyond its allowance of {allowance}",
        )
    return made(billable, maximum, ContributionReason.COUNTED, "production: every user counts")


def combine(seats: int, instances: Sequence[InstanceFigures]) -> FleetUsage:
    """The subscription's usage: the counted parts added up, the overage against ``seats``.

    Peaks are added: each instance reports its own highest count, and they need not have
    happened on the same day, so the sum is what the instances would owe licensed one by one.
    """
    parts = tuple(contribution_of(figures, seats) for figures in instances)
    billable = sum(p.counted_billable_users for p in parts)
    maximum = sum(p.counted_max_users for p in parts)
    return FleetUsage(seats, billable, maximum, max(0, maximum - seats), parts)


def is_stale(
    last_synced_at: datetime | None,
    activated_at: datetime,
    now: datetime,
    after_days: int = STALE_AFTER_DAYS,
) -> bool:
    """Whether an instance stopped syncing: no seat link (or, never synced, no activation)
    for ``after_days`` days or more."""
    last = last_synced_at or activated_at
    return now - last >= timedelta(days=after_days)


def access_end(requested: date | None, today: date, term_end: date) -> date:
    """When a retired instance's access ends: the requested date (today at the earliest, the
    term's end at the latest), else today plus the grace."""
    if requested is None:
        return min(today + timedelta(days=RETIREMENT_GRACE_DAYS), term_end)
    if requested < today:
        raise ValidationFailed("accessEndsOn must not be in the past", path=("accessEndsOn",))
    if requested > term_end:
        raise ValidationFailed(
            f"accessEndsOn must be on or before the term's end, {term_end.isoformat()}",
            path=("accessEndsOn",),
        )
    return requested
