"""Ports: the unit tests' FixedClock keeps the Clock contract (aware UTC now, UTC today)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.ports import Clock

from fakes import FixedClock


def read(clock: Clock) -> tuple[datetime, date]:
    return clock.now(), clock.today()


def test_fixed_clock_reads_an_aware_utc_instant_and_its_date() -> None:
    now, today = read(FixedClock(datetime(2025, 3, 1, 8, 30, tzinfo=UTC)))
    assert now == datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    assert now.utcoffset() == timedelta(0)
    assert today == date(2025, 3, 1)


def test_today_is_the_utc_date_not_the_local_one() -> None:
    new_york = timezone(timedelta(hours=-5))
    now, today = read(FixedClock(datetime(2025, 3, 1, 21, 0, tzinfo=new_york)))
    assert now.tzinfo is UTC
    assert today == date(2025, 3, 2)


def test_fixed_clock_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2025, 3, 1))


def test_fixed_clock_stays_put_until_moved() -> None:
    clock = FixedClock.on(date(2025, 3, 1))
    assert clock.now() == clock.now()
    clock.advance(timedelta(hours=12))
    assert clock.today() == date(2025, 3, 2)
    clock.set(date(2030, 1, 1))
    assert clock.now() == datetime(2030, 1, 1, 12, tzinfo=UTC)
