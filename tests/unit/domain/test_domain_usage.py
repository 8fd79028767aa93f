"""Usage: overage against the current segment's seats, and the quarterly reconciliation date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.model.subscription import Subscription
from domain.model.usage import UsageReport, usage_of

from builders import RAMP_END, RAMP_START, YEAR_2, YEAR_3, one_year_term, subscription
from fakes import FixedClock

ONE_DAY = timedelta(days=1)
SUBSCRIPTION_ID = subscription().id


@pytest.mark.parametrize(
    ("day", "max_seats_used", "overage"),
    [
        (RAMP_START, 99, 0),
        (RAMP_START, 100, 0),
        (RAMP_START, 101, 1),
        (YEAR_2 - ONE_DAY, 300, 200),
        (YEAR_2, 300, 50),
        (YEAR_3 - ONE_DAY, 300, 50),
        (YEAR_3, 300, 0),
        (RAMP_END - ONE_DAY, 520, 20),
        (RAMP_START, 0, 0),
    ],
)
def test_overage_is_max_seats_used_above_the_current_segment(
    day: date, max_seats_used: int, overage: int
) -> None:
    clock = FixedClock.on(day)
    assert subscription().overage(max_seats_used, clock.today()) == overage


def test_usage_of_reports_figures_overage_and_reconciliation() -> None:
    clock = FixedClock.on(date(2025, 2, 1))
    sub = subscription(reconciliation_enabled=True)
    usage = usage_of(
        sub, seats_in_use=240, max_seats_used=270, reported_at=clock.now(), today=clock.today()
    )
    assert usage.seats_in_use == 240
    assert usage.max_seats_used == 270
    assert usage.overage == 20
    assert usage.reported_at == clock.now()
    assert usage.next_reconciliation_date == date(2025, 4, 15)


def test_usage_of_without_a_report_or_reconciliation() -> None:
    clock = FixedClock.on(RAMP_START)
    usage = usage_of(subscription(), 0, 0, None, clock.today())
    assert (usage.overage, usage.reported_at, usage.next_reconciliation_date) == (0, None, None)


def test_usage_report_refuses_negative_counts() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    UsageReport(SUBSCRIPTION_ID, billable_users=0, max_historical_users=0, reported_at=now)
    for billable, historical in ((-1, 0), (0, -1)):
        with pytest.raises(ValidationFailed) as raised:
            UsageReport(SUBSCRIPTION_ID, billable, historical, reported_at=now)
        assert raised.value.code == "VALIDATION_FAILED"


# Quarterly reconciliation: quarter boundaries counted from the current term's start.


def reconciled(**overrides: object) -> Subscription:
    return subscription(reconciliation_enabled=True, **overrides)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (RAMP_START, date(2024, 4, 15)),
        (date(2024, 4, 14), date(2024, 4, 15)),
        (date(2024, 4, 15), date(2024, 7, 15)),
        (date(2024, 12, 1), date(2025, 1, 15)),
        (YEAR_3, date(2026, 4, 15)),
        (date(2026, 10, 14), date(2026, 10, 15)),
        (date(2026, 10, 15), None),
        (RAMP_END - ONE_DAY, None),
    ],
)
def test_next_reconciliation_date_is_the_next_quarter_boundary(
    day: date, expected: date | None
) -> None:
    clock = FixedClock.on(day)
    assert reconciled().next_reconciliation_date(clock.today()) == expected


def test_no_reconciliation_date_when_disabled() -> None:
    clock = FixedClock.on(date(2024, 2, 1))
    assert subscription().next_reconciliation_date(clock.today()) is None


@pytest.mark.parametrize(
    ("day", "why"),
    [(RAMP_START - ONE_DAY, "pending"), (RAMP_END, "expired"), (date(2030, 1, 1), "expired")],
)
def test_no_reconciliation_date_unless_active(day: date, why: str) -> None:
    assert reconciled().next_reconciliation_date(FixedClock.on(day).today()) is None, why


def test_no_reconciliation_date_once_cancelled() -> None:
    clock = FixedClock.on(date(2024, 2, 1))
    sub = reconciled(cancelled_at=clock.now())
    assert sub.next_reconciliation_date(clock.today()) is None


@pytest.mark.parametrize(
    ("term_start", "term_end", "day", "expected"),
    [
        # Nov 30 + 3 months has no Feb 30: clamp to the month's last day.
        (date(2023, 11, 30), date(2024, 11, 30), date(2023, 12, 1), date(2024, 2, 29)),
        (date(2024, 11, 30), date(2025, 11, 30), date(2024, 12, 1), date(2025, 2, 28)),
        # Quarters are counted from the term start, not from the clamped date: no drift.
        (date(2024, 11, 30), date(2025, 11, 30), date(2025, 2, 28), date(2025, 5, 30)),
        (date(2025, 5, 31), date(2026, 5, 31), date(2025, 6, 1), date(2025, 8, 31)),
        (date(2025, 5, 31), date(2026, 5, 31), date(2025, 8, 31), date(2025, 11, 30)),
    ],
)
def test_reconciliation_date_clamps_to_month_end(
    term_start: date, term_end: date, day: date, expected: date
) -> None:
    sub = reconciled(terms=(one_year_term(term_start, term_end),))
    assert sub.next_reconciliation_date(FixedClock.on(day).today()) == expected


def test_reconciliation_counts_from_the_renewal_term() -> None:
    renewal = one_year_term(RAMP_END, date(2027, 12, 1))
    sub = reconciled(terms=(subscription().terms[0], renewal))
    clock = FixedClock.on(RAMP_END)
    assert sub.next_reconciliation_date(clock.today()) == date(2027, 4, 15)
    clock.set(date(2027, 10, 15))
    assert sub.next_reconciliation_date(clock.today()) is None


def test_term_shorter_than_a_quarter_has_no_reconciliation() -> None:
    sub = reconciled(terms=(one_year_term(date(2025, 1, 1), date(2025, 4, 1)),))
    assert sub.next_reconciliation_date(FixedClock.on(date(2025, 1, 1)).today()) is None
