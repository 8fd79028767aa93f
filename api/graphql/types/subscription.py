"""The Subscription type: terms, segments, add-ons, derived status and seats, children."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Context
from api.graphql.enums import (
    AddOnKind,
    Channel,
    Deployment,
    LicensingMode,
    Plan,
    SubscriptionStatus,
    api_enum,
)
from api.graphql.errors import page_size
from api.graphql.resolve import load_then, present
from api.graphql.types.license import instance_node, license_node
from api.graphql.types.node import Connection, Node, build_connection
from api.ids import parse_cursor
from domain.model import subscription as model
from domain.model.enums import Deployment as DomainDeployment
from domain.model.usage import usage_of

if TYPE_CHECKING:
    from api.graphql.types.customer import CustomerNode
    from api.graphql.types.license import InstanceNode, LicenseNode
    from api.graphql.types.namespace import NamespaceNode
    from api.graphql.types.usage import UsageType

_CUSTOMER = "api.graphql.types.customer"
_LICENSE = "api.graphql.types.license"
_NAMESPACE = "api.graphql.types.namespace"
_USAGE = "api.graphql.types.usage"


@strawberry.type(name="Segment", description="A stretch of a term with its own seat count.")
class SegmentType:
    start_date: date = strawberry.field(description="First day covered.")
    end_date: date = strawberry.field(description="First day no longer covered (exclusive).")
    seats: int = strawberry.field(description="Seats licensed during the segment.")


@strawberry.type(name="Term", description="A contract period: the purchase or one renewal.")
class TermType:
    start_date: date = strawberry.field(description="First day of the term.")
    end_date: date = strawberry.field(description="First day after the term (exclusive).")
    segments: list[SegmentType] = strawberry.field(
        description="The term's segments in date order; several make a ramp deal."
    )


@strawberry.type(name="AddOn", description="Something bought on top of the plan.")
class AddOnType:
    kind: AddOnKind = strawberry.field(description="What the add-on adds.")
    name: str = strawberry.field(description="The add-on's name, as GitLab shows it.")
    quantity: int = strawberry.field(description="How much of it (minutes, GB or seats).")
    start_date: date = strawberry.field(description="First day covered.")
    end_date: date = strawberry.field(description="First day no longer covered (exclusive).")


@strawberry.type(
    name="Subscription",
    description="What a customer bought. Status and seats are derived from the terms and today.",
)
class SubscriptionNode(Node):
    _global_type = "Subscription"
    # Fields read the entity when asked: a page builds one small object per subscription.
    entity: strawberry.Private[model.Subscription]
    # The request context: today's date and the loaders (resolvers need no info).
    context: strawberry.Private[Context]

    @strawberry.field(description="Unique name like A-S00012345, never reused.")
    def name(self) -> str:
        return self.entity.name

    @strawberry.field(description="Where the product runs.")
    def deployment(self) -> Deployment:
        return api_enum(Deployment, self.entity.deployment)

    @strawberry.field(description="The tier sold.")
    def plan(self) -> Plan:
        return api_enum(Plan, self.entity.plan)

    @strawberry.field(description="How it was sold.")
    def channel(self) -> Channel:
        return api_enum(Channel, self.entity.channel)

    @strawberry.field(description="The partner who sold it (reseller and marketplace channels).")
    def partner_id(self) -> str | None:
        return self.entity.partner_id

    @strawberry.field(description="Derived from dates and cancellation.")
    def status(self) -> SubscriptionStatus:
        return api_enum(SubscriptionStatus, self.entity.status(self.context.today))

    @strawberry.field(
        description="Cancelled at the end of the current term: active until then, no renewal."
    )
    def cancel_at_period_end(self) -> bool:
        return self.entity.cancel_at_period_end

    @strawberry.field(description="Renews by itself at the end of the term.")
    def auto_renew(self) -> bool:
        return self.entity.auto_renew

    @strawberry.field(description="How instances get their license; null for GitLab.com.")
    def licensing_mode(self) -> LicensingMode | None:
        mode = self.entity.licensing_mode
        return api_enum(LicensingMode, mode) if mode else None

    @strawberry.field(description="How many distinct instances may activate.")
    def max_instances(self) -> int:
        return self.entity.max_instances

    @strawberry.field(description="Whether quarterly seat reconciliation applies.")
    def reconciliation_enabled(self) -> bool:
        return self.entity.reconciliation_enabled

    @strawberry.field(description="First day of the first term.")
    def start_date(self) -> date:
        return self.entity.start_date

    @strawberry.field(description="First day after the last term (exclusive).")
    def end_date(self) -> date:
        return self.entity.end_date

    @strawberry.field(description="Seats of the current segment.")
    def seats(self) -> int:
        return self.entity.seats(self.context.today)

    @strawberry.field(description="When the subscription was recorded.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="The terms, in date order, with their segments.")
    def terms(self) -> list[TermType]:
        return [
            TermType(
                start_date=term.start_date,
                end_date=term.end_date,
                segments=[
                    SegmentType(start_date=s.start_date, end_date=s.end_date, seats=s.seats)
                    for s in term.segments
                ],
            )
            for term in self.entity.terms
        ]

    @strawberry.field(description="Add-ons bought on top of the plan.")
    def add_ons(self) -> list[AddOnType]:
        return [
            AddOnType(
                kind=api_enum(AddOnKind, a.kind),
                name=a.kind.value.lower(),
                quantity=a.quantity,
                start_date=a.start_date,
                end_date=a.end_date,
            )
            for a in self.entity.add_ons
        ]

    @strawberry.field(description="The customer who owns the subscription.")
    def customer(self) -> Annotated[CustomerNode, strawberry.lazy(_CUSTOMER)]:
        from api.graphql.types.customer import customer_node

        return load_then(  # type: ignore[return-value]
            self.context.loaders.customers,
            self.entity.customer_id,
            lambda c: customer_node(present(c, "customer")),
        )

    @strawberry.field(description="The linked GitLab.com namespace (GitLab.com subscriptions).")
    def namespace(self) -> Annotated[NamespaceNode, strawberry.lazy(_NAMESPACE)] | None:
        from api.graphql.types.namespace import namespace_node

        if self.entity.namespace_id is None:
            return None
        today = self.context.today
        return load_then(  # type: ignore[return-value]
            self.context.loaders.namespaces,
            self.entity.namespace_id,
            lambda n: namespace_node(n, today) if n else None,
        )

    @strawberry.field(description="Licenses issued for the subscription, oldest first.")
    def licenses(
        self,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
    ) -> Connection[Annotated[LicenseNode, strawberry.lazy(_LICENSE)]]:
        loaders, parent_id = self.context.loaders, self.entity.id
        key = (parent_id, page_size(first), parse_cursor(after))
        return load_then(  # type: ignore[return-value]
            loaders.licenses_by_subscription,
            key,
            lambda page: build_connection(
                page,
                license_node,
                after_given=after is not None,
                count=lambda: loaders.license_counts.load(parent_id),  # type: ignore[arg-type, return-value]
            ),
        )

    @strawberry.field(description="Instances activated on the subscription, oldest first.")
    def instances(
        self,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to continue after.")
        ] = None,
    ) -> Connection[Annotated[InstanceNode, strawberry.lazy(_LICENSE)]]:
        loaders, parent_id = self.context.loaders, self.entity.id
        key = (parent_id, page_size(first), parse_cursor(after))
        return load_then(  # type: ignore[return-value]
            loaders.instances_by_subscription,
            key,
            lambda page: build_connection(
                page,
                instance_node,
                after_given=after is not None,
                count=lambda: loaders.instance_counts.load(parent_id),  # type: ignore[arg-type, return-value]
            ),
        )

    @strawberry.field(
        description="The latest usage: seat link for instances, GitLab.com's report for groups."
    )
    def usage(self) -> Annotated[UsageType, strawberry.lazy(_USAGE)] | None:
        from api.graphql.types.usage import UsageType

        entity, today = self.entity, self.context.today
        if entity.deployment is DomainDeployment.GITLAB_COM:
            if entity.namespace_id is None:
                return None

            def from_namespace(namespace: object) -> UsageType | None:
                usage = getattr(namespace, "usage", None)
                if usage is None:
                    return None
                return UsageType.from_domain(
                    usage_of(
                        entity,
                        usage.billable_members,
                        usage.max_seats_used,
                        usage.reported_at,
                        today,
                    )
                )

            return load_then(  # type: ignore[return-value]
                self.context.loaders.namespaces, entity.namespace_id, from_namespace
            )

        def from_report(report: object) -> UsageType | None:
            if report is None:
                return None
            return UsageType.from_domain(
                usage_of(
                    entity,
                    report.billable_users,  # type: ignore[attr-defined]
                    report.max_historical_users,  # type: ignore[attr-defined]
                    report.reported_at,  # type: ignore[attr-defined]
                    today,
                )
            )

        return load_then(  # type: ignore[return-value]
            self.context.loaders.latest_usage, entity.id, from_report
        )


def subscription_node(entity: model.Subscription, context: Context) -> SubscriptionNode:
    return SubscriptionNode(entity=entity, context=context)
