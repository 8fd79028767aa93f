"""The subscription's own change rules: cancel, renew, change seats."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import SubscriptionAlreadyCancelled, SubscriptionNotActive, ValidationFailed
from domain.model.enums import Channel, Deployment, Plan, SubscriptionStatus
from domain.model.subscription import Segment, Subscription, Term

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
TODAY = NOW.date()
YEARS = [date(2026, 1, 1), date(2027, 1, 1), date(2028, 1, 1), date(2029, 1, 1)]


def _ramp() -> Subscription:
    segments = tuple(
        Segment(a, b, s) for a, b, s in zip(YEARS, YEARS[1:], (10, 20, 30), strict=False)
    )
    return Subscription(
        name="A-S00010001",
        customer_id=uuid.uuid4(),
        deployment=Deployment.SELF_MANAGED,
        plan=Plan.PREMIUM,
        channel=Channel.SALES,
        terms=(Term(segments),),
        created_at=NOW,
    )


def test_cancel_at_period_end_keeps_it_active_and_stops_renewal() -> None:
    sub = _ramp()
    sub.cancel(at_period_end=True, now=NOW, today=TODAY)
    assert sub.status(TODAY) is SubscriptionStatus.ACTIVE
    assert (sub.cancel_at_period_end, sub.auto_renew) == (True, False)
    assert sub.status(YEARS[-1]) is SubscriptionStatus.EXPIRED
    with pytest.raises(SubscriptionAlreadyCancelled):
        sub.cancel(at_period_end=True, now=NOW, today=TODAY)
    sub.cancel(at_period_end=False, now=NOW, today=TODAY)  # now, after all
    assert sub.status(TODAY) is SubscriptionStatus.CANCELLED
    with pytest.raises(SubscriptionAlreadyCancelled):
        sub.cancel(at_period_end=False, now=NOW, today=TODAY)


def test_an_expired_subscription_is_not_cancelled_or_changed() -> None:
    sub = _ramp()
    later = date(2030, 1, 1)
    with pytest.raises(SubscriptionNotActive):
        sub.cancel(at_period_end=False, now=NOW, today=later)
    with pytest.raises(SubscriptionNotActive):
        sub.change_seats(5, later)


def test_renewal_starts_when_the_last_term_ends() -> None:
    sub = _ramp()
    sub.renew(Term((Segment(YEARS[-1], date(2030, 1, 1), 40),)), TODAY)
    assert len(sub.terms) == 2
    assert sub.end_date == date(2030, 1, 1)
    with pytest.raises(ValidationFailed):
        sub.renew(Term((Segment(date(2031, 1, 1), date(2032, 1, 1), 1),)), TODAY)
    sub.cancel(at_period_end=True, now=NOW, today=TODAY)
    with pytest.raises(SubscriptionAlreadyCancelled):
        sub.renew(Term((Segment(date(2030, 1, 1), date(2031, 1, 1), 1),)), TODAY)


def test_seats_change_on_the_current_or_a_future_segment_only() -> None:
    sub = _ramp()
    assert sub.change_seats(15, TODAY).seats == 15  # 2026: the current segment
    sub.change_seats(35, TODAY, segment_start=YEARS[2])
    assert [s.seats for s in sub.segments] == [15, 20, 35]
    with pytest.raises(ValidationFailed):
        sub.change_seats(5, date(2027, 6, 1), segment_start=YEARS[0])  # the past
    with pytest.raises(ValidationFailed):
        sub.change_seats(5, TODAY, segment_start=date(2026, 6, 1))  # no segment starts then
    with pytest.raises(ValidationFailed):
        sub.change_seats(0, TODAY)


def test_a_subscription_is_renewed_until_its_last_day() -> None:
    sub = _ramp()
    last_day = YEARS[-1] - timedelta(days=1)  # the end date is exclusive
    sub.renew(Term((Segment(YEARS[-1], date(2030, 1, 1), 40),)), last_day)
    assert sub.end_date == date(2030, 1, 1)


@pytest.mark.parametrize("how", ["expired", "cancelled"])
def test_an_ended_subscription_is_not_renewed(how: str) -> None:
    sub = _ramp()
    if how == "cancelled":
        sub.cancel(at_period_end=False, now=NOW, today=TODAY)
        today = TODAY
    else:
        today = YEARS[-1]  # the day the last term ends: expired from then on
    assert sub.status(today) is SubscriptionStatus(how.upper())
    with pytest.raises(SubscriptionNotActive):
        sub.renew(Term((Segment(YEARS[-1], date(2030, 1, 1), 40),)), today)
    assert sub.end_date == YEARS[-1]
