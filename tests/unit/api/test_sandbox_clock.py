"""The test clock's pieces without a database: ISO 8601 durations as the API and the CLI read
them, moving by calendar months, and the tenant clock reading the offset in effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.commands import Span, parse_duration
from persistence.tenant_time import TenantClock, acting_at, real_time

from factories import NOW
from fakes import FixedClock


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("P1Y", Span(months=12)),
        ("P2M10D", Span(months=2, time=timedelta(days=10))),
        ("P1W", Span(time=timedelta(weeks=1))),
        ("PT36H", Span(time=timedelta(hours=36))),
        ("P1Y2M3DT4H5M6S", Span(14, timedelta(days=3, hours=4, minutes=5, seconds=6))),
    ],
)
def test_durations_are_read_as_calendar_months_and_a_fixed_time(text: str, span: Span) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "1Y", "P-1D", "P1.5D", "soon", "P" * 50])
def test_anything_else_is_refused_naming_the_form(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        parse_duration(text)


def test_a_month_from_the_31st_is_the_last_day_of_the_next_month() -> None:
    moment = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    assert Span(months=1).after(moment) == datetime(2027, 2, 28, 9, 30, tzinfo=UTC)
    assert Span(months=12).after(datetime(2028, 2, 29, tzinfo=UTC)).date().isoformat() == (
        "2029-02-28"
    )


def test_the_tenant_clock_reads_the_offset_in_effect_and_nothing_outside_it() -> None:
    base = FixedClock(NOW)
    clock = TenantClock(base)
    assert clock.now() == base.now()
    with acting_at(timedelta(days=400)):
        assert clock.now() == base.now() + timedelta(days=400)
        assert clock.today() == (base.now() + timedelta(days=400)).date()
        assert real_time(clock.now()) == base.now()
    assert clock.now() == base.now()
    assert real_time(base.now()) == base.now()
