"""Usage figures and seat-link usage reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.resolve import load_then
from api.graphql.types.node import Node
from domain.model import usage as model

if TYPE_CHECKING:
    from api.graphql.types.subscription import SubscriptionNode


@strawberry.type(name="Usage", description="A subscription's latest usage against its seats.")
class UsageType:
    seats_in_use: int = strawberry.field(description="Billable users (or members) now.")
    max_seats_used: int = strawberry.field(description="The highest count seen in the term.")
    overage: int = strawberry.field(description="max(0, maxSeatsUsed - seats).")
    reported_at: datetime | None = strawberry.field(description="When it was reported.")
    next_reconciliation_date: date | None = strawberry.field(
        description="The next quarterly reconciliation, when reconciliation is enabled."
    )

    @classmethod
    def from_domain(cls, usage: model.Usage) -> UsageType:
        return cls(
            seats_in_use=usage.seats_in_use,
            max_seats_used=usage.max_seats_used,
            overage=usage.overage,
            reported_at=usage.reported_at,
            next_reconciliation_date=usage.next_reconciliation_date,
        )


@strawberry.type(name="UsageReport", description="One seat-link report from an instance.")
class UsageReportNode(Node):
    _global_type = "UsageReport"
    billable_users: int = strawberry.field(description="Billable users at the time.")
    max_historical_users: int = strawberry.field(description="Highest user count in the term.")
    add_on_seats: JSON = strawberry.field(
        description="Assigned add-on seats by add-on name, as reported."
    )
    gitlab_version: str | None = strawberry.field(description="The instance's version.")
    hostname: str | None = strawberry.field(description="The instance's hostname.")
    reported_at: datetime = strawberry.field(description="When the report arrived.")
    entity: strawberry.Private[model.UsageReport]

    @strawberry.field(description="The subscription reported on.")
    def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionNode, strawberry.lazy("api.graphql.types.subscription")] | None:
        from api.graphql.types.subscription import subscription_node

        return load_then(  # type: ignore[return-value]
            info.context.loaders.subscriptions,
            self.entity.subscription_id,
            lambda s: subscription_node(s, info.context) if s else None,
        )


def usage_report_node(entity: model.UsageReport) -> UsageReportNode:
    return UsageReportNode(
        billable_users=entity.billable_users,
        max_historical_users=entity.max_historical_users,
        add_on_seats=cast(JSON, entity.add_on_seats),
        gitlab_version=entity.gitlab_version,
        hostname=entity.hostname,
        reported_at=entity.reported_at,
        entity=entity,
    )
