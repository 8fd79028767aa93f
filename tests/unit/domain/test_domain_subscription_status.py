"""Subscription status and seats over time, read off a FixedClock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.model.enums import SubscriptionStatus

from builders import RAMP_END, RAMP_START, YEAR_2, YEAR_3, one_year_term, renewed, subscription
from fakes import FixedClock

ONE_DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "status"),
    [
        (RAMP_START - ONE_DAY, SubscriptionStatus.PENDING),
        (RAMP_START, SubscriptionStatus.ACTIVE),
        (YEAR_2, SubscriptionStatus.ACTIVE),
        (RAMP_END - ONE_DAY, SubscriptionStatus.ACTIVE),
        (RAMP_END, SubscriptionStatus.EXPIRED),
        (RAMP_END + timedelta(days=400), SubscriptionStatus.EXPIRED),
    ],
)
def test_status_follows_the_dates(day: date, status: SubscriptionStatus) -> None:
    clock = FixedClock.on(day)
    assert subscription().status(clock.today()) is status


def test_status_is_derived_again_as_the_clock_moves() -> None:
    sub = subscription()
    clock = FixedClock(datetime.combine(RAMP_START - ONE_DAY, datetime.max.time(), tzinfo=UTC))
    assert sub.status(clock.today()) is SubscriptionStatus.PENDING
    clock.advance(timedelta(microseconds=1))
    assert sub.status(clock.today()) is SubscriptionStatus.ACTIVE


@pytest.mark.parametrize(
    "day", [RAMP_START - ONE_DAY, RAMP_START, YEAR_3, RAMP_END - ONE_DAY, RAMP_END]
)
def test_cancelled_whenever_cancelled_at_is_set(day: date) -> None:
    clock = FixedClock.on(day)
    sub = subscription(cancelled_at=clock.now())
    assert sub.status(clock.today()) is SubscriptionStatus.CANCELLED


def test_cancel_at_period_end_stays_active_until_the_end_then_expires() -> None:
    sub = subscription(cancel_at_period_end=True)
    clock = FixedClock.on(YEAR_3)
    assert sub.status(clock.today()) is SubscriptionStatus.ACTIVE
    clock.set(RAMP_END - ONE_DAY)
    assert sub.status(clock.today()) is SubscriptionStatus.ACTIVE
    clock.set(RAMP_END)
    assert sub.status(clock.today()) is SubscriptionStatus.EXPIRED


def test_renewal_keeps_the_subscription_active_past_the_first_term() -> None:
    sub = renewed(subscription(), one_year_term(RAMP_END, date(2028, 1, 15), seats=600))
    clock = FixedClock.on(RAMP_END)
    assert sub.status(clock.today()) is SubscriptionStatus.ACTIVE
    clock.set(date(2028, 1, 15))
    assert sub.status(clock.today()) is SubscriptionStatus.EXPIRED


# Seats follow the current segment of the ramp (100 -> 250 -> 500).


@pytest.mark.parametrize(
    ("day", "seats"),
    [
        (RAMP_START - timedelta(days=30), 100),
        (RAMP_START, 100),
        (YEAR_2 - ONE_DAY, 100),
        (YEAR_2, 250),
        (YEAR_3 - ONE_DAY, 250),
        (YEAR_3, 500),
        (RAMP_END - ONE_DAY, 500),
        (RAMP_END, 500),
        (RAMP_END + timedelta(days=365), 500),
    ],
)
def test_seats_of_the_current_ramp_segment(day: date, seats: int) -> None:
    clock = FixedClock.on(day)
    assert subscription().seats(clock.today()) == seats


def test_current_segment_before_start_is_the_first_and_after_end_the_last() -> None:
    sub = subscription()
    first, *_, last = sub.segments
    assert sub.current_segment(FixedClock.on(date(2020, 1, 1)).today()) == first
    assert sub.current_segment(FixedClock.on(date(2030, 1, 1)).today()) == last


def test_seats_follow_a_renewal_term() -> None:
    sub = renewed(subscription(), one_year_term(RAMP_END, date(2028, 1, 15), seats=600))
    clock = FixedClock.on(RAMP_END - ONE_DAY)
    assert sub.seats(clock.today()) == 500
    clock.advance(ONE_DAY)
    assert sub.seats(clock.today()) == 600
    clock.set(date(2029, 6, 1))
    assert sub.seats(clock.today()) == 600


@pytest.mark.parametrize(
    ("day", "term_start"),
    [
        (date(2020, 1, 1), RAMP_START),
        (RAMP_END - ONE_DAY, RAMP_START),
        (RAMP_END, RAMP_END),
        (date(2030, 1, 1), RAMP_END),
    ],
)
def test_current_term(day: date, term_start: date) -> None:
    sub = renewed(subscription(), one_year_term(RAMP_END, date(2028, 1, 15)))
    assert sub.current_term(FixedClock.on(day).today()).start_date == term_start
