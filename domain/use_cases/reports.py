"""Running a staff report (docs/reports.md): staff only, with the arguments checked.

The reports are aggregates over every tenant, so only a principal that reaches everything
(staff) with the ``reports:read`` scope may run one; anyone else is refused before a query
runs (FORBIDDEN for an authenticated principal, UNAUTHENTICATED for nobody)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.errors import Forbidden
from domain.model.fleet import STALE_AFTER_DAYS
from domain.model.reports import (
    SEAT_OVERAGE_PERIOD_DAYS,
    Period,
    ReportName,
    check_days,
    check_limit,
)
from domain.policy import Access, Reach, Resource, reach, require_scope
from domain.ports import Clock, StaffReports
from domain.principal import Principal


@dataclass(frozen=True)
class ReportRequest:
    """What a report is asked for; each report reads the arguments it takes."""

    name: ReportName
    start: date | None = None
    end: date | None = None
    limit: int | None = None
    days: int = STALE_AFTER_DAYS


def require_staff(principal: Principal) -> None:
    require_scope(principal, Resource.REPORTS, Access.READ)
    if reach(principal, Resource.REPORTS) is not Reach.EVERYTHING:
        raise Forbidden("reports are for staff only")


async def run_report(
    reports: StaffReports, clock: Clock, principal: Principal, request: ReportRequest
) -> Sequence[Any]:
    """The report's rows (``domain.model.reports``), in the report's order."""
    require_staff(principal)
    now, today = clock.now(), clock.today()
    name = request.name
    if name is ReportName.ORDER_TO_ACCESS:
        return await reports.report_order_to_access(Period.of(request.start, request.end, today))
    if name is ReportName.PROVISIONING_FAILURES:
        return await reports.report_provisioning_failures(
            Period.of(request.start, request.end, today)
        )
    if name is ReportName.OPEN_STEPS:
        return await reports.report_open_steps(now)
    if name is ReportName.LICENSING_ADOPTION:
        return await reports.report_licensing_adoption(today)
    if name is ReportName.STOPPED_SYNCING:
        days, limit = check_days(request.days), check_limit(request.limit)
        return await reports.report_stopped_syncing(now, days, limit)
    if name is ReportName.SEAT_OVERAGE:
        period = Period.of(request.start, request.end, today, SEAT_OVERAGE_PERIOD_DAYS)
        limit = check_limit(request.limit)
        return await reports.report_seat_overage(period, today, limit)
    return await reports.report_trials(Period.of(request.start, request.end, today))
