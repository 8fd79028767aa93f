"""What the domain derives from a subscription's dates (its status, the current segment's
seats), stated in SQL for statements that filter or compute in the database.

Each mirrors a domain method (``Subscription.status``, ``Subscription.seats``) and takes today
as a bound argument, never the database's ``CURRENT_DATE``; tests/integration/
test_rule_contract.py runs one table of cases through both. Periods are half-open: a period
runs from its start date up to, not including, its end date.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.model.enums import SubscriptionStatus


def status_condition(status: SubscriptionStatus, alias: str, today: Callable[[], str]) -> str:
    """The condition on subscription ``alias`` that holds when its status on today is
    ``status``. ``today()`` adds today's date as an argument and returns its placeholder; it
    is called only when the condition compares dates (an unused placeholder has no type)."""
    s = alias
    if status is SubscriptionStatus.CANCELLED:
        return f"{s}.cancelled_at IS NOT NULL"
    day = today()
    if status is SubscriptionStatus.PENDING:
        return f"{s}.cancelled_at IS NULL AND {s}.start_date > {day}"
    if status is SubscriptionStatus.EXPIRED:
        return f"{s}.cancelled_at IS NULL AND {s}.end_date <= {day}"
    return f"{s}.cancelled_at IS NULL AND {s}.start_date <= {day} AND {s}.end_date > {day}"


def current_seats(alias: str, today: str) -> str:
    """A scalar subquery: the seats of subscription ``alias``'s segment covering ``today``;
    before the start the first segment's, after the end the last one's. Among segments started
    by today the latest start wins, among the others the earliest, so "nearest start, started
    ones first" gives exactly that (segments are consecutive)."""
    return (
        f"(SELECT g.seats FROM subscription_segment g WHERE g.subscription = {alias}.id"
        f" ORDER BY g.start_date <= {today}::date DESC, abs(g.start_date - {today}::date)"
        " LIMIT 1)"
    )
