"""reportUsage: a seat-link report over GraphQL (an instance with ``usage:write``, or staff),
answered by the same use case as ``POST /api/v1/seat_links``."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import attempt
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import (
    FutureSubscription,
    UsageReportNode,
    future_subscription_nodes,
    usage_report_node,
)
from domain.model.future_subscription import future_subscriptions
from domain.use_cases.report_usage import ReportUsage


@strawberry.input(description="Assigned seats of one add-on on the instance.")
class AddOnMetricInput:
    add_on_type: str = strawberry.field(description="GitLab's add-on name, like `duo_pro`.")
    assigned_seats: int = strawberry.field(description="Seats assigned to users.")


@strawberry.input(description="One seat-link report: the instance's users at an instant.")
class ReportUsageInput:
    license_key: str = strawberry.field(
        description="The license key the instance runs on; it names the subscription."
    )
    timestamp: datetime.datetime = strawberry.field(
        description="The instant the figures are from; with the instance, the report's"
        " identity (the same report again is stored once)."
    )
    billable_users: int = strawberry.field(description="Billable users at that instant.")
    max_historical_users: int = strawberry.field(
        description="The highest billable user count in the license term so far."
    )
    instance_identifier: str | None = strawberry.field(
        default=None, description="The instance's UUID (as sent at activation)."
    )
    hostname: str | None = strawberry.field(default=None, description="Its hostname.")
    gitlab_version: str | None = strawberry.field(default=None, description="Its version.")
    add_on_metrics: list[AddOnMetricInput] | None = strawberry.field(
        default=None, description="Assigned add-on seats."
    )


@strawberry.type(description="What a seat link answers, or why the report was refused.")
class ReportUsagePayload:
    usage_report: UsageReportNode | None = strawberry.field(
        description="The report stored; null when the same report was stored before."
    )
    recorded: bool = strawberry.field(description="Whether this call stored the report.")
    license_key: str | None = strawberry.field(
        description="A newer license key than the one sent (seat change, ramp step, renewal,"
        " cancellation); null when the instance already runs on the newest."
    )
    future_subscriptions: list[FutureSubscription] = strawberry.field(
        description="Terms that start later."
    )
    next_reconciliation_date: datetime.date | None = strawberry.field(
        description="The next quarterly seat reconciliation, when reconciliation is enabled."
    )
    display_alert_from: datetime.date | None = strawberry.field(
        description="From when GitLab shows the upcoming-reconciliation banner."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def report_usage(
    info: Info,
    input: Annotated[ReportUsageInput, strawberry.argument(description="The report.")],
) -> ReportUsagePayload:
    ctx = info.context
    command = ReportUsage(
        license_key=input.license_key,
        reported_at=input.timestamp,
        billable_users=input.billable_users,
        max_historical_users=input.max_historical_users,
        instance_identifier=input.instance_identifier,
        hostname=input.hostname,
        gitlab_version=input.gitlab_version,
        add_on_seats={m.add_on_type: m.assigned_seats for m in input.add_on_metrics or ()},
    )
    reported, errors = await attempt(ctx.commands.report_usage(command, ctx.principal))
    if reported is None:
        return ReportUsagePayload(
            usage_report=None,
            recorded=False,
            license_key=None,
            future_subscriptions=[],
            next_reconciliation_date=None,
            display_alert_from=None,
            errors=errors,
        )
    future = future_subscriptions(reported.subscription, reported.customer, reported.future_terms)
    return ReportUsagePayload(
        usage_report=usage_report_node(reported.report) if reported.recorded else None,
        recorded=reported.recorded,
        license_key=reported.new_license_key,
        future_subscriptions=future_subscription_nodes(future),
        next_reconciliation_date=reported.next_reconciliation_date,
        display_alert_from=reported.display_alert_from,
        errors=[],
    )
