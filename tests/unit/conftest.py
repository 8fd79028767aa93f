"""Unit tests: the pure domain, no database; time comes from a FixedClock."""

from __future__ import annotations

from datetime import date

import pytest

from fakes import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    """A clock stopped at noon UTC on 2025-03-01 (a day inside most fixtures' periods)."""
    return FixedClock.on(date(2025, 3, 1))
