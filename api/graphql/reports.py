"""``Query.staffReports`` (docs/reports.md): the staff reports as GraphQL fields, one per
report, each answered by one SQL query. The root field needs ``reports:read`` (which only
staff can hold); each report checks again, through ``domain.use_cases.reports``, that the
caller reaches everything."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

import strawberry

from api.graphql.context import Info
from api.graphql.enums import (
    Channel,
    Deployment,
    InstanceRole,
    LicensingMode,
    ProvisionEventKind,
    ProvisionEventStatus,
    TrialType,
    provision_event_kind,
)
from api.graphql.errors import api_error
from domain.errors import DomainError
from domain.model import reports as model
from domain.model.reports import ReportName
from domain.use_cases.reports import ReportRequest, run_report

From = Annotated[
    date | None,
    strawberry.argument(
        name="from", description="First day of the period (UTC); 30 days before `to` if omitted."
    ),
]
To = Annotated[
    date | None,
    strawberry.argument(
        name="to", description="Day after the period (exclusive); tomorrow if omitted."
    ),
]
Limit = Annotated[
    int | None, strawberry.argument(description="At most this many rows, 1 to 10000 (100).")
]


async def _rows(info: Info, request: ReportRequest) -> Sequence[Any]:
    ctx = info.context
    try:
        return await run_report(ctx.read, ctx.clock, ctx.principal, request)
    except DomainError as error:
        raise api_error(error) from None


@strawberry.type(
    description="Orders in the period per deployment and channel, and the time to access."
)
class OrderToAccessRow:
    deployment: Deployment = strawberry.field(description="Where the product runs.")
    channel: Channel = strawberry.field(description="How it was sold.")
    ordered: int = strawberry.field(description="Subscriptions ordered (trials not counted).")
    accessed: int = strawberry.field(description="Of those, how many reached access.")
    p50_seconds: float | None = strawberry.field(description="Median seconds order to access.")
    p95_seconds: float | None = strawberry.field(description="95th percentile, in seconds.")


@strawberry.type(
    description="Ledger rows of the period that failed at least once, per step and cause."
)
class ProvisioningFailureRow:
    kind: ProvisionEventKind = strawberry.field(
        description="The step (`NAMESPACE_PROVISION`, `EMAIL`, …; a plugin's own kinds OTHER)."
    )
    cause: str = strawberry.field(description="The last error up to its first colon.")
    rows: int = strawberry.field(description="Ledger rows with this step and cause.")
    attempts: int = strawberry.field(description="Attempts the rows have made (since a retry).")
    recovered: int = strawberry.field(description="SUCCEEDED after failing.")
    failing: int = strawberry.field(description="Still being retried.")
    dead: int = strawberry.field(description="Out of attempts (DEAD).")
    resolved: int = strawberry.field(description="Closed by staff with a reason.")


@strawberry.type(description="Ledger steps waiting (PENDING, RUNNING, FAILED) or DEAD now.")
class OpenStepRow:
    kind: ProvisionEventKind = strawberry.field(
        description="The step (`NAMESPACE_PROVISION`, `EMAIL`, …; a plugin's own kinds OTHER)."
    )
    status: ProvisionEventStatus = strawberry.field(description="PENDING, RUNNING, FAILED or DEAD.")
    rows: int = strawberry.field(description="Ledger rows of this kind in this status.")
    oldest_created_at: datetime = strawberry.field(
        description="When the oldest of them was recorded."
    )
    oldest_age_seconds: float = strawberry.field(description="How long ago that was, in seconds.")


@strawberry.type(description="Active self-managed subscriptions by licensing mode.")
class LicensingAdoptionRow:
    licensing_mode: LicensingMode = strawberry.field(
        description="Online cloud, offline cloud or legacy."
    )
    subscriptions: int = strawberry.field(
        description="Active self-managed subscriptions in this mode (trials not counted)."
    )
    share: float = strawberry.field(description="Of all active self-managed ones, 0 to 1.")


@strawberry.type(description="An instance of an active subscription that stopped syncing.")
class StoppedSyncingRow:
    subscription: str = strawberry.field(description="The subscription's name (A-S…).")
    instance_identifier: str = strawberry.field(description="The identifier the instance sends.")
    hostname: str | None = strawberry.field(description="The hostname it last sent.")
    role: InstanceRole = strawberry.field(description="What the instance is for.")
    last_seen_at: datetime = strawberry.field(description="Last sync, else activation.")
    silent_days: int = strawberry.field(description="Whole days since it was last seen.")


@strawberry.type(description="An active subscription using more seats than it has.")
class SeatOverageRow:
    subscription: str = strawberry.field(description="The subscription's name (A-S…).")
    deployment: Deployment = strawberry.field(description="Where the product runs.")
    channel: Channel = strawberry.field(description="How it was sold.")
    seats: int = strawberry.field(description="Seats of the current segment.")
    max_seats_used: int = strawberry.field(description="Most seats used in the current term.")
    overage: int = strawberry.field(
        description="Seats used beyond the seats: what a true-up bills."
    )
    true_up: str = strawberry.field(
        description="When the overage is billed: `QUARTERLY_RECONCILIATION` or `ANNUAL_TRUE_UP`."
    )
    last_reported_at: datetime = strawberry.field(
        description="The latest usage report counted (in the period)."
    )


@strawberry.type(description="Trials started in the period per type, and their conversions.")
class TrialConversionRow:
    trial_type: TrialType = strawberry.field(description="The kind of trial.")
    started: int = strawberry.field(description="Trials that started in the period.")
    converted: int = strawberry.field(description="A paid subscription followed the trial.")
    conversion_rate: float = strawberry.field(description="Converted over started, 0 to 1.")


@strawberry.type(description="Reports for the provisioning and support teams (staff only).")
class StaffReports:
    @strawberry.field(description="Time from order to access, per deployment and channel.")
    async def order_to_access(
        self, info: Info, start: From = None, end: To = None
    ) -> list[OrderToAccessRow]:
        rows = await _rows(info, ReportRequest(ReportName.ORDER_TO_ACCESS, start, end))
        return [
            OrderToAccessRow(
                deployment=Deployment[r.deployment],
                channel=Channel[r.channel],
                ordered=r.ordered,
                accessed=r.accessed,
                p50_seconds=r.p50_seconds,
                p95_seconds=r.p95_seconds,
            )
            for r in rows
        ]

    @strawberry.field(description="Provisioning failures by step and cause, most first.")
    async def provisioning_failures(
        self, info: Info, start: From = None, end: To = None
    ) -> list[ProvisioningFailureRow]:
        rows = await _rows(info, ReportRequest(ReportName.PROVISIONING_FAILURES, start, end))
        return [_copy(ProvisioningFailureRow, r, kind=provision_event_kind(r.kind)) for r in rows]

    @strawberry.field(description="Steps waiting or dead now, by kind and status.")
    async def open_steps(self, info: Info) -> list[OpenStepRow]:
        rows: Sequence[model.OpenStepRow] = await _rows(info, ReportRequest(ReportName.OPEN_STEPS))
        return [
            OpenStepRow(
                kind=provision_event_kind(r.kind),
                status=ProvisionEventStatus[r.status],
                rows=r.rows,
                oldest_created_at=r.oldest_created_at,
                oldest_age_seconds=r.oldest_age_seconds,
            )
            for r in rows
        ]

    @strawberry.field(description="Cloud-licensing adoption among active self-managed ones.")
    async def licensing_adoption(self, info: Info) -> list[LicensingAdoptionRow]:
        rows = await _rows(info, ReportRequest(ReportName.LICENSING_ADOPTION))
        return [
            LicensingAdoptionRow(
                licensing_mode=LicensingMode[r.licensing_mode],
                subscriptions=r.subscriptions,
                share=r.share,
            )
            for r in rows
        ]

    @strawberry.field(description="Instances that stopped syncing, most recently silent first.")
    async def stopped_syncing(
        self,
        info: Info,
        days: Annotated[
            int, strawberry.argument(description="Silent for at least this many days (1-3650).")
        ] = 7,
        limit: Limit = None,
    ) -> list[StoppedSyncingRow]:
        request = ReportRequest(ReportName.STOPPED_SYNCING, limit=limit, days=days)
        return [
            StoppedSyncingRow(
                subscription=r.subscription,
                instance_identifier=r.instance_identifier,
                hostname=r.hostname,
                role=InstanceRole[r.role],
                last_seen_at=r.last_seen_at,
                silent_days=r.silent_days,
            )
            for r in await _rows(info, request)
        ]

    @strawberry.field(
        description="Seat overage and true-up exposure in the current term, largest first, of"
        " the subscriptions whose usage was last reported in the period (the last 7 days by"
        " default)."
    )
    async def seat_overage(
        self, info: Info, start: From = None, end: To = None, limit: Limit = None
    ) -> list[SeatOverageRow]:
        request = ReportRequest(ReportName.SEAT_OVERAGE, start, end, limit)
        return [
            SeatOverageRow(
                subscription=r.subscription,
                deployment=Deployment[r.deployment],
                channel=Channel[r.channel],
                seats=r.seats,
                max_seats_used=r.max_seats_used,
                overage=r.overage,
                true_up=r.true_up,
                last_reported_at=r.last_reported_at,
            )
            for r in await _rows(info, request)
        ]

    @strawberry.field(description="Trial starts and conversions, per trial type.")
    async def trials(
        self, info: Info, start: From = None, end: To = None
    ) -> list[TrialConversionRow]:
        rows = await _rows(info, ReportRequest(ReportName.TRIALS, start, end))
        return [
            TrialConversionRow(
                trial_type=TrialType[r.trial_type],
                started=r.started,
                converted=r.converted,
                conversion_rate=r.conversion_rate,
            )
            for r in rows
        ]


def _copy(type_: Any, row: Any, **replaced: Any) -> Any:
    fields = {name: getattr(row, name) for name in row.__dataclass_fields__}
    return type_(**(fields | replaced))


def staff_reports() -> StaffReports:
    return StaffReports()
