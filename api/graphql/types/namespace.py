"""The Namespace and Trial types (GitLab.com)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import NamespacePlan, TrialStatus, TrialType, api_enum
from api.graphql.resolve import load_then
from api.graphql.types.node import Node
from domain.model import namespace as namespace_model
from domain.model import trial as trial_model

if TYPE_CHECKING:
    from api.graphql.types.subscription import SubscriptionNode

_SUBSCRIPTION = "api.graphql.types.subscription"


@strawberry.type(name="Namespace", description="A GitLab.com group or user namespace.")
class NamespaceNode(Node):
    _global_type = "Namespace"
    gitlab_id: int = strawberry.field(description="The namespace's id on GitLab.com.")
    path: str = strawberry.field(description="Its full path, like `acme/platform`.")
    name: str = strawberry.field(description="Its display name.")
    kind: str = strawberry.field(description="GROUP or USER.")
    parent_gitlab_id: int | None = strawberry.field(
        description="The parent group's GitLab id; null for a top-level namespace."
    )
    top_level: bool = strawberry.field(description="Whether it has no parent.")
    base_plan: NamespacePlan = strawberry.field(description="The plan it pays for, trials aside.")
    owner_gitlab_user_ids: list[int] = strawberry.field(
        description="GitLab user ids of its owners."
    )
    billable_members: int | None = strawberry.field(description="Latest billable member count.")
    max_seats_used: int | None = strawberry.field(description="Highest seat count used.")
    compute_minutes_used: int | None = strawberry.field(description="Compute minutes used.")
    storage_used_bytes: float | None = strawberry.field(description="Storage used, in bytes.")
    usage_reported_at: datetime | None = strawberry.field(
        description="When GitLab.com last reported usage."
    )
    entity: strawberry.Private[namespace_model.Namespace]
    today: strawberry.Private[date]

    @strawberry.field(description="The effective plan: the base plan, or an active trial's.")
    def plan(self, info: Info) -> NamespacePlan:
        entity, today = self.entity, self.today
        return load_then(  # type: ignore[return-value]
            info.context.loaders.trials_by_namespace,
            entity.id,
            lambda trials: api_enum(
                NamespacePlan, entity.effective_plan(list(trials or []), today)
            ),
        )

    @strawberry.field(description="Every trial the namespace had, oldest first.")
    def trials(self, info: Info) -> list[TrialNode]:
        today = self.today
        return load_then(  # type: ignore[return-value]
            info.context.loaders.trials_by_namespace,
            self.entity.id,
            lambda trials: [trial_node(t, today) for t in trials or []],
        )

    @strawberry.field(description="The paid subscription linked to the namespace.")
    def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionNode, strawberry.lazy(_SUBSCRIPTION)] | None:
        from api.graphql.types.subscription import subscription_node

        return load_then(  # type: ignore[return-value]
            info.context.loaders.subscription_by_namespace,
            self.entity.id,
            lambda s: subscription_node(s, info.context) if s else None,
        )


def namespace_node(entity: namespace_model.Namespace, today: date) -> NamespaceNode:
    usage = entity.usage
    return NamespaceNode(
        gitlab_id=entity.gitlab_id,
        path=entity.path,
        name=entity.name,
        kind=entity.kind.value,
        parent_gitlab_id=entity.parent_gitlab_id,
        top_level=entity.top_level,
        base_plan=api_enum(NamespacePlan, entity.base_plan),
        owner_gitlab_user_ids=list(entity.owner_user_ids),
        billable_members=usage.billable_members if usage else None,
        max_seats_used=usage.max_seats_used if usage else None,
        compute_minutes_used=usage.compute_minutes_used if usage else None,
        storage_used_bytes=float(usage.storage_used_bytes) if usage else None,
        usage_reported_at=usage.reported_at if usage else None,
        entity=entity,
        today=today,
    )


@strawberry.type(
    name="Trial", description="A time-boxed plan on a namespace, or a trial subscription."
)
class TrialNode(Node):
    _global_type = "Trial"
    type: TrialType = strawberry.field(description="What is being tried.")
    status: TrialStatus = strawberry.field(description="Whether the trial covers today.")
    starts_on: date = strawberry.field(description="First day of the trial.")
    ends_on: date = strawberry.field(description="First day after the trial (exclusive).")
    reverts_to: NamespacePlan | None = strawberry.field(
        description="The plan the namespace returns to when the trial ends."
    )
    extended: bool = strawberry.field(description="Whether staff extended it (once at most).")
    created_at: datetime = strawberry.field(description="When the trial was started.")
    entity: strawberry.Private[trial_model.Trial]

    @strawberry.field(description="The namespace on trial (GitLab.com trials).")
    def namespace(self, info: Info) -> NamespaceNode | None:
        if self.entity.namespace_id is None:
            return None
        today = info.context.today
        return load_then(  # type: ignore[return-value]
            info.context.loaders.namespaces,
            self.entity.namespace_id,
            lambda n: namespace_node(n, today) if n else None,
        )

    @strawberry.field(description="The trial subscription (self-managed trials).")
    def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionNode, strawberry.lazy(_SUBSCRIPTION)] | None:
        from api.graphql.types.subscription import subscription_node

        if self.entity.subscription_id is None:
            return None
        return load_then(  # type: ignore[return-value]
            info.context.loaders.subscriptions,
            self.entity.subscription_id,
            lambda s: subscription_node(s, info.context) if s else None,
        )


def trial_node(entity: trial_model.Trial, today: date) -> TrialNode:
    return TrialNode(
        type=api_enum(TrialType, entity.type),
        status=api_enum(TrialStatus, entity.status(today)),
        starts_on=entity.starts_on,
        ends_on=entity.ends_on,
        reverts_to=api_enum(NamespacePlan, entity.reverts_to) if entity.reverts_to else None,
        extended=entity.extended,
        created_at=entity.created_at,
        entity=entity,
    )
