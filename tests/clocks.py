"""Clocks for tests that run the app: anchored at the factories' "now", never the calendar.

A test that builds data from ``factories.NOW`` must run the code under test on a clock that
reads the same instant, or its data ages with the real calendar (a "pending" subscription
becomes active on the day it starts). ``TickingClock`` starts at an anchor and moves with the
monotonic clock, so leases, backoffs and token lifetimes still pass, while dates stay those
of the anchor (the factories anchor at noon UTC: a run crossing midnight changes nothing).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from factories import NOW


class TickingClock:
    """A ``domain.ports.Clock`` reading ``anchor`` plus the time elapsed since it was made."""

    def __init__(self, anchor: datetime) -> None:
        if anchor.tzinfo is None or anchor.utcoffset() is None:
            raise ValueError("TickingClock needs a timezone-aware anchor")
        self._anchor = anchor.astimezone(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._anchor + timedelta(seconds=time.monotonic() - self._started)

    def today(self) -> date:
        return self.now().date()

    def advance(self, delta: timedelta) -> None:
        """Jump ahead (or back, with a negative delta) and keep ticking from there."""
        self._anchor += delta


# The clock of the session's e2e app (tests/e2e/conftest.py); helpers that stamp rows the app
# reads (tests/e2e/ledger_rows.py) take their time from it.
SESSION_CLOCK = TickingClock(NOW)
