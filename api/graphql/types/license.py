"""The License and Instance types, and the future terms an instance is told of (self-managed)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import LicensingMode, Plan, api_enum
from api.graphql.resolve import load_then, present
from api.graphql.types.node import Node
from domain.model import future_subscription
from domain.model import instance as instance_model
from persistence.views import LicenseView

if TYPE_CHECKING:
    from api.graphql.types.subscription import SubscriptionNode

_SUBSCRIPTION = "api.graphql.types.subscription"


def _subscription(
    info: Info, subscription_id: uuid.UUID
) -> SubscriptionNode | Awaitable[SubscriptionNode]:
    from api.graphql.types.subscription import subscription_node

    return load_then(
        info.context.loaders.subscriptions,
        subscription_id,
        lambda s: subscription_node(present(s, "subscription"), info.context),
    )


@strawberry.type(name="License", description="A signed statement of what an instance may use.")
class LicenseNode(Node):
    _global_type = "License"
    # Fields read the entity when asked: a page builds one small object per license.
    entity: strawberry.Private[LicenseView]

    @strawberry.field(description="Online cloud, offline cloud or legacy.")
    def mode(self) -> LicensingMode:
        return api_enum(LicensingMode, self.entity.mode)

    @strawberry.field(description="The tier licensed.")
    def plan(self) -> Plan:
        return api_enum(Plan, self.entity.plan)

    @strawberry.field(description="Licensed users (`active_user_count`).")
    def seats(self) -> int:
        return self.entity.seats

    @strawberry.field(description="First day the license is valid (`issued_at`).")
    def starts_at(self) -> date:
        return self.entity.starts_at

    @strawberry.field(description="The day the license expires (exclusive).")
    def expires_at(self) -> date:
        return self.entity.expires_at

    @strawberry.field(description="Whether this is a trial license.")
    def trial(self) -> bool:
        return self.entity.trial

    @strawberry.field(
        description="Whether this is a cancellation key (`generated_from_cancellation`)."
    )
    def cancelled(self) -> bool:
        return self.entity.cancelled

    @strawberry.field(
        description="GitLab's license envelope; identical bytes until something in it changes."
    )
    def license_key(self, info: Info) -> str:
        return load_then(  # type: ignore[return-value]
            info.context.loaders.license_keys,
            self.entity.id,
            lambda key: present(key, "license key"),
        )

    @strawberry.field(description="When the license was issued.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="The subscription the license was issued for.")
    def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionNode, strawberry.lazy(_SUBSCRIPTION)]:
        return _subscription(info, self.entity.subscription_id)  # type: ignore[return-value]


@strawberry.type(description="A term that starts after the current one (GitLab's shape).")
class FutureSubscription:
    cloud_license_enabled: bool = strawberry.field(description="Online or offline cloud.")
    offline_cloud_license_enabled: bool = strawberry.field(description="Offline cloud.")
    plan: str = strawberry.field(description="premium or ultimate.")
    name: str = strawberry.field(description="The licensee's name.")
    company: str = strawberry.field(description="The licensee's company.")
    email: str = strawberry.field(description="The licensee's email.")
    starts_at: str = strawberry.field(description="YYYY-MM-DD.")
    expires_at: str = strawberry.field(description="YYYY-MM-DD (exclusive).")
    users_in_license_count: int = strawberry.field(description="Seats at the term's start.")


def future_subscription_nodes(
    futures: Iterable[future_subscription.FutureSubscription],
) -> list[FutureSubscription]:
    return [
        FutureSubscription(
            cloud_license_enabled=f.cloud_license_enabled,
            offline_cloud_license_enabled=f.offline_cloud_license_enabled,
            plan=f.plan,
            name=f.name,
            company=f.company,
            email=f.email,
            starts_at=f.starts_at.isoformat(),
            expires_at=f.expires_at.isoformat(),
            users_in_license_count=f.users_in_license_count,
        )
        for f in futures
    ]


def license_node(entity: LicenseView) -> LicenseNode:
    return LicenseNode(entity=entity)


@strawberry.type(
    name="Instance", description="A self-managed installation bound to a subscription."
)
class InstanceNode(Node):
    _global_type = "Instance"
    instance_identifier: str = strawberry.field(description="The UUID the instance sends.")
    hostname: str | None = strawberry.field(description="The hostname it last reported.")
    gitlab_version: str | None = strawberry.field(description="The version it last reported.")
    activated_at: datetime = strawberry.field(description="When it first activated.")
    last_synced_at: datetime | None = strawberry.field(description="Its last seat-link sync.")
    entity: strawberry.Private[instance_model.Instance]

    @strawberry.field(description="The subscription the instance is activated on.")
    def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionNode, strawberry.lazy(_SUBSCRIPTION)]:
        return _subscription(info, self.entity.subscription_id)  # type: ignore[return-value]


def instance_node(entity: instance_model.Instance) -> InstanceNode:
    return InstanceNode(
        instance_identifier=entity.instance_identifier,
        hostname=entity.hostname,
        gitlab_version=entity.gitlab_version,
        activated_at=entity.activated_at,
        last_synced_at=entity.last_synced_at,
        entity=entity,
    )
