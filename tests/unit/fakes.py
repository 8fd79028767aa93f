"""In-memory stand-ins for the domain's ports, for unit tests (fakes, not mocks)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


class FixedClock:
    """A ``domain.ports.Clock`` that reads one instant until the test moves it."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._instant = instant.astimezone(UTC)

    @classmethod
    def on(cls, day: date, at: time = time(12, 0)) -> FixedClock:
        """A clock reading ``at`` (UTC) on ``day``: "on this day, at noon"."""
        return cls(datetime.combine(day, at, tzinfo=UTC))

    def now(self) -> datetime:
        return self._instant

    def today(self) -> date:
        return self._instant.date()

    def advance(self, delta: timedelta) -> None:
        self._instant += delta

    def set(self, day: date, at: time = time(12, 0)) -> None:
        self._instant = datetime.combine(day, at, tzinfo=UTC)
