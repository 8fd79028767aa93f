"""`provision demo` on any day: its dates are computed around the clock's today and must not
raise on the days whose arithmetic lands on 29 February (``date.replace(year=…)`` did)."""

from __future__ import annotations

from datetime import date

import pytest

from api.cli.demo import seed_demo
from persistence.database import Database

from fakes import FixedClock

# Days whose demo dates (today minus 120, 200, 400 or 800 days, plus whole years) fall on a
# leap day, and the leap day itself.
DAYS = [date(2028, 2, 29), date(2028, 6, 28), date(2028, 9, 16), date(2029, 4, 4), date(2030, 5, 9)]


@pytest.mark.parametrize("day", DAYS, ids=str)
async def test_the_demo_seeds_on_days_around_a_leap_day(
    day: date, clean_db: Database, database_url: str
) -> None:
    said = await seed_demo(database_url, FixedClock.on(day))
    assert "Demo data written" in said
    assert await clean_db.fetchval("SELECT count(*) FROM subscription") == 7
    assert await clean_db.fetchval("SELECT count(*) FROM license") == 2
    assert await clean_db.fetchval("SELECT count(*) FROM usage_report") > 20
    # Every segment is a real, non-empty stretch; one that starts on 29 February ends on the
    # 28th of the year after.
    bad = await clean_db.fetchval(
        "SELECT count(*) FROM subscription_segment WHERE end_date <= start_date"
    )
    assert bad == 0
    assert await seed_demo(database_url, FixedClock.on(day)) == "The demo data is already there."
