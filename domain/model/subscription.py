"""Subscription: terms, ramp segments, add-ons, and the status derived from them (DESIGN §2).

Dates follow GitLab's license convention: a period runs from its start date up to, but not
including, its end date (a license "is expired when today >= expires_at"), so consecutive
periods share a boundary date.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import SubscriptionAlreadyCancelled, SubscriptionNotActive, ValidationFailed
from domain.model.calendar import add_months
from domain.model.enums import (
    AddOnKind,
    Channel,
    Deployment,
    LicensingMode,
    Plan,
    SubscriptionStatus,
)
from domain.model.ids import new_id

_NAME = re.compile(r"A-S[0-9]{8}")
QUARTER_MONTHS = 3


def subscription_name(number: int) -> str:
    """The customer-facing name of the ``number``-th subscription, like ``A-S00012345``."""
    if not 0 < number < 10**8:
        raise ValidationFailed(f"subscription number {number} is out of range")
    return f"A-S{number:08d}"


def is_subscription_name(value: str) -> bool:
    return _NAME.fullmatch(value) is not None


def _check_period(start: date, end: date, path: tuple[str, ...]) -> None:
    if end <= start:
        raise ValidationFailed(
            f"end date {end.isoformat()} must be after start date {start.isoformat()}", path=path
        )


@dataclass(frozen=True)
class Segment:
    """A stretch of a term with its own seat count (a year of a ramp deal, say)."""

    start_date: date
    end_date: date
    seats: int

    def __post_init__(self) -> None:
        _check_period(self.start_date, self.end_date, ("segments",))
        if self.seats < 1:
            raise ValidationFailed(f"seats must be at least 1, got {self.seats}", path=("seats",))

    def covers(self, day: date) -> bool:
        return self.start_date <= day < self.end_date


@dataclass(frozen=True)
class Term:
    """One contract period (the first purchase or a renewal): consecutive segments."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValidationFailed("a term needs at least one segment", path=("segments",))
        for before, after in zip(self.segments, self.segments[1:], strict=False):
            if after.start_date != before.end_date:
                raise ValidationFailed(
                    "segments must be consecutive: a segment starts on the day the previous "
                    f"one ends ({before.end_date.isoformat()}), got {after.start_date.isoformat()}",
                    path=("segments",),
                )

    @property
    def start_date(self) -> date:
        return self.segments[0].start_date

    @property
    def end_date(self) -> date:
        return self.segments[-1].end_date


@dataclass(frozen=True)
class AddOn:
    """Something bought on top of the plan: compute minutes, storage, or add-on seats."""

    kind: AddOnKind
    quantity: int
    start_date: date
    end_date: date

    def __post_init__(self) -> None:
        _check_period(self.start_date, self.end_date, ("addOns",))
        if self.quantity < 1:
            raise ValidationFailed(
                f"add-on quantity must be at least 1, got {self.quantity}", path=("addOns",)
            )


@dataclass
class Subscription:
    """What a customer bought: plan, deployment, terms, add-ons; status is derived, never stored."""

    name: str
    customer_id: uuid.UUID
    deployment: Deployment
    plan: Plan
    channel: Channel
    terms: tuple[Term, ...]
    created_at: datetime
    partner_id: str | None = None
    auto_renew: bool = True
    licensing_mode: LicensingMode | None = None
    max_instances: int = 1
    add_ons: tuple[AddOn, ...] = ()
    reconciliation_enabled: bool = False
    cancel_at_period_end: bool = False
    cancelled_at: datetime | None = None
    namespace_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not is_subscription_name(self.name):
            raise ValidationFailed(f"{self.name!r} is not a subscription name like A-S00012345")
        if not self.terms:
            raise ValidationFailed("a subscription needs at least one term", path=("term",))
        for before, after in zip(self.terms, self.terms[1:], strict=False):
            if after.start_date != before.end_date:
                raise ValidationFailed(
                    "terms must be consecutive: a renewal starts when the previous term ends",
                    path=("term",),
                )
        if self.max_instances < 1:
            raise ValidationFailed("maxInstances must be at least 1", path=("maxInstances",))
        if self.channel.needs_partner and not self.partner_id:
            raise ValidationFailed(
                f"a {self.channel.value} subscription names the partner who sold it",
                path=("partnerId",),
            )
        if self.deployment is Deployment.GITLAB_COM:
            if self.licensing_mode is not None:
                raise ValidationFailed(
                    "a GitLab.com subscription has no licensing mode", path=("licensingMode",)
                )
        elif self.licensing_mode is None:
            self.licensing_mode = (
                LicensingMode.OFFLINE_CLOUD
                if self.deployment is Deployment.DEDICATED
                else LicensingMode.ONLINE_CLOUD
            )
        if self.plan is Plan.FREE:
            raise ValidationFailed("FREE is not sold as a subscription", path=("plan",))

    @property
    def start_date(self) -> date:
        return self.terms[0].start_date

    @property
    def end_date(self) -> date:
        return self.terms[-1].end_date

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(segment for term in self.terms for segment in term.segments)

    # --- changes ---------------------------------------------------------------------------

    def cancel(self, *, at_period_end: bool, now: datetime, today: date) -> None:
        """At period end: stays ACTIVE until the term ends, then expires, never renews.
        Now: CANCELLED at once."""
        if self.cancelled_at is not None or (self.cancel_at_period_end and at_period_end):
            raise SubscriptionAlreadyCancelled("the subscription is already cancelled")
        if self.status(today) is SubscriptionStatus.EXPIRED:
            raise SubscriptionNotActive("an expired subscription cannot be cancelled")
        self.auto_renew = False
        if at_period_end:
            self.cancel_at_period_end = True
        else:
            self.cancelled_at = now

    def _require_changeable(self, today: date) -> None:
        if self.status(today) in (SubscriptionStatus.EXPIRED, SubscriptionStatus.CANCELLED):
            raise SubscriptionNotActive(
                f"the subscription is {self.status(today).value.lower()}; it cannot change"
            )

    def renew(self, term: Term, today: date) -> None:
        """Add a term that starts when the last one ends."""
        self._require_changeable(today)
        if self.cancel_at_period_end:
            raise SubscriptionAlreadyCancelled("the subscription is cancelled at period end")
        if term.start_date != self.end_date:
            raise ValidationFailed(
                f"a renewal starts when the current term ends ({self.end_date.isoformat()})",
                path=("term",),
            )
        self.terms = (*self.terms, term)

    def change_seats(self, seats: int, today: date, segment_start: date | None = None) -> Segment:
        """Set the seats of the current segment (or of the future one starting on
        ``segment_start``); past segments are history and do not change."""
        self._require_changeable(today)
        target = self.current_segment(today) if segment_start is None else None
        for segment in self.segments:
            if segment_start is not None and segment.start_date == segment_start:
                target = segment
        if target is None:
            raise ValidationFailed("no segment starts on that date", path=("segmentStartDate",))
        if target.end_date <= today:
            raise ValidationFailed("a past segment cannot change", path=("segmentStartDate",))
        changed = Segment(target.start_date, target.end_date, seats)
        self.terms = tuple(
            Term(tuple(changed if s is target else s for s in term.segments)) for term in self.terms
        )
        return changed

    def status(self, today: date) -> SubscriptionStatus:
        if self.cancelled_at is not None:
            return SubscriptionStatus.CANCELLED
        if today < self.start_date:
            return SubscriptionStatus.PENDING
        if today >= self.end_date:
            return SubscriptionStatus.EXPIRED
        return SubscriptionStatus.ACTIVE

    @property
    def will_renew(self) -> bool:
        """Whether a new term follows the last one: auto-renewal on and not cancelled at
        period end (cancelling switches auto-renewal off as well)."""
        return self.auto_renew and not self.cancel_at_period_end

    def ends_without_renewal(self, first: date, last: date) -> bool:
        """Not cancelled now, will not renew, and its last term ends in ``[first, last]``
        (both included): what the expiry reminder is for. SQL states it again in
        ``PostgresSubscriptions.ending_without_renewal``."""
        return self.cancelled_at is None and not self.will_renew and first <= self.end_date <= last

    def future_terms(self, today: date) -> tuple[Term, ...]:
        """Terms that start after today (renewals already bought)."""
        return tuple(term for term in self.terms if term.start_date > today)

    def current_term(self, today: date) -> Term:
        """The term containing today; before the start the first, after the end the last."""
        for term in self.terms:
            if term.start_date <= today < term.end_date:
                return term
        return self.terms[0] if today < self.start_date else self.terms[-1]

    def current_segment(self, today: date) -> Segment:
        """The segment containing today; before the start the first, after the end the last."""
        for segment in self.segments:
            if segment.covers(today):
                return segment
        if today < self.terms[0].segments[0].start_date:
            return self.terms[0].segments[0]
        return self.terms[-1].segments[-1]

    def seats(self, today: date) -> int:
        """Seats are those of the current segment (a ramp deal's seats change over time)."""
        return self.current_segment(today).seats

    def overage(self, max_seats_used: int, today: date) -> int:
        return max(0, max_seats_used - self.seats(today))

    def next_reconciliation_date(self, today: date) -> date | None:
        """With quarterly reconciliation, the next quarter boundary of the current term."""
        if not self.reconciliation_enabled or self.status(today) is not SubscriptionStatus.ACTIVE:
            return None
        term = self.current_term(today)
        quarter = 1
        while True:
            candidate = add_months(term.start_date, QUARTER_MONTHS * quarter)
            if candidate >= term.end_date:
                return None
            if candidate > today:
                return candidate
            quarter += 1
