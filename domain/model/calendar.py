"""Calendar arithmetic that cannot raise: months and years added to a date, clamped to the month.

``date.replace(year=…)`` raises on 29 February; a term that starts on a leap day ends on
28 February of the year after (the last day the month has), as billing systems do.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` (negative: back), on the same day of the month or the month's
    last day when it is shorter (31 January + 1 month = 28 or 29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years; 29 February becomes 28 February in a common year."""
    return add_months(day, 12 * years)
