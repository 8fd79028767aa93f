"""Months and years added to dates never raise, and clamp to the month's last day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.model.calendar import add_months, add_years


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2028, 2, 29), 1, date(2029, 2, 28)),
        (date(2028, 2, 29), -1, date(2027, 2, 28)),
        (date(2028, 2, 29), 4, date(2032, 2, 29)),
        (date(2027, 2, 28), 1, date(2028, 2, 28)),
        (date(2026, 11, 29), 1, date(2027, 11, 29)),
        (date(2026, 11, 29), -3, date(2023, 11, 29)),
    ],
)
def test_add_years(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 12, 31), 3, date(2027, 3, 31)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_every_day_of_a_leap_cycle_moves_without_raising() -> None:
    day = date(2027, 1, 1)
    while day < date(2031, 1, 1):
        for years in (-3, -1, 1, 2, 3):
            moved = add_years(day, years)
            assert (moved.year, moved.month) == (day.year + years, day.month)
            assert day.day - moved.day in (0, 1)
        for months in range(-13, 14):
            assert add_months(day, months).day <= day.day
        day += timedelta(days=1)
